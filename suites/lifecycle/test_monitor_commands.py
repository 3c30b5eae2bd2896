"""Lifecycle: the rest of dmmonitor's managing commands (reference 4.2, 7.3; seed 十二.2-3), each decided from
`show` and v$instance, never from the monitor's success sentence."""

from __future__ import annotations

import time

import pytest

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
    _acked_everywhere(history, sql, workload, (primary, standby))


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
    time.sleep(10)
    assert runbook.dm_pids(standby, "dmserver") == [], "a killed instance was restarted by its watcher"
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
    time.sleep(10)
    for node in dw.nodes:
        assert runbook.dm_pids(node, "dmserver") == [], f"{node}'s instance came back after kill group"
    runbook.exit_monitor()
    for node in (primary, standby):
        runbook.stop_watcher(node)
    runbook.start_in_seed_order([primary.name, standby.name])
    dw.wait_roles(primary=primary, standby=standby)
    for node in (primary, standby):
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
