"""A recorded history in Jepsen's EDN history format, so Jepsen's own checkers (Elle, Knossos) can read it.

Why: Jepsen users re-check histories with their tools; one op map per line, in history order:
`{:index 0, :time 1200000, :type :invoke, :process 0, :f :txn, :value [[:append 3 7] [:r 4 nil]]}`.
:time is nanoseconds since the first event; :process a number per client (the client's name goes in
:client); :node the instance that served the op; :error its error text. Faults become :nemesis :info
ops (:f :start / :stop, :value the fault's name), role samples are left out. List-append micro-ops
become [:append k v] / [:r k list]; register values [k v]; bank maps {account balance}.
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.history import History

_KEYWORD = re.compile(r"^[A-Za-z*+!_?-][A-Za-z0-9*+!_?.-]*$")
_INT = re.compile(r"^-?\d+$")


def keyword(name: str) -> str:
    """`:name` for an identifier-like string (other characters become `-`)."""
    return ":" + re.sub(r"[^A-Za-z0-9*+!_?.-]", "-", name)


def _string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def value(v: Any) -> str:
    """An EDN form for a JSON-like value: maps with keyword (or numeric) keys, vectors, strings."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "##NaN" if math.isnan(v) else ("##Inf" if v > 0 else "##-Inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} {value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(value(x) for x in v) + "]"
    return _string(str(v))


def _key(k: Any) -> str:
    if isinstance(k, str) and _INT.match(k):
        return k  # bank accounts "0".."7": numbers, as Jepsen's bank test keys them
    if isinstance(k, str) and _KEYWORD.match(k):
        return keyword(k)
    return value(k)


def _op_value(f: str, v: Any) -> str:
    if f == "txn" and isinstance(v, list):
        return "[" + " ".join(f"[{keyword(str(m[0]))} {value(m[1])} {value(m[2])}]"
                              if isinstance(m, (list, tuple)) and len(m) == 3 else value(m) for m in v) + "]"
    return value(v)


def lines(hist: History, faults: list[Any] | None = None) -> list[str]:
    """The history (and the faults during it) as EDN op maps, one per line, in time order."""
    events: list[tuple[float, int, dict[str, str]]] = []
    procs: dict[str, int] = {}
    for n, op in enumerate(hist.ops):
        proc = procs.setdefault(op.process, len(procs))
        m = {":type": keyword(op.type), ":process": str(proc), ":f": keyword(op.f),
             ":value": _op_value(op.f, op.value), ":client": _string(op.process)}
        if op.node:
            m[":node"] = _string(op.node)
        if op.error:
            m[":error"] = _string(op.error)
        events.append((op.time, n, m))
    for f in faults or []:
        get = f.get if isinstance(f, dict) else lambda k, f=f: getattr(f, k, None)
        for at, what in ((get("start"), ":start"), (get("end"), ":stop")):
            if at is not None:
                events.append((float(at), len(events), {":type": ":info", ":process": ":nemesis", ":f": what,
                                                        ":value": _string(str(get("name")))}))
    events.sort(key=lambda e: (e[0], e[1]))
    if not events:
        return []
    t0 = events[0][0]
    out = []
    for index, (at, _n, m) in enumerate(events):
        body = {":index": str(index), ":time": str(int(round((at - t0) * 1e9))), **m}
        out.append("{" + ", ".join(f"{k} {v}" for k, v in body.items()) + "}")
    return out
