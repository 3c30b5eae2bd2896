"""Who was the writable primary when: read from the role samples of a history.

Why: several checks depend on it: unique ids must not go backwards within one primary lineage, and a
read served by the primary must see every write acknowledged before it began (a standby may lag).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from harness.checkers.model import Operation
from harness.history import RoleSample


def primary_changes(roles: list[RoleSample], ops: list[Operation] | None = None) -> list[tuple[float, str, str]]:
    """(time, old, new) each time another instance is seen as the writable primary. Without role samples,
    the serving instance of ok ops stands in, dated at the invoke of the first op it served."""
    seq = primary_samples(roles)
    if not seq and ops:
        seq = [(o.invoke, o.instance) for o in sorted(ops, key=lambda o: o.invoke) if o.ok and o.instance]
    out = []
    cur = None
    for t, inst in seq:
        if cur is not None and inst != cur:
            out.append((t, cur, inst))
        cur = inst
    return out


def primary_samples(roles: list[RoleSample]) -> list[tuple[float, str]]:
    """(time, instance) of every sample showing a writable primary, in time order."""
    return [(s.time, s.instance) for s in sorted(roles, key=lambda s: s.time) if s.writable_primary]


class PrimaryAt:
    """`primary(t)`: the instance last seen as writable primary at or before t (None: not known)."""

    def __init__(self, roles: list[RoleSample]) -> None:
        seq = primary_samples(roles)
        self.times = [t for t, _i in seq]
        self.names = [i for _t, i in seq]

    def __bool__(self) -> bool:
        return bool(self.times)

    def __call__(self, t: float) -> str | None:
        k = bisect.bisect_right(self.times, t)
        return self.names[k - 1] if k else None

    def after(self, t: float) -> str | None:
        """The instance first seen as writable primary at or after t (None: no later sample)."""
        k = bisect.bisect_left(self.times, t)
        return self.names[k] if k < len(self.times) else None


def held_to_real_time(roles: list[RoleSample] | None) -> Callable[[Operation], bool]:
    """Whether an op must see all that completed before it: yes when no role samples are known, else
    when it was served by the primary of its time (or by an instance not named). Samples are polls: an op
    is of the primary's time only when the samples on both sides of it (last before its invoke, first
    after its completion) name its instance; in a role change between two polls it is held like a
    standby's."""
    primary = PrimaryAt(roles or [])
    return lambda op: (not primary or op.instance is None or (
        primary(op.invoke) in (None, op.instance) and primary.after(op.complete) in (None, op.instance)))
