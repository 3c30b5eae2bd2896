"""Operation histories: what every writer and reader did, when, and with what outcome (JSONL on disk).

Why: the checkers (harness/checker.py) judge client-observed behaviour, as Jepsen does. Each logical
operation is an `invoke` followed by `ok` (it happened), `fail` (it did not) or `info` (unknown: a timeout
or a broken connection mid-commit). Times are `time.monotonic()` seconds of the pytest process, the same
clock chaos.FaultRecord uses, so fault windows and operations line up. Role samples (who is a writable
primary, at which LSN) and the final per-instance snapshots are kept alongside.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OP_TYPES = ("invoke", "ok", "fail", "info")


@dataclass
class Op:
    """One history event. `f` is "add" (value = row id) or "read" (value = list of ids read)."""

    index: int
    process: str
    type: str
    f: str
    value: Any
    time: float
    error: str | None = None
    node: str | None = None


@dataclass
class RoleSample:
    """One poll of one instance: mode/status as V$INSTANCE reports them (None when unreachable)."""

    time: float
    instance: str
    mode: str | None
    status: str | None
    lsn: int | None = None

    @property
    def writable_primary(self) -> bool:
        """Accepts writes as a primary: PRIMARY (or NORMAL) mode and OPEN status."""
        return (self.mode or "").upper() in ("PRIMARY", "NORMAL") and (self.status or "").upper() == "OPEN"


@dataclass
class TableSnapshot:
    """Per-table figures computed by SQL on one instance in the final phase."""

    count: int
    checksum: int | None
    ids: list[int] | None = None


@dataclass
class FaultWindow:
    """A fault's span on the history clock (chaos.FaultRecord carries the same fields)."""

    name: str
    start: float
    end: float | None = None


@dataclass
class History:
    """A run's operations, role samples and final snapshots; appends are thread-safe and go to JSONL."""

    seed: int = 0
    path: Path | None = None
    ops: list[Op] = field(default_factory=list)
    roles: list[RoleSample] = field(default_factory=list)
    snapshots: dict[str, dict[str, TableSnapshot]] = field(default_factory=dict)
    primary: str | None = None
    faults: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
            self._write({"kind": "meta", "seed": self.seed, "wall": time.time(), "mono": time.monotonic()})

    def _write(self, rec: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(rec, default=str) + "\n")
            self._file.flush()

    def record(self, process: str, type_: str, f: str, value: Any, *, error: str | None = None,
               node: str | None = None, at: float | None = None) -> Op:
        """Append one event (invoke/ok/fail/info) stamped with the monotonic clock."""
        if type_ not in OP_TYPES:
            raise ValueError(f"op type {type_!r} is not one of {OP_TYPES}")
        with self._lock:
            op = Op(len(self.ops), process, type_, f, value, time.monotonic() if at is None else at,
                    error, node)
            self.ops.append(op)
            self._write({"kind": "op", **asdict(op)})
        return op

    def sample(self, instance: str, mode: str | None, status: str | None, lsn: int | None = None,
               at: float | None = None) -> RoleSample:
        """Append one role sample."""
        with self._lock:
            s = RoleSample(time.monotonic() if at is None else at, instance, mode, status, lsn)
            self.roles.append(s)
            self._write({"kind": "role", **asdict(s)})
        return s

    def snapshot(self, instance: str, table: str, snap: TableSnapshot) -> None:
        """Store the final figures of one table on one instance."""
        with self._lock:
            self.snapshots.setdefault(instance, {})[table] = snap
            self._write({"kind": "snapshot", "instance": instance, "table": table, **asdict(snap)})

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    # ---- queries a test asks (times are marks: points on the history's monotonic clock) -----------
    def mark(self, ahead: float = 0.0) -> float:
        """Now on the history's clock (plus `ahead` seconds): a point to compare operations against."""
        return time.monotonic() + ahead

    def acked_after(self, t: float = 0.0) -> list[Op]:
        """The writes (f == "add") acknowledged after `t`."""
        return [op for op in list(self.ops) if op.type == "ok" and op.f == "add" and op.time > t]

    def acked_before(self, t: float, ids: list[int] | None = None) -> list[int]:
        """Row ids whose write was acknowledged before `t` (only those among `ids`, when given)."""
        want = None if ids is None else set(ids)
        return sorted(op.value for op in list(self.ops) if op.type == "ok" and op.f == "add" and op.time < t
                      and (want is None or op.value in want))

    def first_ok_after(self, t: float) -> float | None:
        """When the first write after `t` was acknowledged (None if none was)."""
        return min((op.time for op in self.acked_after(t)), default=None)

    def ever_primary(self, instance: str) -> bool:
        """The role poller saw `instance` in PRIMARY mode at least once (a takeover or a split)."""
        return any(s.instance.upper() == instance.upper() and (s.mode or "").upper() == "PRIMARY"
                   for s in list(self.roles))

    def check(self, faults: list[Any] | None = None, *, lost_after: float | None = None,
              allow: tuple[str, ...] = ()):
        """Run every checker over this history (faults default to those attached by the workload).

        The suite's terms: `lost_after`, writes acknowledged from then on may be lost (a primary the group
        was leaving acknowledged them); `allow`, anomaly classes measured, not forbidden (e.g.
        "two-primaries" during a split brain). They do not change the Verdict's figures; the set-full
        verdict line under them is `verdict.judged`, stored with the terms beside the history file so
        `python -m harness.check RUN_DIR` prints the same line."""
        from harness.checker import check
        from harness.checkers.terms import set_terms

        faults = faults if faults is not None else self.faults
        verdict = check(self, faults)
        verdict.judged = set_terms(self, faults, lost_after, tuple(allow)).summary()
        return verdict

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a JSONL history back, plain or gzip (for re-analysis of a stored run)."""
        from harness.archive import read_text

        hist = cls()
        for line in read_text(Path(path)).splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            kind = rec.pop("kind")
            if kind == "meta":
                hist.seed = rec.get("seed", 0)
            elif kind == "op":
                hist.ops.append(Op(**rec))
            elif kind == "role":
                hist.roles.append(RoleSample(**rec))
            elif kind == "snapshot":
                inst, table = rec.pop("instance"), rec.pop("table")
                hist.snapshots.setdefault(inst, {})[table] = TableSnapshot(**rec)
            elif kind == "note":
                hist.notes.append(rec.get("text", ""))
            elif kind == "primary":
                hist.primary = rec.get("instance")
        return hist

    def note(self, text: str) -> None:
        """A remark for the verdict (e.g. an instance that could not be read in the final phase)."""
        with self._lock:
            self.notes.append(text)
            self._write({"kind": "note", "text": text})

    def set_primary(self, instance: str) -> None:
        """Name the instance that was primary in the final phase (the divergence reference)."""
        with self._lock:
            self.primary = instance
            self._write({"kind": "primary", "instance": instance})
