"""Pick the checker for a recorded workload run and put its verdict in the common Result shape.

Why: the offline re-check and the suites judge every kind of history the same way; today's set-full
checks (harness/checker.py) are wrapped, not rewritten, so their verdicts stay what the report shows.
"""

from __future__ import annotations

import math
from typing import Any

from harness import checker as set_checker
from harness.checkers import bank, listappend, register, uniqueids
from harness.checkers.model import Anomaly, Result, operations
from harness.checkers.records import Recorded


def _ids(xs: list[int]) -> str:
    return ", ".join(map(str, xs[:10])) + (f" ... ({len(xs)} in all)" if len(xs) > 10 else "")


def set_full(rec: Recorded, faults: list[Any]) -> Result:
    """Today's checks (set-full, divergence, two primaries) as a Result."""
    v = set_checker.check(rec.history, faults)
    res = Result("set-full", stats={"attempted": v.attempted, "acknowledged": v.acknowledged,
                                    "rto": None if v.rto is None else round(v.rto, 3)})
    if v.lost:
        res.add(Anomaly("lost", f"{len(v.lost)} acknowledged writes missing from the final read: {_ids(v.lost)}"))
    if v.unexpected:
        res.add(Anomaly("unexpected", f"{len(v.unexpected)} rows never written or reported failed: "
                        f"{_ids(v.unexpected)}"))
    if v.duplicates:
        res.add(Anomaly("duplicate", f"{len(v.duplicates)} ids read more than once: {_ids(sorted(v.duplicates))}"))
    for d in v.divergence:
        res.add(Anomaly("divergence", str(d)))
    if v.two_primaries_window > 0:
        res.add(Anomaly("two-primaries", f"{v.two_primaries_window:.3f}s in {len(v.two_primaries_windows)} "
                        f"window(s): {v.two_primaries_windows[:3]}"))
    return res


def judge(rec: Recorded, faults: list[Any] | None = None, *, max_states: int = 200_000,
          time_limit: float = 10.0) -> Result:
    """The verdict of the checker matching `rec.kind`, its anomalies annotated with the faults active."""
    faults = list(faults or [])
    if rec.kind == "set":
        return set_full(rec, faults)
    ops = operations(rec.history.ops)
    p = rec.params
    if rec.kind == "bank":
        res = bank.check(ops, p.get("total"), p.get("accounts"), p.get("initial"))
    elif rec.kind == "list-append":
        res = listappend.check(ops, roles=rec.history.roles)
    elif rec.kind == "register":
        res = register.check(ops, p.get("initial"), max_states, time_limit, rec.history.roles)
    elif rec.kind == "unique-ids":
        res = uniqueids.check(ops, rec.history.roles)
    else:
        return Result(rec.kind, "unknown", stats={"reason": f"no checker for kind {rec.kind!r}"})
    for a in res.anomalies:
        active = active_faults(faults, a.ops[0].invoke) if a.ops else []
        if active:
            a.detail["faults"] = active
            a.explanation += f" [fault active: {', '.join(active)}]"
    return res


def active_faults(faults: list[Any], at: float) -> list[str]:
    """Names of the faults (objects or dicts with name/start/end) whose span holds time `at`."""
    out = []
    for f in faults:
        get = f.get if isinstance(f, dict) else lambda k, f=f: getattr(f, k, None)
        start, end = get("start"), get("end")
        if start is not None and start <= at <= (math.inf if end is None else end):
            out.append(str(get("name")) + (f" on {get('link')}" if get("link") else ""))
    return out
