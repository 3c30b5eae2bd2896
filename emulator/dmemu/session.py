"""InstSession: a client session of an instance (the engine's SqlSession plus MOUNT checks and the
commit-not-durable defect's lazy commits), kept apart from the instance lifecycle it serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import bugs, statements
from .api import Result
from .errors import DmError

if TYPE_CHECKING:
    from .instance import Instance

LAZY_COMMIT_S = 1.0                     # commit-not-durable: how long acknowledged work stays uncommitted


class InstSession:
    """A client session: the engine's SqlSession plus MOUNT checks and the commit-not-durable defect."""

    def __init__(self, inst: Instance, sql_session, user: str):
        self.inst = inst
        self.user = user
        self._s = sql_session
        self._auto = True
        self._lazy = bugs.active("commit-not-durable")
        self._pending = 0.0                  # defect: monotonic time of the oldest acknowledged, uncommitted work
        self._op_lock = threading.RLock()    # defect: the instance's lazy committer commits from its own thread
        self._close_lock = threading.Lock()
        self._closed = False
        self._finished = False
        self._s.autocommit = not self._lazy

    @property
    def autocommit(self) -> bool:
        return self._auto

    @property
    def in_transaction(self) -> bool:
        """True while the session holds uncommitted writes (the wire reports it as TrxStatus)."""
        return bool(self._s.in_txn)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if bool(value) == self._auto:
            return                           # the wire layer sets it on every execute
        with self._op_lock:
            self._flush()
            self._auto = bool(value)
            if not self._lazy:
                self._s.autocommit = self._auto

    def _flush(self, force: bool = True) -> None:
        """commit-not-durable: commit acknowledged work only LAZY_COMMIT_S after it was acknowledged."""
        if self._pending and (force or time.monotonic() - self._pending >= LAZY_COMMIT_S):
            self._pending = 0.0
            self._s.commit()

    def _defer(self) -> None:
        if not self._pending:
            self._pending = time.monotonic()

    def lazy_tick(self) -> None:
        """commit-not-durable: called by the instance's lazy committer; commits work acknowledged at
        least LAZY_COMMIT_S ago (also for sessions the client already closed), then finishes a close."""
        if not self._op_lock.acquire(blocking=False):
            return
        try:
            try:
                self._flush(force=False)
            except DmError:
                self._pending = 0.0          # the instance left OPEN: that work is gone
            if self._closed and not self._pending:
                self._finish()
        finally:
            self._op_lock.release()

    def execute(self, sql: str, params: Sequence | None = None) -> Result:
        with self._op_lock:
            self._flush(force=False)
            self.inst.check_data_access(sql)
            r = self.inst.stale.read(self.inst.mode, sql, params, lambda: self._s.execute(sql, params))
            if self._lazy and self._auto and r.kind in ("dml", "ddl"):
                self._defer()                # defect: acknowledged now, committed later
            return r

    def describe(self, sql: str):
        cols = statements.describe(self.inst, sql)
        return ([], cols) if cols is not None else self._s.describe(sql)

    def commit(self) -> None:
        if self._lazy:
            self._defer()
            return
        self._s.commit()

    def rollback(self) -> None:
        with self._op_lock:
            self._pending = 0.0
            self._s.rollback()

    def close(self) -> None:
        """Idempotent; the wire thread and Instance.shutdown may both call it (one engine close)."""
        with self._close_lock:
            if self._finished:
                return
            self._closed = True
            with self._op_lock:
                if self._pending and self.inst.status != "SHUTDOWN":
                    return                   # defect: the lazy committer commits it later, then closes
                try:
                    self._flush()
                except DmError:
                    pass
                finally:
                    self._finish()

    def _finish(self) -> None:
        """Close the engine session (once) and leave the instance's session set."""
        if self._finished:
            return
        self._finished = True
        try:
            self._s.close()
        finally:                             # only now: shutdown() waits on _close_lock for sessions it sees
            self.inst._sessions.discard(self)


__all__ = ["InstSession", "LAZY_COMMIT_S"]
