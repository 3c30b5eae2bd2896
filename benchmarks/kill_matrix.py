"""The kill matrix: for every seeded defect of the emulator, the suite tests that fail under it.

    python benchmarks/kill_matrix.py                           # suites/, local backend, every defect
    python benchmarks/kill_matrix.py suites/failover suites/lifecycle --jobs 2
    python benchmarks/kill_matrix.py --defects switchover-drops-keepbuf,takeover-while-healthy
    python benchmarks/kill_matrix.py --from reports/kill-matrix     # re-render stored junit files

It first runs the suites with no defect (the baseline), then once per defect of the emulator's catalog
(emulator/dmemu/bugs.py, read in a subprocess: the harness never imports the emulator) with
DMEMU_BUGS=<defect> in the environment of pytest (the local backend hands it to every host process),
`-p no:randomly`, and parses each run's junit xml. A test *kills* a defect when it passes in the baseline
and fails (or errors) under the defect. Prints the matrix as Markdown (also written to --out), and exits
1 when a defect is killed by no test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "(none)"


@dataclass
class Run:
    """One pytest run: the defect it ran under and each test's outcome."""

    defect: str
    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed|failed|error|skipped
    seconds: float = 0.0
    rc: int | None = None
    note: str = ""

    def failing(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o in ("failed", "error")}

    def passing(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o == "passed"}


def catalog() -> dict[str, str]:
    """The emulator's seeded defects {name: what it breaks}, read from dmemu.bugs in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "DMEMU_BUGS"}
    out = subprocess.run([sys.executable, "-c", "import json, dmemu.bugs as b; print(json.dumps(b.CATALOG))"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"kill_matrix: cannot read the emulator's defect catalog (is the emulator installed? "
                         f"pip install -e emulator): {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def nodeid(case: ET.Element) -> str:
    """pytest's node id from a junit testcase (classname suites.failover.test_x + name)."""
    cls, name = case.get("classname", ""), case.get("name", "")
    parts = cls.split(".")
    # a test class inside the module: the module is the longest prefix that names a file
    for i in range(len(parts), 0, -1):
        path = Path(*parts[:i]).with_suffix(".py")
        if (ROOT / path).is_file():
            return "::".join([path.as_posix(), *parts[i:], name])
    return f"{cls}::{name}"


def parse_junit(path: Path) -> dict[str, str]:
    """{nodeid: outcome} from a junit xml file."""
    outcomes: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        if "error" in tags:
            outcome = "error"
        elif "failure" in tags:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        nid = nodeid(case)
        # a teardown error is reported as a second testcase with the same id: the worst outcome wins
        if outcomes.get(nid) not in ("failed", "error"):
            outcomes[nid] = outcome
    return outcomes


def run_one(defect: str, paths: list[str], backend: str, marks: str, store: Path, timeout: float,
            extra: list[str]) -> Run:
    """pytest <paths> under one defect (BASELINE = none); the junit file is kept in `store`."""
    junit = store / f"{'baseline' if defect == BASELINE else defect}.xml"
    junit.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DMEMU_BUGS"}
    if defect != BASELINE:
        env["DMEMU_BUGS"] = defect
    cmd = [sys.executable, "-m", "pytest", *paths, "-p", "no:randomly", "-q", "--dw-backend", backend,
           f"--junitxml={junit}", "-o", "junit_family=xunit1", *extra]
    if marks:
        cmd += ["-m", marks]
    t0 = time.monotonic()
    run = Run(defect)
    log = store / f"{'baseline' if defect == BASELINE else defect}.log"
    with open(log, "w", encoding="utf-8") as out:
        try:
            run.rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            run.note = f"timed out after {timeout:.0f}s"
    run.seconds = time.monotonic() - t0
    if junit.is_file():
        run.outcomes = parse_junit(junit)
    elif not run.note:
        run.note = f"no junit xml (pytest exit {run.rc}; see {log})"
    return run


