"""Unique-id checker: values handed out by a SEQUENCE or an IDENTITY column, through failovers.

Why: a standby promoted without the sequence's last cached range, or a demoted primary still serving,
hands out a value twice; a sequence restarted from an old state goes backwards. Ops: f "nextval" /
"identity" / "generate" / "id" (one value space per f), ok value the id (an int). Reported: every value
served twice, with both ops, their instances and the primary changes between them; and, within one
primary lineage (between two changes of writable primary), a value below one already acknowledged before
it was asked for.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from harness.checkers.model import Anomaly, Operation, Result
from harness.checkers.roles import primary_changes
from harness.history import RoleSample

ID_FS = ("nextval", "identity", "generate", "id")


def _between(changes: list[tuple[float, str, str]], a: float, b: float) -> list[str]:
    return [f"{old}->{new} at {t:.3f}" for t, old, new in changes if a <= t <= b]


def _value(op: Operation) -> Any:
    v = op.value
    return v[-1] if isinstance(v, (list, tuple)) and v else v


def check(ops: list[Operation], roles: list[RoleSample] | None = None) -> Result:
    """Judge the id ops of a history against the role samples' primary changes."""
    res = Result("unique-ids")
    ids = [o for o in ops if o.f in ID_FS and o.ok and _value(o) is not None]
    changes = primary_changes(roles or [], ids)
    times = [t for t, _o, _n in changes]
    groups: dict[tuple[str, Any], list[Operation]] = defaultdict(list)
    for o in ids:
        groups[(o.f, _value(o))].append(o)
    dups = 0
    for (f, v), same in sorted(groups.items(), key=lambda kv: repr(kv[0])):
        if len(same) < 2:
            continue
        same.sort(key=lambda o: o.invoke)
        first = same[0]
        for other in same[1:]:
            dups += 1
            fo = _between(changes, first.invoke, other.complete)
            res.add(Anomaly("duplicate-id", f"{f} {v} handed out twice: on {first.instance} and on "
                            f"{other.instance}; primary changes between: {', '.join(fo) or 'none seen'}",
                            [first, other], {"value": v, "failovers": fo}))
    back = 0
    by_lineage: dict[tuple[str, int], list[Operation]] = defaultdict(list)
    for o in ids:
        by_lineage[(o.f, bisect.bisect_right(times, o.invoke))].append(o)
    for (f, epoch), group in sorted(by_lineage.items(), key=lambda kv: repr(kv[0])):
        done = sorted(group, key=lambda o: o.complete)
        top: Operation | None = None
        k = 0
        for o in sorted(group, key=lambda o: o.invoke):
            while k < len(done) and done[k].complete < o.invoke:
                if top is None or _value(done[k]) > _value(top):
                    top = done[k]
                k += 1
            if top is not None and _value(o) < _value(top):
                back += 1
                res.add(Anomaly("backwards-id", f"{f} {_value(o)} on {o.instance} after {_value(top)} was "
                                f"acknowledged on {top.instance} in the same primary lineage #{epoch}",
                                [top, o], {"value": _value(o), "after": _value(top)}))
    res.stats = {"ids": len(ids), "duplicates": dups, "backwards": back, "primary_changes": len(changes)}
    return res
