"""harness.sql never closes a connection a statement is running on: dmPython's close() of such a connection
holds the GIL until the socket answers, so a SIGSTOPped server froze the whole pytest process at teardown.
dmPython.connect is replaced by a fake whose execute blocks until released (no DM8 needed)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import dmPython
import pytest

from harness.sql import ConnectionClosed, Sql
from harness.topology import Topology


class RawConn:
    """A stand-in for a dmPython connection: `execute` of "hang" blocks until `release` is set."""

    def __init__(self, **args: object) -> None:
        self.args = args
        self.closed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def cursor(self) -> RawCursor:
        return RawCursor(self)

    def close(self) -> None:
        self.closed = True


class RawCursor:
    description = (("X",),)
    rowcount = 1

    def __init__(self, conn: RawConn) -> None:
        self.conn = conn

    def execute(self, sql: str, params: object = None) -> None:
        if sql == "hang":
            self.conn.entered.set()
            self.conn.release.wait()

    def fetchall(self) -> list[tuple]:
        return [(1,)]

    def close(self) -> None:
        pass


class LoopbackBackend:
    def reachable(self, host: object, port: int) -> tuple[str, int]:
        return "127.0.0.1", port


@pytest.fixture
def sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sql:
    monkeypatch.setattr(dmPython, "connect", lambda **args: RawConn(**args))
    t = Topology()
    hosts = {name: SimpleNamespace(name=name) for name in t.hosts}
    return Sql(t, LoopbackBackend(), hosts, tmp_path)  # type: ignore[arg-type]


def test_close_all_skips_a_busy_connection_and_returns_at_once(sql: Sql) -> None:
    busy, idle = sql.connect("mema1"), sql.connect("mema2")
    untracked = sql.connect("mema1", track=False)
    worker = threading.Thread(target=lambda: busy.cursor().execute("hang"), daemon=True)
    worker.start()
    try:
        assert busy._raw.entered.wait(5)
        assert busy.busy and not idle.busy
        t0 = time.monotonic()
        left = sql.close_all()
        assert time.monotonic() - t0 < 1.0
        assert left == ["mema1 (busy)"] and sql.abandoned == ["mema1 (busy)"]
        assert not busy._raw.closed and idle._raw.closed and not untracked._raw.closed
        with pytest.raises(ConnectionClosed):
            idle.cursor()
        assert sql.close_all() == []  # the busy one was dropped from the registry, not kept for later
    finally:
        busy._raw.release.set()
        worker.join(5)
    assert not busy.busy and busy.close() and busy._raw.closed  # its owner can close it once the call is over


def test_wrapped_connection_forwards_reads_and_writes(sql: Sql) -> None:
    assert sql.query("mema1", "select 1") == [(1,)]
    assert sql.execute("mema2", "insert") == 1
    with sql.connection("mema1") as conn:
        conn.autoCommit = False
        assert conn._raw.autoCommit is False and conn.autoCommit is False
        assert list(conn.cursor().fetchall()) == [(1,)]
    assert conn.closed and conn._raw.closed and sql.close_all() == []