def load(store: Path, defects: list[str]) -> list[Run]:
    """Runs from the junit files of an earlier invocation."""
    runs = []
    for d in [BASELINE, *defects]:
        f = store / f"{'baseline' if d == BASELINE else d}.xml"
        runs.append(Run(d, parse_junit(f)) if f.is_file() else Run(d, note=f"missing {f}"))
    return runs


def kills(baseline: Run, run: Run) -> list[str]:
    """Tests that pass in the baseline and fail under the defect."""
    return sorted(run.failing() & baseline.passing())


def render(cat: dict[str, str], baseline: Run, runs: list[Run], paths: list[str], backend: str,
           extra: list[str] | None = None) -> str:
    """The matrix as Markdown (extra: the pytest options passed through, e.g. --dw-config FILE)."""
    more = "".join(f" {a}" for a in extra or [])
    lines = [f"Kill matrix: `DMEMU_BUGS=<defect> pytest {' '.join(paths)} -p no:randomly --dw-backend {backend}{more}`",
             "", "| seeded defect | what it breaks | killed by (fails under the defect, passes without) |",
             "|---|---|---|"]
    for run in runs:
        k = kills(baseline, run)
        cell = "<br>".join(f"`{t}`" for t in k) if k else "**not killed**"
        if run.note:
            cell += f" ({run.note})"
        lines.append(f"| `{run.defect}` | {cat.get(run.defect, '')} | {cell} |")
    broken = sorted(baseline.failing())
    lines += ["", f"Baseline (no defect): {len(baseline.passing())} passed, {len(broken)} failing"
              + (f" {baseline.note}" if baseline.note else "") + (":" if broken else ".")]
    lines += [f"- `{t}`" for t in broken]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", default=["suites"], help="suite folders or files (default: suites)")
    ap.add_argument("--defects", default="", help="comma-separated defects (default: the whole catalog)")
    ap.add_argument("--dw-backend", default="local", help="backend for the runs (default: local, the fastest)")
    ap.add_argument("-m", dest="marks", default="not slow", help='pytest -m expression (default: "not slow")')
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (default 1; timing-sensitive suites)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    ap.add_argument("--store", default=str(ROOT / "reports" / "kill-matrix"), help="junit files and logs")
    ap.add_argument("--out", default=str(ROOT / "docs" / "kill-matrix.md"), help="Markdown output file")
    ap.add_argument("--from", dest="from_store", default=None, metavar="DIR",
                    help="render from the junit files in DIR instead of running pytest")
    args, extra = ap.parse_known_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    cat = catalog()
    defects = [d.strip() for d in args.defects.split(",") if d.strip()] or list(cat)
    unknown = [d for d in defects if d not in cat]
    if unknown:
        ap.error(f"unknown defect {unknown[0]!r}; the catalog has: {', '.join(cat)}")
    missing = [p for p in args.paths if not (ROOT / p.split("::")[0]).exists()]
    if missing:
        ap.error(f"no such suite path: {missing[0]}")
    if args.from_store:
        runs = load(Path(args.from_store), defects)
        baseline, runs = runs[0], runs[1:]
    else:
        store = Path(args.store)
        store.mkdir(parents=True, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {d: pool.submit(run_one, d, args.paths, args.dw_backend, args.marks, store, args.timeout,
                                      extra) for d in [BASELINE, *defects]}
            done: dict[str, Run] = {}
            for d, fut in futures.items():
                done[d] = fut.result()
                r = done[d]
                print(f"{d:32} {len(r.passing()):3} passed {len(r.failing()):3} failing  {r.seconds:6.1f}s "
                      f"{r.note}", file=sys.stderr, flush=True)
        baseline, runs = done[BASELINE], [done[d] for d in defects]
    text = render(cat, baseline, runs, args.paths, args.dw_backend, extra)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0 if all(kills(baseline, r) for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
