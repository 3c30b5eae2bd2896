"""Lifecycle: the rest of dmmonitor's managing commands (reference 4.2, 7.3; seed 十二.2-3), each decided from
`show` and v$instance, never from the monitor's success sentence."""

from __future__ import annotations

import pytest

from harness.monitor import Monitor, MonitorError, extra_monitor
from harness.show import connect_info, error_code
from harness.wait import hold

pytestmark = [pytest.mark.lifecycle]


def _acked_everywhere(history, sql, workload, nodes) -> None:
    verdict = history.check()
    assert verdict.lost == [] and verdict.valid, verdict.explain()
    acked = {op.value for op in history.acked_after()}
    for node in nodes:
        ids = {int(r[0]) for r in sql.query(node, f"select ID from {workload.table}")}
        assert not acked - ids, f"{node} lacks acknowledged writes {sorted(acked - ids)[:20]}"


def test_detach_and_attach_the_standby(dw, monitor, runbook, workload, chaos, sql) -> None:
    """Reference 4.2: `detach database` makes the standby leave (its watcher SHUTDOWN, its dmserver gone)
    while the primary goes on taking writes; `attach database` brings it back OPEN with RSTAT VALID, and
    every write acknowledged while it was detached is on it."""
    primary, standby = dw.primary, dw.standby
    monitor.login()
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(5)
        monitor.detach_database(standby.name)
        runbook.wait_no_process(standby, "dmserver")
        assert runbook.dm_pids(standby, "dmwatcher"), "detach stopped the standby's watcher process"
        assert dw.role(primary).writable_primary
        workload.wait_acked(10)
        monitor.attach_database(standby.name)
    dw.wait_roles(primary=primary, standby=standby)
    dw.wait_healthy()
    _acked_everywhere(history, sql, workload, (primary.name, standby.name))


def test_stop_startup_and_kill_one_instance(dw, monitor, runbook) -> None:
    """Seed "Stop Instance" / reference 4.2: `stop database` of the standby stops its dmserver (watcher
    SHUTDOWN) and the primary stays writable; `startup database` brings it back healthy. `kill database`
    kills it and it is not restarted by its watcher; `startup database` brings it back."""
    primary, standby = dw.primary, dw.standby
    monitor.login()
    monitor.stop_database(standby.name)
    runbook.wait_no_process(standby, "dmserver")
    assert monitor.show().db(standby.name).wstatus == "SHUTDOWN"
    assert dw.role(primary).writable_primary
    monitor.startup_database(standby.name)
    dw.wait_roles(primary=primary, standby=standby)
    dw.wait_healthy()
    monitor.kill_database(standby.name)
    runbook.wait_no_process(standby, "dmserver")
    hold(lambda: runbook.dm_pids(standby, "dmserver") == [], dw.t.timers.failure_detect(),
         "a killed instance stays down (not restarted by its watcher)")
    monitor.startup_database(standby.name)
    dw.wait_roles(primary=primary, standby=standby)
    dw.wait_healthy()


@pytest.mark.destructive
def test_kill_group_then_the_seed_start_order(dw, monitor, runbook, sql) -> None:
    """Reference 4.2: `kill group` kills every instance and none is restarted; the seed's start order
    (十二.3.2, after its stop order for the watchers) brings the same roles back healthy with the data."""
    primary, standby = dw.primary, dw.standby
    sql.execute(primary.name, "create table t_kill_group as select * from sysobjects")
    rows = sql.scalar(primary.name, "select count(*) from t_kill_group")
    dw.wait_replicated()
    monitor.login()
    monitor.kill_group()
    for node in dw.nodes:
        runbook.wait_no_process(node, "dmserver")
    hold(lambda: all(runbook.dm_pids(node, "dmserver") == [] for node in dw.nodes),
         dw.t.timers.failure_detect(), "every instance stays down after kill group")
    runbook.exit_monitor()
    standbys = dw.standbys()
    for node in (primary, *standbys):
        runbook.stop_watcher(node)
    runbook.start_in_seed_order([primary.name, *(s.name for s in standbys)])
    dw.wait_roles(primary=primary, standby=standby)
    for node in (primary, *standbys):
        assert sql.scalar(node.name, "select count(*) from t_kill_group") == rows


