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

    def connect(self, target: str | None = None, login_timeout: int = 3, track: bool = True,
                one_at_a_time: bool = False):
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
    assert gaps and sorted(gaps)[len(gaps) // 2] <= 0.15 and max(gaps) <= 0.5  # polled about every 100 ms
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


class HangingCluster(FakeCluster):
    """The `hang_at`-th insert blocks until `release` is set (a SIGSTOPped server never answers)."""

    def __init__(self, root: Path, hang_at: int) -> None:
        super().__init__(root)
        self.hang_at = hang_at
        self.release = threading.Event()
        self.hung: list[HangingConn] = []
        self.inserts = 0

    def connect(self, target: str | None = None, login_timeout: int = 3, track: bool = True,
                one_at_a_time: bool = False):
        with self.lock:
            self.connects += 1
        return self._raw(target) if target else HangingConn(self)


class HangingConn(ServiceConn):
    """A service connection with cursors of its own, so closing a cursor is not closing the connection."""

    def __init__(self, cluster: HangingCluster) -> None:
        super().__init__(cluster)
        self.closed = False

    def cursor(self) -> HangingCursor:
        return HangingCursor(self)

    def execute(self, sql: str, params=None) -> None:
        if sql.startswith("INSERT"):
            with self.c.lock:
                self.c.inserts += 1
                hang = self.c.inserts == self.c.hang_at
            if hang:
                self.c.hung.append((self, params[0]))
                self.c.release.wait()
        super().execute(sql, params)

    def close(self) -> None:
        self.closed = True


class HangingCursor:
    description = None

    def __init__(self, conn: HangingConn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=None) -> None:
        self.conn.execute(sql, params)

    def fetchall(self) -> list:
        return []

    def close(self) -> None:
        pass


def test_hung_write_is_info_its_connection_abandoned_and_exit_bounded(tmp_path: Path) -> None:
    cluster = HangingCluster(tmp_path, hang_at=20)
    wl = Workload(cluster, _topology(), tmp_path / "run", seed=7, poll=0.1, statement_timeout=1.0)
    try:
        with wl.running(threads=2) as hist:
            deadline = time.monotonic() + 20
            while not cluster.hung and time.monotonic() < deadline:
                time.sleep(0.02)
            assert cluster.hung, "no insert reached the hanging one"
            exit_started = time.monotonic()
        exit_took = time.monotonic() - exit_started
        conn, rid = cluster.hung[0]
        assert exit_took < wl.statement_timeout + 4, f"exit took {exit_took:.1f}s"
        outcome = [op for op in hist.ops if op.f == "add" and op.value == rid and op.type != "invoke"]
        assert [op.type for op in outcome] == ["info"], outcome
        assert "no answer within 1.0s" in outcome[0].error and "abandoned" in outcome[0].error
        assert not conn.closed  # never closed while the call may still be blocked on it
        assert wl.abandoned == 1 and any("1 SQL connection(s) abandoned" in n for n in hist.notes)
        v = hist.check()
        assert v.lost == [] and v.valid, v.explain()
    finally:
        cluster.release.set()


def test_writers_go_on_after_a_hung_write(tmp_path: Path) -> None:
    cluster = HangingCluster(tmp_path, hang_at=5)
    wl = Workload(cluster, _topology(), tmp_path / "run", seed=8, poll=0.1, statement_timeout=0.5)
    try:
        with wl.running(threads=1) as hist:
            deadline = time.monotonic() + 20
            while not cluster.hung and time.monotonic() < deadline:
                time.sleep(0.02)
            after = cluster.inserts
            while cluster.inserts < after + 10 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert cluster.inserts >= after + 10, "the writer did not resume on a new connection"
        assert cluster.connects >= 2
        assert sum(op.type == "info" for op in hist.ops) == 1
    finally:
        cluster.release.set()


class StandbyDownCluster(FakeCluster):
    """mema2 refuses connections once `down` is set (stopped after a takeover, say)."""

    down = False

    def connect(self, target: str | None = None, login_timeout: int = 3, track: bool = True,
                one_at_a_time: bool = False):
        if self.down and target == "mema2":
            raise ConnectionRefusedError("mema2: connection refused")
        return super().connect(target, login_timeout, track)


def test_final_phase_gives_up_early_on_a_down_instance(tmp_path: Path) -> None:
    cluster = StandbyDownCluster(tmp_path)
    wl = Workload(cluster, _topology(), tmp_path / "run", seed=9, poll=0.1)
    wl.down_after = 1.0
    final_deadline = wl.topology.timers.failure_detect() * 2 + 30
    with wl.running(threads=1) as hist:
        time.sleep(0.3)
        cluster.down = True
        exit_started = time.monotonic()
    took = time.monotonic() - exit_started
    assert took < 8 < final_deadline, f"the final phase waited {took:.1f}s for a down instance"
    assert hist.primary == "mema1" and "mema2" not in hist.snapshots and "mema1" in hist.snapshots
    assert any(n.startswith("mema2 down: mema2 refuses connections") for n in hist.notes), hist.notes
    assert any("mema2 not read in the final phase (down" in n for n in hist.notes), hist.notes
