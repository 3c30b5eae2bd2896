"""Seconds each checker takes on generated valid histories, and the register search's budget behaviour.

Histories come from harness.checkers.synth (a serial execution split into concurrent ops), so every
verdict printed must be VALID; the register budget line feeds a history no search can finish and must
print UNKNOWN within its time limit.
Usage: python benchmarks/checker_speed.py [SIZE ...] [CHECKER ...]
  (default 10000 and every checker; e.g. `1000000 bank list-append`)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.checkers import bank, listappend, operations, register, synth, uniqueids  # noqa: E402
from harness.history import History  # noqa: E402

CHECKERS = {
    "bank": (lambda n: synth.bank(n, seed=1),
             lambda ops: bank.check(ops, total=1000, initial=dict.fromkeys("01234", 200))),
    "list-append": (lambda n: synth.list_append(n, seed=1, keys=8), listappend.check),
    "register": (lambda n: synth.register(n, seed=1, keys=max(3, n // 1000)), register.check),
    "unique-ids": (lambda n: synth.unique_ids(n, seed=1), uniqueids.check),
}


def _hopeless(n: int) -> History:
    """n concurrent never-completed writes, then reads of values in a scrambled order: no legal order."""
    h = History()
    for i in range(n):
        h.record(f"w{i}", "invoke", "write", ["k", i], at=0.0)
    for i in range(n):
        h.record("r", "invoke", "read", ["k", None], at=1.0 + i)
        h.record("r", "ok", "read", ["k", (i * 7) % n], at=1.5 + i)
    h.record("r", "invoke", "read", ["k", None], at=2.0 * n + 2)
    h.record("r", "ok", "read", ["k", -1], at=2.0 * n + 3)
    return h


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or [10_000]
    names = [a for a in sys.argv[1:] if not a.isdigit()] or list(CHECKERS)
    bad = 0
    for n in sizes:
        for name in names:
            gen, chk = CHECKERS[name]
            hist = gen(n)
            t0 = time.perf_counter()
            ops = operations(hist.ops)
            t1 = time.perf_counter()
            res = chk(ops)
            t2 = time.perf_counter()
            bad += res.verdict != "valid"
            print(f"{name:12s} {n:>9,d} ops: pairing {t1 - t0:7.2f}s  check {t2 - t1:7.2f}s  {res.summary()}")
    ops = operations(_hopeless(60).ops)
    for states, limit in ((50_000, 60.0), (10**9, 2.0)):
        t0 = time.perf_counter()
        res = register.check(ops, initial=0, max_states=states, time_limit=limit)
        print(f"register budget ({states:,} states, {limit:.0f}s): {res.verdict.upper()} after "
              f"{time.perf_counter() - t0:.2f}s, {res.stats['explored']:,} configurations explored")
        bad += res.verdict != "unknown"
    print("PASS" if not bad else "FAIL")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
