"""List-append checker in the manner of Elle: dependencies inferred from list prefixes.

Why: when every write appends a unique value to a key's list and every read returns the whole list, a
read reveals the exact order of the appends before it. The longest read of a key is taken as its version
order (every other read must be a prefix of it: else "incompatible-order"). From it: ww (one append
follows another), wr (a read's last value came from that txn), rw (a read missed the next append); plus
real-time (completed before the other was invoked) and process order. Cycles are classified in
harness.checkers.cycles. Checked without a graph: stale reads (a read held to real time missing an
append acknowledged before its txn began, which a later read shows committed; apart from the cycles, where
one allowed G-single or G2 cycle in a component would hide it), G1a (a read saw a failed txn's append), G1b (a read
ended on another txn's non-final append to the key), reads going back on one instance
(non-monotonic-read), lost appends (acknowledged, absent from the version
order although a later read of the key ran), duplicates, values nobody appended, and a txn not seeing its
own appends. An info txn may have committed: its appends may appear but are never required; it joins the
graph only when one of its appends was read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import cycles
from harness.checkers.model import Anomaly, Operation, Result
from harness.checkers.roles import held_to_real_time
from harness.history import RoleSample


@dataclass
class _Reads:
    """Per key: (txn, values seen by others) for every external read of an ok txn."""

    by_key: dict[Any, list[tuple[Operation, list]]] = field(default_factory=lambda: defaultdict(list))


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _brief(lst: list, head: int = 3, tail: int = 3) -> str:
    """A long list as its first and last few values and its length."""
    if len(lst) <= head + tail + 1:
        return str(lst)
    return f"[{', '.join(map(str, lst[:head]))}, ... {', '.join(map(str, lst[-tail:]))}] ({len(lst)} values)"


def _mops(op: Operation) -> list[list]:
    v = op.value if op.ok else op.asked
    return [m for m in (v or []) if isinstance(m, (list, tuple)) and len(m) == 3]


def _index_appends(txns: list[Operation]) -> tuple[dict, dict, dict]:
    """(k, v) -> writer txn; (k, v) -> True when it was not the writer's last append to k; failed ones."""
    writer: dict[tuple, Operation] = {}
    intermediate: dict[tuple, bool] = {}
    failed: dict[tuple, Operation] = {}
    for t in txns:
        last: dict[Any, tuple] = {}
        for f, k, v in _mops(t):
            if f != "append":
                continue
            kv = (_key(k), v)
            if t.type == "fail":
                failed[kv] = t
                continue
            writer[kv] = t
            if _key(k) in last:
                intermediate[last[_key(k)]] = True
            last[_key(k)] = kv
            intermediate.setdefault(kv, False)
    return writer, intermediate, failed


def _external_reads(res: Result, txns: list[Operation]) -> _Reads:
    """Reads of ok txns with the txn's own earlier appends stripped from their tail (checked present)."""
    reads = _Reads()
    for t in txns:
        if not t.ok:
            continue
        own: dict[Any, list] = defaultdict(list)
        for f, k, v in _mops(t):
            k = _key(k)
            if f == "append":
                own[k].append(v)
            elif f == "r" and isinstance(v, list):
                mine = own.get(k, [])
                if mine and v[len(v) - len(mine):] != mine:
                    res.add(Anomaly("internal", f"T{t.index} read {k}={_brief(v)} after appending {mine} itself", [t]))
                    continue
                reads.by_key[k].append((t, list(v[: len(v) - len(mine)])))
    return reads


def _version_orders(res: Result, reads: _Reads) -> dict[Any, list]:
    orders: dict[Any, list] = {}
    for k, rs in reads.by_key.items():
        longest = max((lst for _t, lst in rs), key=len, default=[])
        orders[k] = longest
        bad = [(t, lst) for t, lst in rs if lst != longest[: len(lst)]]
        for t, lst in bad[:5]:
            holder = next(o for o, lst2 in rs if lst2 is longest)
            res.add(Anomaly("incompatible-order", f"key {k}: read {_brief(lst)} is no prefix of {_brief(longest)}", [t, holder],
                            {"key": k}))
        seen_dup: set = set()
        for t, lst in rs:
            if len(set(lst)) == len(lst):
                continue
            counts: dict[Any, int] = defaultdict(int)
            for v in lst:
                counts[v] += 1
            for v, n in counts.items():
                if n > 1 and v not in seen_dup:
                    seen_dup.add(v)
                    res.add(Anomaly("duplicate-append", f"key {k}: value {v} appears {n} times in {_brief(lst)}", [t],
                                    {"key": k, "value": v}))
    return orders


