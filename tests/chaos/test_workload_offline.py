"""harness.workload against a fake two-instance cluster on SQLite (no DM8 needed): writers, history,
role polling, the final phase, and that the checkers see what the fake cluster breaks on purpose."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from harness.topology import Topology
from harness.workload import Workload


class FakeCluster:
    """mema1 (PRIMARY) and mema2 (STANDBY) as SQLite files; the service name writes to both.

    drop_on_standby=n: the standby skips every n-th insert (divergence); ack_without_write=n: every n-th
    insert is acknowledged but never written (lost); info_after_write=n: every n-th insert is written
    and then the connection "breaks" (recovered info)."""

    def __init__(self, root: Path, drop_on_standby: int = 0, ack_without_write: int = 0,
                 info_after_write: int = 0) -> None:
        self.paths = {"mema1": root / "mema1.db", "mema2": root / "mema2.db"}
        for inst, mode in (("mema1", "PRIMARY"), ("mema2", "STANDBY")):
            c = sqlite3.connect(self.paths[inst])
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE v$instance (MODE$ TEXT, STATUS$ TEXT)")
            c.execute("INSERT INTO v$instance VALUES (?, 'OPEN')", (mode,))
            c.execute("CREATE TABLE v$rlog (CUR_LSN INT)")
            c.execute("INSERT INTO v$rlog VALUES (0)")
            c.commit()
            c.close()
        self.drop, self.ack_only, self.info_after = drop_on_standby, ack_without_write, info_after_write
        self.n = 0
        self.lock = threading.Lock()
        self.connects = 0

    def _raw(self, inst: str) -> sqlite3.Connection:
        return sqlite3.connect(self.paths[inst], timeout=10, check_same_thread=False, isolation_level=None)

    def connect(self, target: str | None = None, login_timeout: int = 3):
        with self.lock:
            self.connects += 1
        return self._raw(target) if target else ServiceConn(self)


class ServiceConn:
    autocommit = True

    def __init__(self, cluster: FakeCluster) -> None:
        self.c = cluster
        self.p, self.s = cluster._raw("mema1"), cluster._raw("mema2")

    def cursor(self) -> ServiceConn:
        return self

    description = None

    def execute(self, sql: str, params=None) -> None:
        if not sql.startswith("INSERT"):
            self.p.execute(sql, params or ())
            self.s.execute(sql, params or ())
            return
        with self.c.lock:
            self.c.n += 1
            n = self.c.n
            if self.c.ack_only and n % self.c.ack_only == 0:
                return
            self.p.execute(sql, params)
            if not (self.c.drop and n % self.c.drop == 0):
                self.s.execute(sql, params)
        if self.c.info_after and n % self.c.info_after == 0:
            raise ConnectionError("connection broke after the commit was sent")

    def fetchall(self) -> list:
        return []

    def close(self) -> None:
        pass

    def commit(self) -> None:
        pass


def _topology() -> Topology:
    return Topology()


def _run(cluster: FakeCluster, tmp_path: Path, seconds: float = 0.6, threads: int = 3, min_writes: int = 25):
    """Run the workload for `seconds` and on until `min_writes` inserts were attempted (a loaded
    machine writes fewer per second; the checks below need enough of them to mean something)."""
    wl = Workload(cluster, _topology(), tmp_path / "run", seed=1234, poll=0.1)
    with wl.running(threads=threads) as hist:
        time.sleep(seconds)
        deadline = time.monotonic() + 20
        while cluster.n < min_writes and time.monotonic() < deadline:
            time.sleep(0.05)
    return wl, hist, hist.check()


def test_clean_run_is_valid_and_recorded(tmp_path: Path, capsys) -> None:
    cluster = FakeCluster(tmp_path)
    wl, hist, v = _run(cluster, tmp_path)
    assert v.valid, v.explain()
    assert v.acknowledged > 20 and v.lost == [] and v.divergence == []
    assert "workload seed 1234" in capsys.readouterr().out
    files = list((tmp_path / "run").glob("history-*.jsonl"))
    assert len(files) == 1 and '"kind": "op"' in files[0].read_text()
    polled = {s.instance for s in hist.roles}
    assert polled == {"mema1", "mema2"}
    per_inst = [s.time for s in hist.roles if s.instance == "mema1"]
    gaps = [b - a for a, b in zip(per_inst, per_inst[1:], strict=False)]
    assert gaps and max(gaps) <= 0.25  # role polling every ≤ 250 ms
    assert hist.primary == "mema1" and v.two_primaries_window == 0.0


def test_standby_skipping_rows_is_divergence(tmp_path: Path) -> None:
    _, _, v = _run(FakeCluster(tmp_path, drop_on_standby=7), tmp_path)
    assert v.lost == []
    assert len(v.divergence) == 1 and v.divergence[0].instance == "mema2" and v.divergence[0].missing
    assert not v.valid and "DIVERGENCE" in v.explain()


def test_acknowledged_but_unwritten_is_lost(tmp_path: Path) -> None:
    _, _, v = _run(FakeCluster(tmp_path, ack_without_write=9), tmp_path)
    assert v.lost and all(isinstance(i, int) for i in v.lost)
    assert not v.valid and "LOST" in v.explain()


def test_info_writes_recovered_and_writers_reconnect(tmp_path: Path) -> None:
    cluster = FakeCluster(tmp_path, info_after_write=5)
    _, hist, v = _run(cluster, tmp_path)
    assert v.recovered_info and v.lost == [] and v.valid, v.explain()
    assert cluster.connects > 5  # each broken connection was replaced
    assert any(op.type == "info" for op in hist.ops)
