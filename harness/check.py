"""Re-judge a run folder offline: `python -m harness.check RUN_DIR`.

Why: a run folder holds everything a verdict needs (the workload histories, role samples inside them, the
fault log), so a verdict can be re-checked, or checked with newer checkers, long after the run. Every
`history*.jsonl` (or `.jsonl.gz`, as the run folder stores it) under the folder is judged with the checker
of its workload kind (set-full for the insert workload); one line per history, the anomalies of those not
valid, a summary. Exit 1 when any is invalid.
A history's terms (cut-offs, allowed anomaly classes: harness/checkers/terms.py; for set-full, the time
after which a suite accepts lost writes, History.check(lost_after=...)) are read from the
`<history>.terms.json` beside it, so the verdicts are the ones the report showed. `--edn DIR` also writes
each history in Jepsen's EDN history format (harness/checkers/edn.py) as DIR/<history>.edn.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.archive import histories
from harness.checkers import Recorded, edn, judge, load
from harness.checkers.terms import Terms


def load_faults(run_dir: Path) -> list[Any]:
    """The chaos fault log of the run: faults.jsonl (the last chaos session's) and the report's per-test
    faults*.json copies, without repeats, as objects with name/link/start/end."""
    recs: list[Any] = []
    for path in sorted(run_dir.rglob("faults*.json*")):
        text = path.read_text(encoding="utf-8")
        try:
            recs += json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x]
        except json.JSONDecodeError:
            continue
    seen: dict[tuple, Any] = {}
    for rec in recs:
        if isinstance(rec, dict) and "start" in rec:
            seen.setdefault((rec.get("name"), rec["start"]),
                            SimpleNamespace(**{"name": "fault", "link": None, "end": None, **rec}))
    return sorted(seen.values(), key=lambda f: f.start)


def overlapping(faults: list[Any], ops: list[Any]) -> list[Any]:
    """The faults whose window touches the span of these operations."""
    if not ops:
        return []
    lo, hi = min(o.time for o in ops), max(o.time for o in ops)
    return [f for f in faults if f.start <= hi and (f.end is None or f.end >= lo)]


def distinct(recs: Iterable[Recorded]) -> tuple[list[Recorded], int]:
    """The runs with different ops (the report's per-test copy repeats the workload's file without its
    role samples): of each set of equal ops, the one with the most role samples. Also the count dropped."""
    best: dict[tuple, Recorded] = {}
    n = 0
    for rec in recs:
        n += 1
        ops = rec.history.ops
        key = (len(ops), ops[0].time, ops[-1].time, ops[-1].process)
        if key not in best or len(rec.history.roles) > len(best[key].history.roles):
            best[key] = rec
    return list(best.values()), n - len(best)


def export_edn(rec: Recorded, faults: list[Any], out_dir: Path, run_dir: Path) -> Path:
    """Write one history (with the faults during it) as Jepsen EDN: out_dir/<path under run_dir>.edn."""
    rel = Path(rec.source.split(":")[0]).resolve().relative_to(run_dir.resolve())
    path = out_dir / rel.with_suffix(".edn")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + "\n" for x in edn.lines(rec.history, overlapping(faults, rec.history.ops))),
                    encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.check", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--max-states", type=int, default=200_000, help="register search budget per key")
    ap.add_argument("--time-limit", type=float, default=10.0, help="register search seconds per history")
    ap.add_argument("--limit", type=int, default=10, help="anomalies shown per history")
    ap.add_argument("--edn", type=Path, metavar="DIR", help="also write each history as Jepsen EDN into DIR")
    args = ap.parse_args(argv)
    if not args.run_dir.is_dir():
        print(f"{args.run_dir}: not a folder", file=sys.stderr)
        return 2
    faults = load_faults(args.run_dir)
    counts = {"valid": 0, "invalid": 0, "unknown": 0}
    recs, copies = distinct(rec for path in histories(args.run_dir) for rec in load(path))
    for rec in recs:
        terms = Terms.load(rec.source) if Path(rec.source).is_file() else None
        if terms is not None:
            rec = Recorded(rec.source, rec.kind, terms.view(rec.history), rec.params)
        res = judge(rec, overlapping(faults, rec.history.ops), max_states=args.max_states,
                    time_limit=args.time_limit)
        if terms is not None:
            res = terms.judged(res)
        if args.edn is not None:
            export_edn(rec, faults, args.edn, args.run_dir)
        counts[res.verdict] = counts.get(res.verdict, 0) + 1
        where = rec.source.replace(str(args.run_dir) + "/", "", 1)
        print(f"{where} [{rec.kind}, seed {rec.history.seed}] {res.summary()}")
        if terms is not None and terms.summary and terms.summary != res.summary():
            print(f"  the run reported: {terms.summary}")  # today's checkers judge it otherwise
        if res.verdict != "valid":
            for line in res.explain(args.limit).splitlines()[1:]:
                print(f"  {line}")
    total = sum(counts.values())
    print(f"{total} histories: {counts['valid']} valid, {counts['invalid']} invalid, {counts['unknown']} unknown"
          + (f" ({copies} copies of the same ops skipped)" if copies else ""))
    return 1 if counts["invalid"] else 0


if __name__ == "__main__":
    sys.exit(main())
