"""Contracts between the emulator's layers (see emulator/ARCHITECTURE.md).

    wire/   (DM client protocol)  --uses-->  Server / Session            (instance.py, session.py)
    instance.py, session.py       --uses-->  sql.engine.Database / SqlSession
    dw/     (MAL, watcher, monitor) --uses-->  Instance hooks listed in ARCHITECTURE.md

Values that cross these boundaries are plain Python: int, float, decimal.Decimal, str, bytes, bool,
datetime.date / datetime.time / datetime.datetime, None.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import plaincodec

MAX_REDO_BYTES = 1 << 30               # a decoded package larger than this is refused (zlib bomb)

# DM type names used in Column.type (the wire layer maps them to DM type codes).
TYPES = ("CHAR", "VARCHAR", "BIT", "TINYINT", "SMALLINT", "INT", "BIGINT", "DECIMAL", "REAL", "DOUBLE",
         "BLOB", "BOOLEAN", "DATE", "TIME", "DATETIME", "BINARY", "VARBINARY", "CLOB")

# wire SvrMode / SvrStat codes
SVR_MODE = {"NORMAL": 0, "PRIMARY": 1, "STANDBY": 2}
SVR_STAT = {"STARTUP": 1, "AFTER REDO": 2, "MOUNT": 3, "OPEN": 4, "SUSPEND": 5, "SHUTDOWN": 6}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "VARCHAR"          # one of TYPES
    precision: int = 8188
    scale: int = 0
    nullable: bool = True


@dataclass
class Result:
    """Outcome of one statement. `rows` may be a lazy iterator (paged by the wire layer)."""

    kind: str                              # "select" | "dml" | "ddl" | "other"
    columns: list[Column] = field(default_factory=list)
    rows: Iterable[tuple] = ()
    rowcount: int = 0
    message: str = ""                      # server print text, if any


class Session(Protocol):
    """One client session as the wire layer sees it (session.py implements it)."""

    autocommit: bool

    def execute(self, sql: str, params: Sequence | None = None) -> Result: ...
    def describe(self, sql: str) -> tuple[list[Column], list[Column]]: ...   # (params, columns)
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class Server(Protocol):
    """What the wire protocol needs from a running instance."""

    server_version: str
    instance_name: str
    db_name: str

    def login(self, user: str, password: str, client: dict) -> Session: ...   # DmError(-2501) on bad creds
    def wire_status(self) -> tuple[int, int]: ...                             # (SvrMode, SvrStat)


@dataclass
class RedoRecord:
    """One RLOG_PKG: LSN-ordered redo of one or more committed changes, carrying row images.

    `ops` is produced by sql.engine (format documented there) and applied by Database.apply().
    lsn_lo..lsn_hi is the LSN range the package covers; consecutive packages have
    next.lsn_lo == prev.lsn_hi + 1 (continuity is what the standby checks).
    """

    lsn_lo: int
    lsn_hi: int
    ops: list
    db_magic: int = 0
    permanent_magic: int = 0
    oguid: int = 0
    seq: int = 0
    ts: float = 0.0
    last: bool = True                      # False for a chunk of a transaction still being shipped

    def encode(self) -> bytes:
        """zlib-compressed JSON (plaincodec): the form shipped over MAL and kept in logs and archives."""
        return zlib.compress(plaincodec.dumps([self.lsn_lo, self.lsn_hi, self.ops, self.db_magic,
                                               self.permanent_magic, self.oguid, self.seq, self.ts,
                                               self.last]), 1)

    @staticmethod
    def decode(blob: bytes) -> RedoRecord:
        """The record `encode` produced; plaincodec.CodecError for anything else."""
        try:
            z = zlib.decompressobj()
            raw = z.decompress(blob, MAX_REDO_BYTES)
        except zlib.error as e:
            raise plaincodec.CodecError(f"redo package: {e}") from None
        if z.unconsumed_tail or not z.eof:
            raise plaincodec.CodecError("redo package truncated or too large")
        v = plaincodec.loads(raw)
        if not (isinstance(v, list) and len(v) == 9 and isinstance(v[2], list)
                and all(isinstance(x, int) and not isinstance(x, bool) for x in (v[0], v[1], *v[3:7]))
                and isinstance(v[7], (int, float)) and isinstance(v[8], bool)
                and all(isinstance(op, list) and op for op in v[2])):
            raise plaincodec.CodecError("malformed redo package")
        return RedoRecord(v[0], v[1], [tuple(op) for op in v[2]], v[3], v[4], v[5], v[6], v[7], v[8])
