"""Wall-clock duration of each suite, as a user runs it (`pytest suites/<area>`), with per-test times.

    python benchmarks/suite_times.py                          # every suite folder, default backend
    python benchmarks/suite_times.py failover lifecycle --dw-backend local
    python benchmarks/suite_times.py failover --budget failover=300
    python benchmarks/suite_times.py --together --dw-backend docker   # the whole set as `pytest suites`
    python benchmarks/suite_times.py failover lifecycle --workers 2     # serial, then -n 2, back to back

Each suite runs in its own pytest process (so each pays its own group build, as `pytest suites/failover`
does). Prints one line per suite (tests, passed, failed, seconds, the budget verdict) and the slowest tests
from the junit xml. Exits 1 when a suite fails or goes over its budget.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# seconds (issue: `pytest suites/failover` finishes in <= 5 min, the whole set in <= 30 min)
BUDGETS = {"failover": 300.0, "total": 1800.0}


def suites_present() -> list[str]:
    """Suite folders under suites/ that contain test files."""
    return sorted(p.name for p in (ROOT / "suites").iterdir()
                  if p.is_dir() and any(p.glob("test_*.py")))


Row = tuple[float, str, str, str]  # seconds, outcome, test, suite


def junit_times(path: Path) -> list[Row]:
    """(seconds, outcome, test, suite) for each testcase of a junit file."""
    out = []
    from harness.report.trend import case_outcome

    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = case_outcome(case)
        parts = case.get("classname", "").split(".")
        suite = parts[1] if len(parts) > 1 and parts[0] == "suites" else ""
        out.append((float(case.get("time", 0) or 0), outcome, case.get("name", ""), suite))
    return out


def time_suite(names: list[str], label: str, backend: str, store: Path, extra: list[str]) -> tuple[float, list[Row], int]:
    """Run suites in one pytest process; returns (wall seconds, per-test rows, pytest exit status)."""
    junit = store / f"{label}.xml"
    junit.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *(f"suites/{n}" for n in names), "-p", "no:randomly", "-q",
           "--dw-backend", backend, f"--junitxml={junit}", *extra]
    t0 = time.monotonic()
    with open(store / f"{label}.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached pytest too: let it heal faults and remove its containers (never SIGKILL it)
            proc.send_signal(signal.SIGINT)
            proc.wait()
            raise
    wall = time.monotonic() - t0
    return wall, junit_times(junit) if junit.is_file() else [], rc


def compare_workers(names: list[str], workers: int, backend: str, store: Path, extra: list[str]) -> int:
    """One serial run and one `-n workers` run of the same suites; prints walls, outcomes and the ratio."""
    results = []
    for label, args in (("serial", extra), (f"n{workers}", [*extra, "-n", str(workers)])):
        wall, rows, rc = time_suite(names, label, backend, store, args)
        failed = sum(1 for r in rows if r[1] in ("failed", "error"))
        print(f"{label:8} {len(rows):4} tests {failed:3} failed {wall:8.1f} s  (pytest exit {rc})", flush=True)
        results.append((wall, rc))
    (serial, rc_s), (parallel, rc_p) = results
    print(f"-n {workers} / serial = {parallel / serial:.0%}")
    return 1 if rc_s or rc_p else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suites", nargs="*", help="suite names under suites/ (default: every suite folder)")
    ap.add_argument("--dw-backend", default="auto", help="backend (default auto: docker when an engine answers)")
    ap.add_argument("--budget", action="append", default=[], metavar="SUITE=SECONDS",
                    help="a time budget (default failover=300, total=1800)")
    ap.add_argument("-m", dest="marks", default=None, help='pytest -m expression (e.g. "not slow" for the quick set)')
    ap.add_argument("--store", default=str(ROOT / "reports" / "suite-times"), help="junit files and logs")
    ap.add_argument("--slowest", type=int, default=5, help="slowest tests to list per suite")
    ap.add_argument("--together", action="store_true",
                    help="one pytest process over all the suites (as `pytest suites` runs them: one group build); "
                         "per-suite seconds are then the sums of their tests' times")
    ap.add_argument("--workers", type=int, default=0, metavar="N",
                    help="time the suites together serially, then with pytest-xdist -n N (back to back), and "
                         "print both wall times and their ratio")
    args, extra = ap.parse_known_args(argv)
    budgets = dict(BUDGETS)
    for b in args.budget:
        name, _, secs = b.partition("=")
        try:
            budgets[name] = float(secs)
        except ValueError:
            ap.error(f"--budget wants SUITE=SECONDS; got {b!r}")
    names = args.suites or suites_present()
    missing = [n for n in names if not (ROOT / "suites" / n).is_dir()]
    if missing:
        ap.error(f"no suite folder suites/{missing[0]}; present: {', '.join(suites_present())}")
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    bad = False
    print(f"{'suite':14} {'tests':>5} {'passed':>6} {'failed':>6} {'seconds':>8}  budget")
    details = []
    total_wall, total_rows = 0.0, []
    pytest_args = [*(["-m", args.marks] if args.marks else []), *extra]
    if args.workers:
        return compare_workers(names, args.workers, args.dw_backend, store, pytest_args)
    if args.together:
        whole_wall, whole_rows, whole_rc = time_suite(names, "together", args.dw_backend, store, pytest_args)
    for name in names:
        if args.together:
            rows = [r for r in whole_rows if r[3] == name]
            wall, rc = sum(r[0] for r in rows), 0  # the run's own status counts once, below
        else:
            wall, rows, rc = time_suite([name], name, args.dw_backend, store, pytest_args)
        passed = sum(1 for r in rows if r[1] == "passed")
        failed = sum(1 for r in rows if r[1] in ("failed", "error"))
        budget = budgets.get(name)
        verdict = "" if budget is None else ("ok" if wall <= budget else "OVER") + f" (<= {budget:.0f}s)"
        bad |= rc != 0 or (budget is not None and wall > budget)
        print(f"{name:14} {len(rows):5} {passed:6} {failed:6} {wall:8.1f}  {verdict}", flush=True)
        details.append((name, sorted(rows, reverse=True)[:args.slowest]))
        total_wall += wall
        total_rows += rows
    if args.together:
        total_wall = whole_wall
        bad |= whole_rc != 0
    if len(names) > 1:
        budget = budgets.get("total")
        passed = sum(1 for r in total_rows if r[1] == "passed")
        failed = sum(1 for r in total_rows if r[1] in ("failed", "error"))
        verdict = "" if budget is None else ("ok" if total_wall <= budget else "OVER") + f" (<= {budget:.0f}s)"
        bad |= budget is not None and total_wall > budget
        print(f"{'total':14} {len(total_rows):5} {passed:6} {failed:6} {total_wall:8.1f}  {verdict}", flush=True)
    for name, rows in details:
        print(f"\nslowest in suites/{name}:")
        for secs, outcome, test, _suite in rows:
            print(f"  {secs:7.1f}s  {outcome:7} {test}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
