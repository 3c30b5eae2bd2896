"""Reading and declaring workload histories in harness/history.py's JSONL format.

Why: the offline re-check must know which checker fits each history. The history format stays as it is
(records meta / op / role / snapshot / note / primary, which History.load already reads); one optional
record is added, {"kind": "workload", "name": ..., "params": {...}}, which History.load skips. Histories
without it are classified from their ops' `f` names. A file appended to by several runs (one `meta`
record each) is split into one history per run. Bare op dicts (the report's per-test copy) load too.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.archive import read_text
from harness.checkers.uniqueids import ID_FS
from harness.history import History, Op, RoleSample, TableSnapshot

KINDS = ("set", "bank", "list-append", "register", "unique-ids")
_OP_FIELDS = {f.name for f in dataclasses.fields(Op)}
_ROLE_FIELDS = {f.name for f in dataclasses.fields(RoleSample)}


@dataclass
class Recorded:
    """One workload run read back: its kind, parameters and the History holding ops, roles and notes."""

    source: str
    kind: str
    history: History
    params: dict[str, Any] = field(default_factory=dict)


def declare(history: History, name: str, **params: Any) -> None:
    """Write the workload record (kind and parameters, e.g. total=1000) into a live history's JSONL."""
    if name not in KINDS:
        raise ValueError(f"workload kind {name!r} is not one of {KINDS}")
    with history._lock:
        history._write({"kind": "workload", "name": name, "params": params})


def infer_kind(ops: list[Op]) -> str:
    """The workload kind a history's operation names point to (set when nothing more specific)."""
    fs = {op.f for op in ops}
    if "txn" in fs:
        return "list-append"
    if "transfer" in fs:
        return "bank"
    if fs & {"write", "cas"}:
        return "register"
    if fs & set(ID_FS):
        return "unique-ids"
    return "set"


def _apply(hist: History, rec: dict[str, Any], state: dict[str, Any]) -> None:
    kind = rec.pop("kind", None)
    if kind is None and "type" in rec and "process" in rec:
        kind = "op"
    if kind == "op":
        hist.ops.append(Op(**{k: v for k, v in rec.items() if k in _OP_FIELDS}))
    elif kind == "role":
        hist.roles.append(RoleSample(**{k: v for k, v in rec.items() if k in _ROLE_FIELDS}))
    elif kind == "snapshot":
        inst, table = rec.pop("instance"), rec.pop("table")
        hist.snapshots.setdefault(inst, {})[table] = TableSnapshot(
            rec.get("count", 0), rec.get("checksum"), rec.get("ids"))
    elif kind == "note":
        hist.notes.append(rec.get("text", ""))
    elif kind == "primary":
        hist.primary = rec.get("instance")
    elif kind == "workload":
        state["kind"] = rec.get("name")
        state["params"] = dict(rec.get("params") or {})


def load(path: str | Path) -> list[Recorded]:
    """Every run recorded in one JSONL file, plain or gzip (a new run starts at each `meta` record)."""
    path = Path(path)
    runs: list[tuple[History, dict[str, Any]]] = []
    for n, line in enumerate(read_text(path).splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash mid-write
        if not isinstance(rec, dict):
            continue
        if rec.get("kind") == "meta" or not runs:
            runs.append((History(seed=int(rec.get("seed", 0) or 0)), {"line": n + 1}))
            if rec.get("kind") == "meta":
                continue
        _apply(runs[-1][0], rec, runs[-1][1])
    out = []
    for hist, state in runs:
        if not hist.ops:
            continue
        src = str(path) if len(runs) == 1 else f"{path}:{state['line']}"
        out.append(Recorded(src, state.get("kind") or infer_kind(hist.ops), hist, state.get("params", {})))
    return out