def _read_checks(res: Result, reads: _Reads, writer: dict, intermediate: dict, failed: dict) -> None:
    garbage: set = set()
    g1a: set = set()
    written: dict[Any, set] = defaultdict(set)
    for k, v in writer:
        written[k].add(v)
    for k, rs in reads.by_key.items():
        for t, lst in rs:
            for v in set(lst) - written[k]:
                kv = (k, v)
                if kv in failed and kv not in g1a:
                    g1a.add(kv)
                    res.add(Anomaly("G1a", f"T{t.index} read {k}={v}, appended by failed T{failed[kv].index}",
                                    [t, failed[kv]], {"key": k, "value": v}))
                elif kv not in failed and kv not in garbage:
                    garbage.add(kv)
                    res.add(Anomaly("garbage-read", f"T{t.index} read {k}={v}, which no txn appended", [t],
                                    {"key": k, "value": v}))
            if lst and intermediate.get((k, lst[-1])):
                w = writer[(k, lst[-1])]
                if w.index != t.index:
                    res.add(Anomaly("G1b", f"T{t.index} read {k}={_brief(lst)}, ending on T{w.index}'s intermediate "
                                    f"append {lst[-1]}", [t, w], {"key": k}))


def _monotonic_reads(res: Result, reads: _Reads) -> None:
    """Reads never go back on one instance: a read of a key invoked after another read of it on the same
    instance completed sees at least as much (a standby may lag, never go back; READ COMMITTED still
    shows every commit made before the statement). Checked apart from the cycles, where a component's
    allowed G-single cycle would hide it. One anomaly per key and instance."""
    for k, rs in reads.by_key.items():
        by_inst: dict[Any, list[tuple[Operation, list]]] = defaultdict(list)
        for t, lst in rs:
            if t.instance is not None:
                by_inst[t.instance].append((t, lst))
        for inst, group in by_inst.items():
            events = sorted([(t.complete, 0, n) for n, (t, _l) in enumerate(group) if not math.isinf(t.complete)]
                            + [(t.invoke, 1, n) for n, (t, _l) in enumerate(group)])
            best: tuple[Operation, list] | None = None
            for _at, is_invoke, n in events:
                t, lst = group[n]
                if not is_invoke:
                    if best is None or len(lst) > len(best[1]):
                        best = (t, lst)
                elif best is not None and len(lst) < len(best[1]):
                    earlier, seen = best
                    res.add(Anomaly("non-monotonic-read",
                                    f"key {k} on {inst}: T{t.index} read {_brief(lst)} after T{earlier.index} "
                                    f"had read {_brief(seen)} there (completed {earlier.complete:.3f})",
                                    [t, earlier], {"key": k, "instance": inst}))
                    break


def _lost(res: Result, reads: _Reads, orders: dict, writer: dict, strict: Callable[[Operation], bool]) -> int:
    """Acknowledged appends absent from the version order while a later-invoked read of the key ran (one
    held to real time: a lagging standby's read proves nothing)."""
    unread = 0
    present = {k: set(order) for k, order in orders.items()}
    last_read = {}
    for k, rs in reads.by_key.items():
        held = [t for t, _lst in rs if strict(t)]
        if held:
            last_read[k] = max(held, key=lambda t: t.invoke)
    for (k, v), w in writer.items():
        if not w.ok or v in present.get(k, ()):
            continue
        last = last_read.get(k)
        if last is not None and last.invoke > w.complete:
            res.add(Anomaly("lost-append", f"T{w.index} appended {k}={v} (acknowledged at {w.complete:.3f}); "
                            f"missing from every read, the last invoked at {last.invoke:.3f}", [w, last],
                            {"key": k, "value": v}))
        else:
            unread += 1
    return unread


def _stale_reads(res: Result, reads: _Reads, orders: dict, writer: dict, strict: Callable[[Operation], bool],
                 known: set[int]) -> None:
    """Every read held to real time sees each append acknowledged before its txn began (READ COMMITTED
    too: every statement sees what committed before it). Only appends some read shows committed count
    (one no read ever shows is a lost-append); a read already in a `realtime` cycle (`known`) is not
    named twice. A read is a prefix of the version order, so it misses an earlier-acknowledged append
    exactly when that append's position is at or past the read's length. One anomaly per key."""
    acked_by_key: dict[Any, list[tuple[Any, Operation]]] = defaultdict(list)
    for (key, v), w in writer.items():
        if w.ok and not math.isinf(w.complete):
            acked_by_key[key].append((v, w))
    for k, rs in reads.by_key.items():
        position = {v: i for i, v in enumerate(orders.get(k, []))}
        acked = sorted((w.complete, position[v], w) for v, w in acked_by_key.get(k, ()) if v in position)
        due, latest = 0, None  # appends acknowledged so far; the one furthest in the version order
        for t, lst in sorted(((t, lst) for t, lst in rs if strict(t)), key=lambda r: r[0].invoke):
            while due < len(acked) and acked[due][0] < t.invoke:
                if latest is None or acked[due][1] > latest[1]:
                    latest = acked[due]
                due += 1
            if latest is None or latest[1] < len(lst) or latest[2].index == t.index or t.index in known:
                continue
            missed = orders[k][latest[1]]
            if missed in lst:
                continue
            w = latest[2]
            res.add(Anomaly("stale-read", f"T{t.index} read {k}={_brief(lst)} on {t.instance or 'the primary'}, "
                            f"invoked at {t.invoke:.3f}, without T{w.index}'s append {missed} acknowledged at "
                            f"{w.complete:.3f}", [t, w], {"key": k, "value": missed}))
            break


