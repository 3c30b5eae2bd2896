"""Failover: takeover when the primary's host is lost (seed 十二.2.2, reference 7.2) and `takeover force`."""

from __future__ import annotations

import time

import pytest

from harness.monitor import MonitorError
from suites.failover.runbook import acked_before, leave_group, report_loss, wait_writes

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
def test_takeover_after_the_primary_host_is_isolated(dw, monitor, runbook, workload, chaos, request) -> None:
    """Seed 十二.2.2: the primary's host loses its network; the monitor reports it ERROR; `choose takeover`
    now lists the standby; `takeover` makes it PRIMARY OPEN with every write the old primary had
    acknowledged before the isolation. The old primary stays out of the group (stopped on its host)."""
    old, new = dw.primary, dw.standby
    assert monitor.choose_takeover() == []
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0)
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            assert monitor.choose_takeover() == [new.name]
            monitor.takeover(new.name)
            dw.wait_roles(primary=new)
            wait_writes(history, after=time.monotonic())
            runbook.stop_watcher(old)  # the failed host's DM processes are gone before the network returns
            leave_group(workload, old)
    verdict = history.check()
    assert acked_before(history, verdict.lost, fault.start) == [], verdict.explain()
    if verdict.lost:  # only writes a client could still make on the isolated old primary (split brain, 十二.2.3)
        report_loss(request, verdict, "writes acknowledged by the isolated old primary")
    assert dw.role(new).writable_primary


@pytest.mark.destructive
def test_takeover_force_when_the_standby_is_out_of_sync(dw, monitor, runbook, workload, chaos, request) -> None:
    """Reference 7.2/4.2: the MAL link breaks (the primary carries on and marks the standby's archive
    INVALID), then the primary's host is lost. `choose takeover` is empty (archive not VALID), `choose
    takeover force` lists the standby, and `takeover force` opens it as PRIMARY. DM8 documents the loss:
    writes the primary acknowledged after the MAL break are lost; they are measured, and nothing
    acknowledged before the break is."""
    old, new = dw.primary, dw.standby
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0)
        with chaos.cut("MAL") as cut:
            monitor.wait_for(new.name, rstat="INVALID")
            wait_writes(history, after=time.monotonic())
            with chaos.isolate(old.host_name):
                monitor.wait_for(old.name, wstatus="ERROR")
                assert monitor.choose_takeover() == []
                assert monitor.choose_takeover(force=True) == [new.name]
                monitor.takeover(new.name, force=True)
                dw.wait_roles(primary=new)
                runbook.stop_watcher(old)
                leave_group(workload, old)
    verdict = history.check()
    assert acked_before(history, verdict.lost, cut.start) == [], verdict.explain()
    assert verdict.rpo.rows == len(verdict.lost), verdict.explain()
    report_loss(request, verdict, "takeover force after the MAL break")
    assert dw.role(new).writable_primary
