"""Topologies beyond one standby (seed 一.2; issue 14): a primary with several real-time standbys and
asynchronous ones. Runs on any --dw-config; on the seed's 1+1 the tests that need more standbys skip
and say which shape they need (examples/1p2rt1async.toml is the documented one)."""

from __future__ import annotations

import pytest

from harness.replication import fingerprint, unique_name
from harness.wait import hold

pytestmark = [pytest.mark.topology]


def _need(topology, realtime: int = 1, asynchronous: int = 0) -> None:
    reason = topology.missing(realtime, asynchronous)
    if reason:
        pytest.skip(reason)


@pytest.mark.signoff("replication")
def test_replication_reaches_every_standby(dw, sql) -> None:
    """Seed 十二.1 for every standby: rows committed on the primary appear on each real-time standby and,
    once its timer fired, on each ASYNC one -- same count and same position-weighted checksum."""
    p = dw.primary
    table = unique_name("T_EVERY")
    sql.execute(p.name, f"create table {table} (id int primary key, v int)")
    sql.execute(p.name, f"insert into {table} select level, mod(level * 7919, 1009) from dual "
                        "connect by level <= 500")
    want = fingerprint(sql, p.name, table, "id * v")
    assert want[0] == 500
    dw.wait_all_caught_up()
    got = {n.name: fingerprint(sql, n.name, table, "id * v") for n in dw.standbys()}
    assert got == {n.name: want for n in dw.standbys()}


@pytest.mark.signoff("replication")
def test_a_commit_returns_once_every_realtime_standby_has_it(dw, sql, topology, dw_group) -> None:
    """Reference 5.2 (G3): the primary sends each RLOG_PKG to every REALTIME standby before writing it
    locally, so when a commit returns every real-time standby (not just the first) has received it."""
    _need(topology, realtime=2)
    if dw_group.settings.target != "emulator":
        pytest.skip("reads V$RAPPLY_SYS RECV_LSN, an emulator addition no DM8 capture confirms")
    p = dw.primary
    table = unique_name("T_ACK")
    sql.execute(p.name, f"create table {table} (id int)")
    for i in range(5):
        sql.execute(p.name, f"insert into {table} values ({i})")
        committed = dw.lsn(p)[1]
        got = {n.name: dw.received_lsn(n) >= committed for n in dw.standbys() if n in dw.realtime_nodes()}
        assert all(got.values()), f"real-time standbys holding commit {i} when it returned: {got}"


@pytest.mark.signoff("replication")
def test_async_standby_catches_up_within_its_timer_period(dw, sql, topology, report) -> None:
    """Reference 5.1: an ASYNC standby receives the primary's redo when its dmtimer.ini timer fires: a
    commit reaches it within one timer period (plus shipping and apply). The lag is measured by DM8's
    LSNs (v$rlog CUR_LSN on the standby reaching the primary's)."""
    _need(topology, asynchronous=1)
    p = dw.primary
    table = unique_name("T_ASYNC")
    sql.execute(p.name, f"create table {table} (id int)")
    for node in dw.async_nodes():
        spec = dw.spec(node)
        period = topology.timers.async_period(spec.timer_minutes)
        sql.execute(p.name, f"insert into {table} select level from dual connect by level <= 100")
        lag = dw.wait_caught_up(node)
        report.measure(f"ASYNC lag of {node.name}", round(lag, 2), "s",
                       note=f"timer every {spec.timer_minutes} min = {period:g} s on this target")
        assert lag <= period + topology.timers.failure_detect(), f"{node.name} lagged {lag:.1f} s"
        assert fingerprint(sql, node.name, table, "id") == fingerprint(sql, p.name, table, "id")


@pytest.mark.signoff("switchover")
def test_switchover_to_each_realtime_standby_in_turn_and_back(dw, monitor, topology) -> None:
    """Seed 十二.2.1 across the group: `choose switchover` lists exactly the real-time standbys (never an
    ASYNC one); a switchover to each in turn makes it PRIMARY with every other node STANDBY and the
    group healthy; the last switchover brings the first primary back."""
    _need(topology, realtime=2)
    first = dw.primary
    rt = [n for n in dw.realtime_nodes() if n.name != first.name]
    monitor.login()
    for target in [*rt, first]:
        current = dw.primary
        want = sorted(n.name for n in dw.realtime_nodes() if n.name != current.name)
        assert sorted(monitor.choose_switchover()) == want
        monitor.switchover(target.name)
        dw.wait_roles(primary=target)
        dw.wait_healthy()
    assert dw.primary.name == first.name


@pytest.mark.signoff("switchover")
def test_switchover_to_an_async_standby_is_refused(dw, monitor, topology) -> None:
    """Reference 5.1: an ASYNC standby (LOCAL watcher) is no switchover candidate; asking for it changes
    nothing."""
    _need(topology, asynchronous=1)
    from harness.monitor import MonitorError

    p = dw.primary
    monitor.login()
    for node in dw.async_nodes():
        assert node.name not in monitor.choose_switchover()
        with pytest.raises(MonitorError):
            monitor.switchover(node.name)
    assert dw.role(p).writable_primary and dw.healthy()