def _frontier_edges(g: cycles.Graph, nodes: list[Operation], strict: Callable[[Operation], bool]) -> None:
    """rt edges A -> B for A completed before B was invoked, into the ops `strict` accepts, transitively
    reduced: B links to the frontier (completed ops not yet followed by a completed linked op)."""
    events = []
    for op in nodes:
        events.append((op.invoke, 1, op))
        if not math.isinf(op.complete):
            events.append((op.complete, 0, op))
    events.sort(key=lambda e: (e[0], e[1]))
    frontier: frozenset[int] = frozenset()
    preds: dict[int, frozenset[int]] = {}
    for _t, is_invoke, op in events:
        if is_invoke:
            if strict(op):
                preds[op.index] = frontier
                for p in frontier:
                    cycles.add_edge(g, p, op.index, "rt")
        else:
            frontier = (frontier - preds.get(op.index, frozenset())) | {op.index}


def _realtime(g: cycles.Graph, nodes: list[Operation], roles: list[RoleSample] | None) -> None:
    """Real-time and process order. Without role samples every op is held to real time. With them, an op
    served by the primary of its time must follow everything completed before it; an op on a standby
    only what completed before it on the same instance (a standby may lag, never go back), process order
    included (a client reading on a standby need not see its own writes made on the primary)."""
    strict = held_to_real_time(roles)
    _frontier_edges(g, nodes, strict)
    if roles:
        by_inst: dict[Any, list[Operation]] = defaultdict(list)
        for op in nodes:
            by_inst[op.instance].append(op)
        for group in by_inst.values():
            _frontier_edges(g, group, lambda op: True)
    last: dict[str, Operation] = {}
    for op in sorted(nodes, key=lambda o: o.invoke):
        prev = last.get(op.process)
        if prev is not None and not math.isinf(prev.complete) and (strict(op) or prev.instance == op.instance):
            cycles.add_edge(g, prev.index, op.index, "process")
        last[op.process] = op


def _graph(reads: _Reads, orders: dict, writer: dict, nodes: list[Operation], realtime: bool,
           roles: list[RoleSample] | None) -> cycles.Graph:
    g: cycles.Graph = {}
    inside = {op.index for op in nodes}
    for k, order in orders.items():
        ws = [writer.get((k, v)) for v in order]
        for a, b in zip(ws, ws[1:], strict=False):
            if a is not None and b is not None and a.index in inside and b.index in inside:
                cycles.add_edge(g, a.index, b.index, "ww", f"{k}")
        for t, lst in reads.by_key[k]:
            if lst:
                w = writer.get((k, lst[-1]))
                if w is not None and w.index in inside:
                    cycles.add_edge(g, w.index, t.index, "wr", f"{k}")
            if lst == order[: len(lst)] and len(lst) < len(order):
                w = ws[len(lst)]
                same = lst and ws[len(lst) - 1] is w  # an intermediate read: G1b, not an rw cycle
                if w is not None and w.index in inside and not same:
                    cycles.add_edge(g, t.index, w.index, "rw", f"{k}")
    if realtime:
        _realtime(g, nodes, roles)
    return g


def check(ops: list[Operation], realtime: bool = True, roles: list[RoleSample] | None = None) -> Result:
    """Judge a list-append history (ops with f == "txn"). `realtime=False` drops rt and process edges;
    `roles` (the history's role samples) relax real time for reads served by a standby."""
    res = Result("list-append")
    txns = [op for op in ops if op.f == "txn"]
    writer, intermediate, failed = _index_appends(txns)
    reads = _external_reads(res, txns)
    orders = _version_orders(res, reads)
    _read_checks(res, reads, writer, intermediate, failed)
    _monotonic_reads(res, reads)
    unread = _lost(res, reads, orders, writer, held_to_real_time(roles))
    observed = {writer[(k, v)].index for k, order in orders.items() for v in order if (k, v) in writer}
    nodes = [t for t in txns if t.ok or (t.type == "info" and t.index in observed)]
    g = _graph(reads, orders, writer, nodes, realtime, roles)
    found = cycles.classify(g, {t.index: t for t in nodes})
    for a in found:
        res.add(a)
    if realtime:
        named = {op.index for a in found if a.kind == "realtime" for op in a.ops}
        _stale_reads(res, reads, orders, writer, held_to_real_time(roles), named)
    res.stats = {"txns": len(txns), "ok": sum(t.ok for t in txns), "keys": len(orders),
                 "edges": sum(len(v) for v in g.values()), "unread_acked_appends": unread}
    return res
