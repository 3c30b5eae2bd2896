"""Re-judge a run folder offline: `python -m harness.check RUN_DIR`.

Why: a run folder holds everything a verdict needs (the workload histories, role samples inside them, the
fault log), so a verdict can be re-checked, or checked with newer checkers, long after the run. Every
`history*.jsonl` under the folder is judged with the checker of its workload kind (set-full for the insert
workload); one line per history, the anomalies of those not valid, a summary. Exit 1 when any is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.checkers import judge, load


def load_faults(run_dir: Path) -> list[Any]:
    """The chaos fault log of the run (faults.jsonl), as objects with name/link/start/end."""
    out: list[Any] = []
    for path in sorted(run_dir.rglob("faults.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "start" in rec:
                out.append(SimpleNamespace(**{"name": "fault", "link": None, "end": None, **rec}))
    return out


def _overlapping(faults: list[Any], ops: list[Any]) -> list[Any]:
    if not ops:
        return []
    lo, hi = min(o.time for o in ops), max(o.time for o in ops)
    return [f for f in faults if f.start <= hi and (f.end is None or f.end >= lo)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.check", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--max-states", type=int, default=200_000, help="register search budget per key")
    ap.add_argument("--time-limit", type=float, default=10.0, help="register search seconds per history")
    ap.add_argument("--limit", type=int, default=10, help="anomalies shown per history")
    args = ap.parse_args(argv)
    if not args.run_dir.is_dir():
        print(f"{args.run_dir}: not a folder", file=sys.stderr)
        return 2
    faults = load_faults(args.run_dir)
    counts = {"valid": 0, "invalid": 0, "unknown": 0}
    for path in sorted(args.run_dir.rglob("history*.jsonl")):
        for rec in load(path):
            res = judge(rec, _overlapping(faults, rec.history.ops), max_states=args.max_states,
                        time_limit=args.time_limit)
            counts[res.verdict] = counts.get(res.verdict, 0) + 1
            where = rec.source.replace(str(args.run_dir) + "/", "", 1)
            print(f"{where} [{rec.kind}, seed {rec.history.seed}] {res.summary()}")
            if res.verdict != "valid":
                for line in res.explain(args.limit).splitlines()[1:]:
                    print(f"  {line}")
    total = sum(counts.values())
    print(f"{total} histories: {counts['valid']} valid, {counts['invalid']} invalid, {counts['unknown']} unknown")
    return 1 if counts["invalid"] else 0


if __name__ == "__main__":
    sys.exit(main())
