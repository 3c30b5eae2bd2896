"""Failover: takeover when the primary's host is lost (seed 十二.2.2, reference 7.2) and `takeover force`."""

from __future__ import annotations

import pytest

from harness.monitor import MonitorError

pytestmark = [pytest.mark.failover, pytest.mark.signoff("takeover")]


def test_takeover_is_refused_while_the_group_is_healthy(dw, monitor) -> None:
    """Seed 十二.2.2: "如果所有节点正常，则没有候选节点": `choose takeover` is empty and `takeover` fails
    while the primary is healthy; the roles do not change."""
    old, new = dw.primary, dw.standby
    assert monitor.choose_takeover() == []
    with pytest.raises(MonitorError):
        monitor.takeover(new.name)
    assert dw.role(old).writable_primary and dw.role(new).mode == "STANDBY"
    assert dw.healthy()


@pytest.mark.destructive
def test_takeover_after_the_primary_host_is_isolated(dw, monitor, runbook, workload, chaos, report,
                                                    topology) -> None:
    """Seed 十二.2.2: the primary's host loses its network; the monitor reports it ERROR; `choose takeover`
    now lists the standby; `takeover` makes it PRIMARY OPEN with every write the old primary had
    acknowledged before the isolation. The old primary stays out of the group (stopped on its host)."""
    if why := topology.beyond_seed("covered by suites/topology test_takeover_picks_a_realtime_standby_never_the_async"):
        pytest.skip(why)
    old, new = dw.primary, dw.standby
    assert monitor.choose_takeover() == []
    with workload.running(chaos=chaos, acked=10) as history:
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            assert monitor.choose_takeover() == [new.name]
            runbook.takeover(monitor, new, workload)
            runbook.retire(old, workload)
    verdict = history.check(lost_after=fault.start, allow=("two-primaries",))  # the isolated old primary
    assert history.acked_before(fault.start, verdict.lost) == [], verdict.explain()
    # only writes a client could still make on the isolated old primary (split brain, 十二.2.3)
    report.measure("acknowledged writes lost", len(verdict.lost), "writes",
                   note=f"acknowledged by the isolated old primary; RPO LSN gap {verdict.rpo.lsn_gap}")
    assert dw.role(new).writable_primary


@pytest.mark.destructive
def test_takeover_force_when_the_standby_is_out_of_sync(dw, monitor, runbook, workload, chaos, report) -> None:
    """Reference 7.2/4.2: the MAL links break (the primary carries on and marks every real-time standby's
    archive INVALID), then the primary's host is lost. `choose takeover` is empty (no archive VALID), `choose
    takeover force` lists the real-time standbys (never an ASYNC one), and `takeover force` opens the first
    as PRIMARY; once the links return the other standbys follow it. DM8 documents the loss: writes the
    primary acknowledged after the MAL break are lost; they are measured, and nothing acknowledged before
    the break is."""
    old, new = dw.primary, dw.standby
    others = [n for n in dw.standbys() if n.name not in (old.name, new.name)]
    realtime = sorted(n.name for n in dw.realtime_standbys())
    with workload.running(chaos=chaos, acked=10) as history:
        with chaos.cut("MAL") as cut:
            for name in realtime:
                monitor.wait_for(name, rstat="INVALID")
            workload.wait_acked(10)
            with chaos.isolate(old.host_name):
                monitor.wait_for(old.name, wstatus="ERROR")
                assert monitor.choose_takeover() == []
                assert sorted(monitor.choose_takeover(force=True)) == realtime
                runbook.takeover(monitor, new, force=True)
                runbook.retire(old, workload)
        dw.wait_following(new, others)
    verdict = history.check(lost_after=cut.start, allow=("two-primaries",))  # the isolated old primary
    assert history.acked_before(cut.start, verdict.lost) == [], verdict.explain()
    assert verdict.rpo.rows == len(verdict.lost), verdict.explain()
    report.measure("acknowledged writes lost", len(verdict.lost), "writes",
                   note=f"takeover force after the MAL break (documented); RPO LSN gap {verdict.rpo.lsn_gap}")
    assert dw.role(new).writable_primary
