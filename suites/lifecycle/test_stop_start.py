"""Lifecycle: the seed's stop and start order and `stop group` (seed 十二.3, reference 9)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.lifecycle, pytest.mark.signoff("shutdown-order")]


def test_seed_stop_order_stops_everything_without_takeover(dw, runbook, workload, chaos, sql) -> None:
    """Seed 十二.3.1: exit the monitor, stop the primary's watcher, then the standby's. Each watcher stops
    its instance and nothing is left running; the restart in the seed's order (十二.3.2) brings the same
    primary back, no watcher control file is SPLIT (no takeover happened), and every write acknowledged
    before the stop is on every node."""
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(30)
    verdict = history.check()
    assert verdict.lost == [] and verdict.valid, verdict.explain()
    order = runbook.stop_in_seed_order()
    primary, standbys = order[0], order[1:]
    for node in dw.nodes:
        assert runbook.dm_pids(node, "dmserver") == [], f"dmserver still runs on {node}'s host"
        assert runbook.dm_pids(node, "dmwatcher") == [], f"dmwatcher still runs on {node}'s host"
    mon = runbook.start_in_seed_order(order)
    dw.wait_roles(primary=primary, standby=standbys[0])
    state = mon.show()
    assert {db.wctlstat for db in state.databases.values()} == {"VALID"}, state.summary()
    normal, text = mon.tip()
    assert normal, text
    acked = sorted(op.value for op in history.acked_after())
    for node in order:
        ids = {int(r[0]) for r in sql.query(node, f"select ID from {workload.table}")}
        assert not set(acked) - ids, f"{node} lost {sorted(set(acked) - ids)[:20]} after the restart"


def test_seed_start_order_reaches_a_healthy_group(dw, runbook, sql) -> None:
    """Seed 十二.3.2: from a stopped group, start the primary's watcher, the standby's, then the monitor:
    `show` reports both OPEN and VALID, `tip` is normal, the roles are unchanged, each node's N_OPEN has
    gone up by one, and data written before the stop is on both nodes."""
    primary = dw.primary
    sql.execute(primary.name, "create table t_lifecycle_start as select * from sysobjects")
    rows = sql.scalar(primary.name, "select count(*) from t_lifecycle_start")
    dw.wait_replicated()
    n_open = runbook.n_open()
    order = runbook.stop_in_seed_order()
    mon = runbook.start_in_seed_order(order)
    state = mon.wait_healthy()
    assert {n: state.db(n).imode for n in order} == {n: "PRIMARY" if n == primary.name else "STANDBY" for n in order}, \
        state.summary()
    normal, text = mon.tip()
    assert normal, text
    assert runbook.n_open() == {name: n + 1 for name, n in n_open.items()}, (n_open, runbook.n_open())
    for node in order:
        assert sql.scalar(node, "select count(*) from t_lifecycle_start") == rows, node


def test_stop_group_from_the_monitor(dw, monitor, runbook) -> None:
    """Seed 十二.3.1: `stop group` from a logged-in monitor stops both instances cleanly while the watchers
    stay up in SHUTDOWN; `startup group` brings the group back healthy with the same roles."""
    primary, standby = dw.primary, dw.standby
    monitor.login()
    monitor.stop_group()
    for node in dw.nodes:
        runbook.wait_no_process(node, "dmserver")
        assert runbook.dm_pids(node, "dmwatcher"), f"the watcher on {node}'s host exited with its instance"
    state = monitor.show()
    assert {db.wstatus for db in state.databases.values()} == {"SHUTDOWN"}, state.summary()
    monitor.startup_group()
    dw.wait_roles(primary=primary, standby=standby)
    dw.wait_healthy()
