"""Dependency cycles between transactions and their anomaly classes (Adya's, as Elle reports them).

Why: a serializable history has an acyclic dependency graph; the edge kinds on a cycle say how strong
the violation is. Each strongly connected component is searched for the weakest-edged cycle first:
G0 (ww only), G1c (ww and wr), G-single (exactly one rw), G2 (two or more rw); a component with none of
those has a cycle only through real-time or process order. It is a real-time violation (`realtime`) when
the cycle has no rw edge (a read from the future), or one rw edge whose reader began after the chain from
the missed writer reached it, i.e. the edge into the reader is real-time or process order: the missed
write committed before the reader's first statement (a stale read, e.g. after a switchover). A one-rw
cycle entering the reader through a read of its own (wr) is G-single-realtime: a multi-statement txn
that read one key before a concurrent commit and another after a later one, which READ COMMITTED's
per-statement snapshots allow; so is G2-realtime (two or more rw edges).
"""

from __future__ import annotations

import time

import networkx as nx

from harness.checkers.model import Anomaly, Operation

DATA_EDGES = ("ww", "wr", "rw")
ORDER_EDGES = ("rt", "process")
MAX_RW_TRIES = 2000


Graph = dict  # node -> {successor: {edge kind: why}}


def add_edge(g: Graph, a: int, b: int, kind: str, why: str = "") -> None:
    """Add (or label further) the edge a -> b with `kind` ("ww", "wr", "rw", "rt" or "process")."""
    if a != b:
        g.setdefault(a, {}).setdefault(b, {}).setdefault(kind, why)


def components(g: Graph) -> list[set[int]]:
    """The strongly connected components of more than one node (iterative Tarjan: no recursion limit)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[set[int]] = []
    for root in list(g):
        if root in index:
            continue
        work = [(root, iter(g.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, succ = work[-1]
            for nxt in succ:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(g.get(nxt, ()))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.add(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(comp)
    return out


def _subgraph(g: Graph, nodes: set[int]) -> nx.DiGraph:
    sub = nx.DiGraph()
    sub.add_edges_from((a, b, {"types": types}) for a in nodes for b, types in g.get(a, {}).items() if b in nodes)
    return sub


def _view(g: nx.DiGraph, allowed: tuple[str, ...]) -> nx.DiGraph:
    return nx.subgraph_view(g, filter_edge=lambda u, v: any(t in g[u][v]["types"] for t in allowed))


def _find(g: nx.DiGraph, allowed: tuple[str, ...]) -> list[int] | None:
    try:
        edges = nx.find_cycle(_view(g, allowed))
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _v in edges]


def _single(g: nx.DiGraph, deadline: float, via: tuple[str, ...] = ("ww", "wr"),
            into: tuple[str, ...] | None = None) -> list[int] | None:
    """A cycle with exactly one rw edge: an rw edge u -> v and a path v -> u over `via` edges (ww/wr; also
    rt/process for real-time cycles) whose last edge, into u, is of a kind in `into` (any `via` kind when
    None). Edges inside one component of the `via` graph are tried first (such a path surely exists),
    then up to MAX_RW_TRIES searches, while time is left."""
    dep = _view(g, via)
    where = {n: i for i, comp in enumerate(nx.strongly_connected_components(dep)) for n in comp}
    rws = [(u, v) for u, v, data in g.edges(data=True) if "rw" in data["types"]]
    rws.sort(key=lambda e: where[e[0]] != where[e[1]])
    for tries, (u, v) in enumerate(rws):
        if tries >= MAX_RW_TRIES or time.monotonic() > deadline:
            return None
        ends = [u] if into is None else [p for p in g.predecessors(u) if _has(g, p, u, into)]
        for end in ends:
            try:
                path = nx.shortest_path(dep, v, end)
            except nx.NetworkXNoPath:
                continue
            return [u] + (path[:-1] if into is None else path)
    return None


def _has(g: nx.DiGraph, a: int, b: int, kinds: tuple[str, ...]) -> bool:
    return any(t in g[a][b]["types"] for t in kinds)


def _stale(g: nx.DiGraph, cycle: list[int], kinds: list[str]) -> bool:
    """Whether the cycle's one rw edge has its reader entered by real-time or process order."""
    i = kinds.index("rw")
    return _has(g, cycle[i - 1], cycle[i], ORDER_EDGES)


def _label(g: nx.DiGraph, a: int, b: int, allowed: tuple[str, ...]) -> str:
    types = g[a][b]["types"]
    kind = next(t for t in allowed if t in types)
    why = types[kind]
    return f"-{kind}{f'({why})' if why else ''}->"


def _describe(g: nx.DiGraph, cycle: list[int], allowed: tuple[str, ...]) -> tuple[str, list[str]]:
    parts, kinds = [], []
    for i, a in enumerate(cycle):
        b = cycle[(i + 1) % len(cycle)]
        lab = _label(g, a, b, allowed)
        kinds.append(lab[1:].split("(")[0].rstrip("->"))
        parts.append(f"T{a} {lab}")
    return " ".join(parts) + f" T{cycle[0]}", kinds


def classify(g: Graph, txns: dict[int, Operation], time_limit: float = 30.0) -> list[Anomaly]:
    """One anomaly per strongly connected component of `g` (nodes: op indexes into `txns`): its weakest
    cycle. Past `time_limit` the search for a single-rw cycle is skipped; the class of any cycle found
    still follows from its edges."""
    deadline = time.monotonic() + time_limit
    out: list[Anomaly] = []
    for scc in components(g):
        sub = _subgraph(g, scc)
        found: tuple[list[int], tuple[str, ...]] | None = None
        for allowed in (("ww",), ("ww", "wr")):
            cyc = _find(sub, allowed)
            if cyc is not None:
                found = (cyc, allowed)
                break
        if found is None:
            cyc = _single(sub, deadline)
            if cyc is not None:
                found = (cyc, DATA_EDGES)
        if found is None:
            cyc = _find(sub, DATA_EDGES)
            found = None if cyc is None else (cyc, DATA_EDGES)
        if found is None:  # only through real-time / process order: the weakest such cycle first
            for_order = ("ww", "wr") + ORDER_EDGES
            cyc = _find(sub, for_order) or _single(sub, deadline, for_order, into=ORDER_EDGES)
            found = None if cyc is None else (cyc, DATA_EDGES + ORDER_EDGES)
        if found is None:
            cyc = _find(sub, DATA_EDGES + ORDER_EDGES)
            found = None if cyc is None else (cyc, DATA_EDGES + ORDER_EDGES)
        if found is None:
            continue
        cyc, allowed = found
        text, kinds = _describe(sub, cyc, allowed)
        rws = kinds.count("rw")
        if any(k in ORDER_EDGES for k in kinds):
            kind = ("G2-realtime" if rws > 1 else "G-single-realtime" if rws and not _stale(sub, cyc, kinds)
                    else "realtime")
        else:
            kind = "G2" if rws > 1 else "G-single" if rws else "G1c" if "wr" in kinds else "G0"
        note = "" if "realtime" not in kind else f" ({rws} rw edge(s); needs real-time/process order)"
        out.append(Anomaly(kind, f"cycle of {len(cyc)} txns in a component of {len(scc)}: {text}{note}",
                           [txns[n] for n in cyc], {"cycle": cyc, "edges": kinds, "component": len(scc)}))
    return out