@pytest.mark.destructive
@pytest.mark.signoff("takeover")
def test_takeover_picks_a_realtime_standby_never_the_async(dw, monitor, runbook, workload, chaos, topology,
                                                           report) -> None:
    """Seed 十二.2.2 with several standbys: the primary's host is lost; `choose takeover` (and `choose
    takeover force`) offer real-time standbys only, never an ASYNC one; after `takeover` the other
    standbys follow the new primary (their archives VALID again) and no acknowledged write is lost."""
    _need(topology, realtime=2, asynchronous=1)
    old = dw.primary
    rt = {n.name for n in dw.realtime_nodes()} - {old.name}
    asy = {n.name for n in dw.async_nodes()}
    with workload.running(chaos=chaos, acked=10) as history:
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            cands = monitor.choose_takeover()
            assert cands and set(cands) <= rt, cands
            assert not asy & set(monitor.choose_takeover(force=True))
            new = dw.node(cands[0])
            runbook.takeover(monitor, new, workload)
            runbook.retire(old, workload)
        others = [n for n in dw.standbys() if n.name != old.name]
        dw.wait_following(new, [n for n in others if n.name in rt], timeout=topology.timers.recovery())
        report.measure("takeover candidates", len(cands), "standbys", note=", ".join(cands))
    verdict = history.check(lost_after=fault.start, allow=("two-primaries",))  # the isolated old primary
    assert history.acked_before(fault.start, verdict.lost) == [], verdict.explain()
    assert dw.role(new).writable_primary
    archives = dw.archives(new)
    assert all(archives[n.name.upper()][1] == "VALID" for n in others), archives


@pytest.mark.signoff("replication")
def test_one_of_two_realtime_standbys_lost_then_recovered(dw, workload, chaos, topology) -> None:
    """Reference 4.2/5.2 with two real-time standbys: one standby's host is cut off; the primary marks
    that archive INVALID and writes go on (the other archive stays VALID); when the host returns, the
    primary recovers it after INST_RECOVER_TIME and its archive is VALID again, with every row."""
    _need(topology, realtime=2)
    p = dw.primary
    lost, kept = [n for n in dw.realtime_nodes() if n.name != p.name][-2:][::-1]
    with workload.running(chaos=chaos, acked=10) as history:
        with chaos.isolate(lost.host_name):
            dw.wait_archive(lost, "INVALID")
            workload.wait_acked(20)
            assert dw.archives()[kept.name.upper()][1] == "VALID"
            assert dw.role(p).writable_primary
        dw.wait_archive(lost, "VALID", timeout=topology.timers.recovery())
        workload.wait_acked(10)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
    dw.wait_healthy()


@pytest.mark.destructive
@pytest.mark.signoff("split-brain")
def test_split_brain_rebuild_of_one_node_while_the_others_stay_in_service(dw, monitor, runbook, workload, chaos,
                                                                          topology) -> None:
    """Seed 十二.2.3-十二.2.4 in a larger group: the primary's host is isolated and a real-time standby
    takes over; when the network returns the old primary is SPLIT and, for one ASYNC timer period, back on
    the network (its timer fires): the other standbys take none of its redo (reference 3.5: a split
    instance is not let back into the group) and stay STANDBY OPEN. It is rebuilt online from the new
    primary while the other standbys stay STANDBY OPEN with VALID archives and writes go on; afterwards
    the whole group is healthy and no acknowledged write is lost."""
    _need(topology, realtime=2, asynchronous=1)
    old = dw.primary
    with workload.running(chaos=chaos, acked=20) as history:
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            new = dw.node(monitor.choose_takeover()[0])
            monitor.login()
            monitor.takeover(new.name)
            dw.wait_roles(primary=new)
        split = monitor.wait_for(old.name, wctlstat="SPLIT")
        assert split.imode == "PRIMARY", split
        others = [n for n in dw.standbys() if n.name not in (old.name, new.name)]
        period = max(topology.timers.async_period(dw.spec(n).timer_minutes) for n in dw.async_nodes())
        hold(lambda: all(dw.role(n).mode == "STANDBY" for n in others), period + 1,
             "the other standbys stay STANDBY while the split old primary is back")
        runbook.rebuild_standby(old, new)
        assert {n.name: dw.role(n).mode for n in others} == {n.name: "STANDBY" for n in others}
        workload.wait_acked(10)
        dw.wait_roles(primary=new, standby=old, timeout=topology.timers.recovery())
        dw.wait_healthy()
        archives = dw.archives(new)
        assert all(archives[n.name.upper()][1] == "VALID" for n in [old, *others]), archives
    verdict = history.check(lost_after=fault.start, allow=("two-primaries",))  # the isolated old primary
    assert history.acked_before(fault.start, verdict.lost) == [], verdict.explain()