def test_set_arch_invalid_then_recovery(dw, monitor) -> None:
    """Reference 4.2: `set database <standby> arch invalid` makes `show` report its RSTAT INVALID; the
    primary's watcher recovers it to VALID within INST_RECOVER_TIME (scaled). `show arch send info` is
    read as evidence only (no capture of its layout exists)."""
    standby = dw.standby
    monitor.login()
    monitor.set_arch_invalid(standby.name)
    monitor.wait_for(standby.name, timeout=monitor.t.timers.recovery(), rstat="VALID")
    monitor.show_arch_send_info(dw.primary.name)
    dw.wait_healthy()


def _confirm_flags(monitor) -> list[str]:
    return [row.get("MON_CONFIRM", "") for row in connect_info(monitor.show_monitor())]


def test_show_monitor_with_a_second_monitor_and_a_refused_second_confirm(dw, monitor) -> None:
    """Reference 4.2/4.4: `show monitor` lists every monitor connected to each watcher (DM8's connect-info
    block, tests/corpus/dm8/dmmonitor/startup-messages-confirm-monitor-cn-dmshell-c7-auto.txt); a second,
    non-confirm monitor appears in it under every watcher; a second confirm monitor is refused (at most one
    per system), so the list never holds two confirm monitors."""
    n_watchers = len(dw.nodes)
    started: list[Monitor] = []
    try:
        confirm = monitor
        if monitor.t.monitor.mon_dw_confirm != 1:
            confirm = extra_monitor(monitor, "confirm1", confirm=1).start()
            started.append(confirm)
        before = _confirm_flags(confirm)
        assert before.count("TRUE") == n_watchers, before
        second = extra_monitor(monitor, "second")
        started.append(second.start())
        with_second = _confirm_flags(confirm)
        assert len(with_second) == len(before) + n_watchers, with_second
        assert with_second.count("TRUE") == n_watchers, with_second
        extra = extra_monitor(monitor, "confirm2", confirm=1)
        try:
            started.append(extra.start(timeout=15))
        except MonitorError:
            pass  # refused at start-up (the emulator exits with DWMON_MULTI_CONFIRM_MON, -14)
        hold(lambda: _confirm_flags(confirm).count("TRUE") == n_watchers, dw.t.timers.failure_detect(),
             "one confirm monitor per watcher in `show monitor` (no second confirm monitor accepted)")
    finally:
        for m in started:
            if m is not monitor:
                m.close()


def test_open_database_when_only_the_primary_returns(dw, runbook, sql) -> None:
    """Reference 7.3 (G2 `dwmon_open_database`, `check open` codes -22..-27): after the whole group was
    stopped (seed 十二.3.1) only the primary's node comes back. Its watcher leaves the instance in MOUNT (it
    cannot prove it is the latest), `check open` answers with one of DM8's documented codes, and
    `open database` forces it OPEN and writable; the standbys then return and are recovered."""
    primary, standbys = dw.primary, dw.standbys()
    sql.execute(primary.name, "create table t_open_alone(id int)")
    dw.wait_replicated()
    runbook.stop_in_seed_order()
    runbook.start_watcher(primary)
    mon = runbook.start_monitor()
    mon.wait_for(primary.name, istatus="MOUNT")
    hold(lambda: mon.show().db(primary.name).istatus == "MOUNT", mon.t.timers.failure_detect(),
         "the lone primary stays in MOUNT (does not open by itself)")
    code = error_code(mon.check_open(primary.name))
    assert code in range(-27, -21), f"`check open` gave no documented reason (code {code})"
    mon.open_database(primary.name)
    assert dw.role(primary).writable_primary
    sql.execute(primary.name, "insert into t_open_alone values(1)")
    for standby in standbys:
        runbook.start_watcher(standby)
    dw.wait_roles(primary=primary, standby=standbys[0])
    dw.wait_healthy(mon.t.timers.recovery())
    for standby in standbys:
        assert sql.scalar(standby.name, "select count(*) from t_open_alone") == 1, standby.name
