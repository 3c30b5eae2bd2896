"""Procedure's seed 十二.3 order follows the live roles (after a switchover the primary is mema2), asked by SQL,
then the monitor's `show`, then the topology; offline, with fake hosts, SQL and monitor (no DM8 needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import StepError
from harness.monitor import DbState, ShowState
from harness.procedure import Procedure
from harness.steps import StepLog
from harness.topology import Topology


class FakeHost:
    """Processes by name; SIGTERM to dmwatcher also ends dmserver unless `server_outlives`."""

    systemd = False  # no systemd as PID 1: the procedure signals the watchers itself

    def __init__(self, name: str, server_outlives: bool = False) -> None:
        self.name = name
        self.running = {"dmwatcher", "dmserver"}
        self.server_outlives = server_outlives
        self.signals: list[tuple[str, int]] = []

    def pids(self, pattern: str) -> list[int]:
        return [1] if pattern in self.running else []

    def signal(self, pattern: str, sig: int) -> None:
        self.signals.append((pattern, sig))
        self.running.discard(pattern)
        if pattern == "dmwatcher" and not self.server_outlives:
            self.running.discard("dmserver")


class FakeSql:
    def __init__(self, modes: dict[str, tuple[str, str] | None]) -> None:
        self.modes = modes

    def query(self, target: str, sql: str) -> list[tuple]:
        mode = self.modes[target]
        if mode is None:
            raise ConnectionRefusedError(target)
        return [mode]


class FakeMonitor:
    def __init__(self, imodes: dict[str, str] | None) -> None:
        self.imodes = imodes
        self.closed = False

    def alive(self) -> bool:
        return not self.closed

    def show(self, timeout: float = 30) -> ShowState:
        if self.imodes is None:
            raise TimeoutError("no answer")
        return ShowState(databases={n.upper(): DbState(n.upper(), imode=m, istatus="OPEN")
                                    for n, m in self.imodes.items()})

    def close(self) -> None:
        self.closed = True


def _proc(tmp_path: Path, monitor: FakeMonitor | None = None, **hosts: FakeHost) -> Procedure:
    t = Topology()
    all_hosts = {name: hosts.get(name, FakeHost(name)) for name in t.hosts}
    p = Procedure(None, all_hosts, t, StepLog(tmp_path / "steps.jsonl"), tmp_path)  # type: ignore[arg-type]
    p.monitor = monitor  # type: ignore[assignment]
    return p


def _names(specs) -> list[str]:
    return [s.instance for s in specs]


def test_live_roles_sql_then_monitor_then_topology(tmp_path: Path) -> None:
    p = _proc(tmp_path, FakeMonitor({"mema1": "STANDBY", "mema2": "PRIMARY"}))
    assert _names(p.live_roles(FakeSql({"mema1": ("PRIMARY", "OPEN"), "mema2": ("STANDBY", "OPEN")}))) == \
        ["mema1", "mema2"]  # SQL wins over the monitor
    assert _names(p.live_roles(FakeSql({"mema1": None, "mema2": None}))) == ["mema2", "mema1"]  # monitor
    assert _names(p.live_roles()) == ["mema2", "mema1"]
    split = FakeSql({"mema1": ("PRIMARY", "MOUNT"), "mema2": ("PRIMARY", "OPEN")})
    assert _names(p.live_roles(split)) == ["mema2", "mema1"]  # two claim PRIMARY: the OPEN one
    assert _names(_proc(tmp_path, FakeMonitor(None)).live_roles(FakeSql({"mema1": None, "mema2": None}))) == \
        ["mema1", "mema2"]  # nothing answers: the topology's initial roles


def test_stop_group_manual_after_a_switchover_stops_the_new_primary_first(tmp_path: Path) -> None:
    mon = FakeMonitor({"mema1": "STANDBY", "mema2": "PRIMARY"})
    p = _proc(tmp_path, mon)
    order = p.stop_group_manual()
    assert _names(order) == ["mema2", "mema1"] and p.stop_order == order
    assert mon.closed and p.monitor is None
    assert [s.step for s in p.steps.steps] == ["十二.3.1 stop dmwatcher on host2", "十二.3.1 stop dmwatcher on host1"]
    assert all(not h.running for n, h in p.hosts.items() if n != "monitor")


def test_an_instance_outliving_its_watcher_fails_the_step_and_is_stopped(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    p = _proc(tmp_path, None, host1=FakeHost("host1", server_outlives=True))
    monkeypatch.setattr(p.t.timers, "failure_detect", lambda: -29.0)  # waits of failure_detect() + 30 = 1 s
    with pytest.raises(StepError) as exc:
        p.stop_group_manual()
    assert exc.value.step == "十二.3.1 stop dmwatcher on host1: instance stops with its watcher"
    assert p.hosts["host1"].signals[-1] == ("dmserver", 15) and not p.hosts["host1"].running
    assert not p.steps.steps[-1].ok


def test_stop_order_with_several_standbys_is_primary_realtime_then_async(tmp_path: Path) -> None:
    from harness.config import preset

    t = preset("1p2rt1async")
    hosts = {name: FakeHost(name) for name in t.hosts}
    p = Procedure(None, hosts, t, StepLog(tmp_path / "steps.jsonl"), tmp_path)  # type: ignore[arg-type]
    p.monitor = FakeMonitor({"mema1": "STANDBY", "mema2": "STANDBY", "mema3": "PRIMARY",  # type: ignore[assignment]
                             "mema4": "STANDBY"})
    assert _names(p.live_order()) == ["mema3", "mema1", "mema2", "mema4"]
    assert _names(p.stop_group_manual()) == ["mema3", "mema1", "mema2", "mema4"]
    assert all(not h.running for h in hosts.values() if h.name != "monitor")
