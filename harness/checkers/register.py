"""Register checker: linearizability of read / write / compare-and-set, key by key.

Why: a register that loses or reorders writes across a failover is the classic lost update. The search
is Wing and Gong's, pruned as Lowe's: repeatedly linearize one pending op that was invoked before the
earliest completion among the ok ops not yet linearized, memoizing (linearized set, value) configurations
already explored. ok ops must all be linearized; info ops (outcome unknown) may take effect any time after
their invoke or never; failed ops never happened. Each key gets a budget of explored configurations and
of time: past it the verdict is `unknown`, never a hang.

Ops: f "read" value [k, v] (v as read), "write" value [k, v], "cas" value [k, [old, new]].
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from harness.checkers.model import Anomaly, Operation, Result
from harness.checkers.roles import held_to_real_time
from harness.history import RoleSample

FS = ("read", "write", "cas")


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


def _split(op: Operation) -> tuple[Any, Any]:
    v = op.value
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return _freeze(v[0]), _freeze(v[1])
    return None, _freeze(v)


@dataclass
class KeyVerdict:
    """The outcome for one key: verdict, configurations explored and, when invalid, the stuck op."""

    key: Any
    verdict: str
    explored: int
    culprit: Operation | None = None
    state: Any = None
    linearized: int = 0
    window: list[Operation] | None = None
    prefix: int = 0


def _step(f: str, arg: Any, state: Any) -> tuple[bool, Any]:
    if f == "write":
        return True, arg
    if f == "read":
        return arg == state, state
    old, new = arg
    return (state == old), (new if state == old else state)


def _cut(ops: list[Operation], t: float) -> list[Operation]:
    """The history as it stood at time t: ops invoked by then; those still running become open-ended."""
    out = []
    for o in ops:
        if o.invoke > t:
            continue
        if o.complete > t:
            if o.f == "read":
                continue
            o = dataclasses.replace(o, type="info", complete=math.inf)
        out.append(o)
    return out


def search(ops: list[Operation], initial: Any = None, max_states: int = 200_000,
           time_limit: float = 5.0, key: Any = None) -> KeyVerdict:
    """Decide linearizability of one key's ops within the budget; when invalid, narrow it to the shortest
    non-linearizable prefix (ending at the completion of the op that cannot be placed)."""
    deadline = time.monotonic() + time_limit
    full = _search(ops, initial, max_states, time_limit, key)
    if full.verdict != "invalid":
        return full
    ends = sorted(o.complete for o in ops if o.ok)
    lo, hi, best = 0, len(ends) - 1, full
    while lo < hi:
        mid = (lo + hi) // 2
        left = deadline - time.monotonic()
        if left <= 0:
            break
        kv = _search(_cut(ops, ends[mid]), initial, max_states, left, key)
        if kv.verdict == "invalid":
            hi, best = mid, kv
        elif kv.verdict == "valid":
            lo = mid + 1
        else:
            break
    return best


def _search(ops: list[Operation], initial: Any, max_states: int, time_limit: float, key: Any) -> KeyVerdict:
    ops = sorted((o for o in ops if o.type != "fail" and not (o.f == "read" and not o.ok)),
                 key=lambda o: o.invoke)
    n = len(ops)
    inv = [o.invoke for o in ops]
    args = [_split(o)[1] for o in ops]
    required = [i for i in range(n) if ops[i].ok]
    optional = [i for i in range(n) if not ops[i].ok]
    by_comp = sorted(required, key=lambda i: ops[i].complete)
    req_mask = sum(1 << i for i in required)
    deadline = time.monotonic() + time_limit
    init = _freeze(initial)
    stack = [(0, init, 0, 0)]
    seen = {(0, init)}
    best = (0, 0, init, 0)
    while stack:
        mask, val, ptr, depth = stack.pop()
        while ptr < len(by_comp) and mask >> by_comp[ptr] & 1:
            ptr += 1
        if ptr == len(by_comp):
            return KeyVerdict(key, "valid", len(seen))
        if depth > best[0]:
            best = (depth, mask, val, ptr)
        bound = ops[by_comp[ptr]].complete
        pending = req_mask & ~mask
        j = (pending & -pending).bit_length() - 1
        cands = [i for i in optional if inv[i] <= bound and not mask >> i & 1]
        while 0 <= j < n and inv[j] <= bound:
            if ops[j].ok and not mask >> j & 1:
                cands.append(j)
            j += 1
        for i in cands:
            good, nv = _step(ops[i].f, args[i], val)
            if not good:
                continue
            nm = mask | 1 << i
            if (nm, nv) in seen:
                continue
            seen.add((nm, nv))
            stack.append((nm, nv, ptr, depth + 1))
        if len(seen) > max_states or (len(seen) & 1023 == 0 and time.monotonic() > deadline):
            return KeyVerdict(key, "unknown", len(seen))
    _depth, mask, val, ptr = best
    culprit = ops[by_comp[ptr]]
    start = min((ops[i].invoke for i in range(n) if not mask >> i & 1), default=culprit.invoke)
    window = [o for i, o in enumerate(ops) if not mask >> i & 1 and o.invoke <= culprit.complete
              and o.complete >= start]
    return KeyVerdict(key, "invalid", len(seen), culprit, val, bin(mask).count("1"), window, n)


def check(ops: list[Operation], initial: Any = None, max_states: int = 200_000,
          time_limit: float = 5.0, roles: list[RoleSample] | None = None) -> Result:
    """Judge every key's register history; `max_states` applies per key, `time_limit` to all keys. With
    `roles`, reads served by a standby (which may lag) are left out."""
    res = Result("register")
    by_key: dict[Any, list[Operation]] = defaultdict(list)
    strict = held_to_real_time(roles)
    skipped = 0
    for op in ops:
        if op.f in FS:
            if op.f == "read" and not strict(op):
                skipped += 1
                continue
            by_key[_split(op)[0]].append(op)
    deadline = time.monotonic() + time_limit
    unknown = []
    explored = 0
    for k in sorted(by_key, key=repr):
        left = max(0.0, deadline - time.monotonic())
        kv = search(by_key[k], initial, max_states, left, key=k)
        explored += kv.explored
        if kv.verdict == "unknown":
            unknown.append(k)
        elif kv.verdict == "invalid":
            c = kv.culprit
            end = "?" if math.isinf(c.complete) else f"{c.complete:.3f}"
            res.add(Anomaly("non-linearizable",
                            f"key {k}: {c.f} {_split(c)[1]!r} (#{c.index}, ended {end}) cannot be placed after "
                            f"{kv.linearized} linearized ops, register value then {kv.state!r}; the "
                            f"shortest non-linearizable prefix has {kv.prefix} ops, pending in it:",
                            kv.window or [c], {"key": k, "state": kv.state, "culprit": c.index,
                                               "prefix": kv.prefix}))
    if unknown and res.verdict == "valid":
        res.verdict = "unknown"
    res.stats = {"keys": len(by_key), "ops": sum(len(v) for v in by_key.values()), "explored": explored}
    if unknown:
        res.stats["unknown_keys"] = len(unknown)
    if skipped:
        res.stats["standby_reads_skipped"] = skipped
    return res
