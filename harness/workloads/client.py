"""One workload client, run in its own (spawned) process: draw an operation, record invoke, run it on its
connection under a deadline, record ok / fail / info.

Why a process: dmPython has crashed the whole interpreter (SIGSEGV) under connection faults (see
harness/sql.py); in a child the crash costs this client only, and the parent records its open operation
as `info`. Events go to the parent over a one-way pipe, sent synchronously, so an event sent before the
crash is whole. Times are time.monotonic(), one clock for every process of the machine.

Outcome rules (Jepsen's): ok = committed (or read) and answered; fail = definitely not applied (an error
before the commit was sent, a refusal such as -2018 on a standby, a compare that did not match); info =
unknown (the commit itself failed or a call overran its deadline; the connection is then abandoned, never
closed, as harness.workload does).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from harness.sql import dm_error_code as error_code
from harness.workload import DEFINITE_FAIL, GuardedCalls, StatementTimeout

NODE_SQL = "SELECT NAME FROM V$INSTANCE"


class Refused(Exception):
    """The operation was rolled back on purpose (compare failed, insufficient funds): a definite fail."""


@dataclass
class ClientSpec:
    """Everything a child needs (picklable): who it is, what to run and how to connect."""

    process: str
    model: Any  # a workload model (harness.workloads.models): generate / apply
    seed: int
    connect_kwargs: dict[str, Any]
    node: str | None = None  # the instance it is pinned to; None = ask the server after connecting
    reader: bool = False  # draws read-only operations
    timeout: float = 20.0  # deadline of each call into the driver
    pause: float = 0.02  # think time between operations
    connector: str = "dmPython:connect"  # module:function returning a DB-API connection
    crash_after: int | None = None  # test hook: os.abort() right after sending this op's invoke
    extra: dict[str, Any] = field(default_factory=dict)


class Tx:
    """The statements of one operation on one connection; knows whether the commit was sent."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.committing = False

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def execute(self, sql: str, params: tuple | None = None) -> int:
        """Run a DML statement; its rowcount."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            return int(cur.rowcount)
        finally:
            cur.close()

    def commit(self) -> None:
        self.committing = True
        self.conn.commit()

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.rollback()


def outcome(exc: BaseException, committing: bool, readonly: bool) -> str:
    """fail or info for an operation that raised `exc` (see the module docstring)."""
    if isinstance(exc, Refused) or error_code(exc) in DEFINITE_FAIL:
        return "fail"
    if isinstance(exc, StatementTimeout):
        return "fail" if readonly else "info"
    return "info" if committing and not readonly else "fail"


class Client:
    """The child's loop; `send` delivers one event tuple to the parent."""

    def __init__(self, spec: ClientSpec, send: Any, stopped: Any) -> None:
        self.spec, self.send, self.stopped = spec, send, stopped
        self.rng = random.Random(spec.seed)
        self.conn: Any = None
        self.node: str | None = None
        self.calls = GuardedCalls(f"{spec.process}-sql")
        self.done = 0

    def emit(self, type_: str, f: str, value: Any, error: str | None = None) -> None:
        self.send((self.spec.process, type_, f, value, time.monotonic(), self.node, error))

    def _call(self, fn: Any, what: str) -> Any:
        try:
            return self.calls.call(fn, self.spec.timeout, what)
        except StatementTimeout:
            self.conn = None  # abandoned: a blocked connection is never closed
            raise

    def _connect(self) -> None:
        mod, name = self.spec.connector.split(":")
        connect = getattr(importlib.import_module(mod), name)
        conn = self._call(lambda: connect(**self.spec.connect_kwargs), "connect")
        self.conn = conn
        try:
            self.node = self.spec.node or str(self._call(lambda: Tx(conn).query(NODE_SQL)[0][0], "node"))
        except Exception:
            self._drop()
            raise

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                self._call(conn.close, "close")

    def step(self) -> None:
        """One operation, recorded from invoke to its outcome."""
        model = self.spec.model
        f, value = model.generate(self.rng, self.spec)
        readonly = model.readonly(f, value)
        self.emit("invoke", f, value)
        self.done += 1
        if self.spec.crash_after is not None and self.done >= self.spec.crash_after:
            os.abort()
        tx = Tx(self.conn)
        try:
            result = self._call(lambda: model.apply(tx, f, value), f)
        except Exception as exc:  # noqa: BLE001 - every outcome is recorded
            self.emit(outcome(exc, tx.committing, readonly), f, value, f"{error_code(exc)}: {exc}"[:300])
            if isinstance(exc, Refused):
                return
            if self.conn is not None:
                with contextlib.suppress(Exception):
                    self._call(tx.rollback, "rollback")
            self._drop()
            return
        self.emit("ok", f, result)

    def run(self) -> None:
        backoff = 0.05
        while not self.stopped.is_set():
            if self.conn is None:
                try:
                    self._connect()
                    backoff = 0.05
                except Exception:  # noqa: BLE001 - no server reachable yet: retry like an application
                    self.stopped.wait(backoff)
                    backoff = min(backoff * 2, 0.5)
                    continue
            self.step()
            if self.spec.pause:
                self.stopped.wait(self.spec.pause)
        self._drop()
        self.calls.retire()


def main(spec: ClientSpec, pipe: Any, stopped: Any) -> None:
    """Entry point of the child process (Ctrl-C is the parent's to handle)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        Client(spec, pipe.send, stopped).run()
    finally:
        with contextlib.suppress(Exception):
            pipe.close()
