"""Merge the run folders of N shards (`--dw-shard i/N`) into one run folder.

    python -m harness.merge RUN_DIR... [--out DIR]

The merged folder (default: a new run id next to the first shard's folder) holds junit.xml (every
shard's test suites), signoff.json and a report.html whose sign-off table is recomputed from the merged
verdicts, measurements.json (the shards' lists concatenated, each figure tagged with its shard), env.json
(the first shard's environment plus the list of shards) and shards/<name>, a link to each shard's folder.
Exit status: 0 when the merged verdict is PASS, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from harness.report.html import CSS, measurements_html
from harness.report.runfolder import new_run_id
from harness.report.state import Measurement
from harness.signoff import SignOff


@dataclass
class Merged:
    """What merge() wrote."""

    folder: Path
    verdict: str
    tests: int


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def merge_junit(paths: list[Path]) -> ET.Element:
    """One <testsuites> with every <testsuite> of the given junit files (missing files are skipped)."""
    root = ET.Element("testsuites", name="merged shards")
    for path in paths:
        if not path.is_file():
            continue
        top = ET.parse(path).getroot()
        for suite in ([top] if top.tag == "testsuite" else top.iter("testsuite")):
            root.append(suite)
    return root


def merge_signoff(shards: list[Path]) -> tuple[SignOff, int]:
    """The sign-off over every shard's verdicts (a failure in any shard sticks), and the worst exit status."""
    signoff = SignOff()
    statuses = []
    for shard in shards:
        data = _read_json(shard / "signoff.json", {})
        statuses.append(int(data.get("exitstatus", 0)))
        for key, tally in data.get("tallies", {}).items():
            target = signoff.tallies.get(key)
            if target is None:
                continue
            for nodeid, outcome in tally.get("outcomes", {}).items():
                if target.outcomes.get(nodeid) not in ("failed", "error"):
                    target.outcomes[nodeid] = outcome
            target.pending |= set(tally.get("pending", [])) - set(target.outcomes)
    bad = [s for s in statuses if s not in (0, 5)]  # 5: a shard with no tests is fine
    return signoff, max(bad, default=0)


def _page(signoff: SignOff, exitstatus: int, measurements: list[Measurement], links: list[str]) -> str:
    shard_list = "".join(f'<li><a href="shards/{escape(n)}/report.html">{escape(n)}</a></li>' for n in links)
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>DM8 Data Watch acceptance report "
             f"— {len(links)} shards merged</title><style>{CSS}</style></head><body>",
             '<h1 id="title">DM8 Data Watch acceptance report — shards merged</h1>', '<div id="dw-top">',
             signoff.html(interrupted=exitstatus == 2, exitstatus=exitstatus),
             f"<h2>Shards</h2><ul>{shard_list}</ul>"]
    if measurements:
        parts.append(f'<section id="dw-measurements"><h2>Measurements</h2>'
                     f"{measurements_html(measurements, with_test=True)}</section>")
    parts.append("</div></body></html>")
    return "".join(parts)


def merge(shards: list[Path], out: Path | None = None) -> Merged:
    """Write the merged run folder of the given shard folders; returns it with its verdict."""
    shards = [s.resolve() for s in shards]
    for s in shards:
        if not s.is_dir():
            raise SystemExit(f"merge: {s} is not a run folder")
    folder = out or shards[0].parent / new_run_id()
    folder.mkdir(parents=True, exist_ok=False)
    junit = merge_junit([s / "junit.xml" for s in shards])
    ET.ElementTree(junit).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    signoff, exitstatus = merge_signoff(shards)
    (folder / "signoff.json").write_text(json.dumps({"exitstatus": exitstatus, "tallies": signoff.to_json()},
                                                    ensure_ascii=False, indent=1), encoding="utf-8")
    rows: list[dict] = []
    (folder / "shards").mkdir()
    names = []
    for index, s in enumerate(shards):
        name = f"{index + 1:02d}-{s.name}"
        names.append(name)
        (folder / "shards" / name).symlink_to(os.path.relpath(s, folder / "shards"))
        rows += [{**m, "shard": s.name} for m in _read_json(s / "measurements.json", [])]
    (folder / "measurements.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    env = _read_json(shards[0] / "env.json", {})
    env["shards"] = [{"run": s.name, "shard": _read_json(s / "env.json", {}).get("shard", "")} for s in shards]
    (folder / "env.json").write_text(json.dumps(env, ensure_ascii=False, indent=2), encoding="utf-8")
    measured = [Measurement(test=r.get("test", ""), name=r.get("name", ""), value=r.get("value", 0),
                            unit=r.get("unit", ""), note=r.get("note", "")) for r in rows]
    (folder / "report.html").write_text(_page(signoff, exitstatus, measured, names), encoding="utf-8")
    tests = sum(1 for _ in junit.iter("testcase"))
    verdict = signoff.overall(interrupted=exitstatus == 2)
    if verdict in ("PASS", "NOT RUN") and exitstatus in (1, 3, 4):
        verdict = "FAIL"
    return Merged(folder, verdict, tests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="the shards' run folders")
    parser.add_argument("--out", type=Path, default=None, help="the merged folder (default: a new run id)")
    args = parser.parse_args(argv)
    merged = merge(args.runs, args.out)
    print(f"merged {len(args.runs)} run folders ({merged.tests} tests): {merged.folder} — verdict {merged.verdict}")
    return 0 if merged.verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
