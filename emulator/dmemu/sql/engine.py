"""The SQL engine: DM8 SQL over one SQLite file (see emulator/ARCHITECTURE.md, "sql.engine contract").

- One SQLite connection per session (WAL: readers never block; writers serialise on SQLite's write
  lock, taken with BEGIN IMMEDIATE at a transaction's first write and waited for up to LOCK_WAIT s).
- synchronous=FULL by default: a COMMIT that returned survives kill -9 and power loss. The instance
  opens it with synchronous=NORMAL (WAL: no fsync per commit) because its online redo log, fsynced
  before COMMIT, is the durability point and start-up replays what SQLite lost (see redo.py).
- Writers wait for SQLite's write lock on a condition signalled when a write transaction ends (not in
  SQLite's busy handler, which sleeps up to 100 ms per attempt and starves waiters under load).
- Autocommit by default; DDL commits the open transaction first and then commits itself.
- Every committed write transaction hands its redo ops (format in redo.py) to hooks.before_commit
  inside the SQLite transaction; the returned lsn_hi is stored in DM$META in that same transaction.
This module holds the Database; a session's statements run in session.py (SqlSession).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import err
from . import functions
from . import messages as M
from .catalog import Catalog, hash_password, init_schema
from .errmap import map_error
from .redo import apply_ops
from .types import plain, register_adapters

if TYPE_CHECKING:
    from .session import SqlSession

LOCK_WAIT = 60.0          # seconds a writer waits for another writer's transaction

register_adapters()
__all__ = ["LOCK_WAIT", "Database", "map_error"]


def _connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=LOCK_WAIT)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA cache_size=-131072")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on the database's own connection; ROLLBACK if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Database:
    """One DM database held in one SQLite file (SYSTEM.DBF)."""

    def __init__(self, path: str, case_sensitive: bool = False, hooks: object | None = None,
                 synchronous: str = "FULL"):
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = path
        self.case_sensitive = case_sensitive
        self.hooks = hooks
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._seq_lock = threading.Lock()
        self._wcond = threading.Condition()      # signalled when a session's write transaction ends
        self._wgen = 0
        self._conn = _connect(path, synchronous)
        functions.register(self._conn, self)     # apply may evaluate CHECK/DEFAULT expressions using them
        with _immediate(self._conn):
            init_schema(self._conn, _dt.datetime.now().replace(microsecond=0).isoformat(sep=" "))
        self._cur_lsn = int(self._conn.execute("SELECT V FROM DM$META WHERE K='cur_lsn'").fetchone()[0])
        self.catalog = Catalog(self._conn)
        self.version = 0
        self._seqvals: dict[int, int] = dict(self._conn.execute("SELECT ID, VAL FROM DM$SEQ").fetchall())
        self._sessions: set = set()

    # ---- contract ---------------------------------------------------------------------------
    @property
    def cur_lsn(self) -> int:
        return self._cur_lsn

    def session(self, user: str = "SYSDBA") -> SqlSession:
        from .session import SqlSession
        s = SqlSession(self, user.upper())
        with self._lock:
            self._sessions.add(s)
        return s

    def apply(self, ops, lsn_hi: int) -> None:
        """Apply redo ops from another database (standby apply / recovery) atomically; idempotent by LSN."""
        with self._lock:
            if int(lsn_hi) <= self._cur_lsn:
                return
            c = self._conn
            with _immediate(c):
                ddl = apply_ops(c, ops, on_seq=self._seq_applied)
                c.execute("UPDATE DM$META SET V=? WHERE K='cur_lsn'", (int(lsn_hi),))
            self._cur_lsn = int(lsn_hi)
            if ddl:
                self.reload_catalog()
                with self._seq_lock:
                    self._seqvals = dict(c.execute("SELECT ID, VAL FROM DM$SEQ").fetchall())

    def create_user(self, name: str, password: str, tablespace: str = "MAIN") -> None:
        """Create (or reset the password of) a user outside any session; not replicated (dminit time)."""
        with self._lock:
            name = name.upper()
            c = self._conn
            with _immediate(c):
                row = c.execute("SELECT NAME FROM DM$USERS WHERE NAME=?", (name,)).fetchone()
                if row:
                    c.execute("UPDATE DM$USERS SET PWD=? WHERE NAME=?", (hash_password(password), name))
                else:
                    uid = c.execute("SELECT MAX(ID) + 1 FROM DM$USERS").fetchone()[0]
                    c.execute("INSERT INTO DM$USERS VALUES (?, ?, ?, ?, ?, 0)",
                              (name, hash_password(password), tablespace.upper(), uid, _now_text()))
            self.reload_catalog()

    set_password = create_user

    def check_password(self, user: str, pwd: str) -> bool:
        u = self.catalog.users.get(user.upper())
        return u is not None and not u.locked and u.pwd == hash_password(pwd)

    def reload_catalog(self) -> None:
        with self._lock:
            self.catalog = Catalog(self._conn)
            self.version += 1

    def close(self) -> None:
        """Close every session, then the database connection.

        Lock order is always session lock -> database lock (SqlSession.close takes them that way),
        so sessions are closed outside the database lock; holding it here deadlocked a shutdown."""
        while True:
            with self._lock:
                sessions = list(self._sessions)
                if not sessions:                  # none left (also those opened meanwhile)
                    self._conn.close()
                    return
            for s in sessions:
                s.close()

    # ---- writer hand-off -----------------------------------------------------------------------
    def begin_write(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE on a session connection, waiting up to LOCK_WAIT s for another writer.

        Each attempt does not wait inside SQLite (busy_timeout 0); a busy attempt waits on `_wcond`
        until a write transaction ends (write_done), so the lock passes on at once."""
        deadline = time.monotonic() + LOCK_WAIT
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                gen = self._wgen
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                with self._wcond:
                    if gen == self._wgen:                # nobody finished since our attempt: wait
                        self._wcond.wait(min(left, 0.05))   # bounded: other processes do not signal
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")

    def write_done(self) -> None:
        """A write transaction ended (COMMIT or ROLLBACK): wake writers waiting in begin_write."""
        with self._wcond:
            self._wgen += 1
            self._wcond.notify_all()

    def sync(self) -> None:
        """fsync the database and its WAL: everything committed so far survives power loss
        (with synchronous=NORMAL, called before the redo that covers it is discarded)."""
        for p in (self.path, self.path + "-wal"):
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # ---- sequences ---------------------------------------------------------------------------
    def seq_next(self, sid: int) -> int:
        o = self.catalog.objs.get(sid)
        if o is None:
            raise err(M.NO_SEQ, "no_seq", name=str(sid))
        info = o.info
        with self._seq_lock:
            cur = self._seqvals.get(sid)
            v = info["start"] if cur is None else cur + info["inc"]
            if (info["inc"] > 0 and v > info["max"]) or (info["inc"] < 0 and v < info["min"]):
                if not info["cycle"]:
                    raise err(-3117, "sql_error", detail=f"sequence {o.name} exceeds MAXVALUE")
                v = info["min"] if info["inc"] > 0 else info["max"]
            self._seqvals[sid] = v
            return v

    # SQL functions on the internal (apply) connection
    def nextval(self, sid: int) -> int:
        return self.seq_next(int(sid))

    def currval(self, sid: int) -> int:
        raise err(-2119, "no_curr", name=str(sid))

    def sysfn(self, name: str):
        fn = getattr(self.hooks, "system_view", None)
        data = fn(str(name)) if fn is not None else None
        if not data or not data[1]:
            raise err(M.NO_FUNC, "no_func", name=name)
        return plain(data[1][0][0])

    def seq_value(self, sid: int) -> int | None:
        return self._seqvals.get(sid)

    def _seq_applied(self, sid: int, v: int) -> None:
        with self._seq_lock:
            self._seqvals[sid] = v

    def seq_forget(self, sid: int) -> None:
        with self._seq_lock:
            self._seqvals.pop(sid, None)


def _now_text() -> str:
    return _dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
