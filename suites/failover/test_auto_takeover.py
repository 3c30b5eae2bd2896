"""Failover: automatic takeover by the confirm monitor in DW_MODE AUTO (reference 3.3, 4.4, 7.2)."""

from __future__ import annotations

import time

import pytest

from harness.dw import READ_RETRIES
from harness.wait import hold
from suites.failover.runbook import AUTO_TAKEOVER, acked_before, leave_group, report_loss, wait_writes

pytestmark = [pytest.mark.failover, pytest.mark.signoff("takeover")]


@pytest.mark.destructive
def test_auto_takeover_when_the_primary_host_is_isolated(dw, auto_mode, workload, chaos, request) -> None:
    """Reference 3.3/7.2: with DW_MODE AUTO and a confirm monitor (MON_DW_CONFIRM=1) the monitor notices
    the primary's watcher silent for DW_ERROR_TIME, prints "start to auto takeover" and takes over on the
    VALID standby, with no operator command."""
    runbook = auto_mode
    monitor = dw.monitor
    assert monitor.show().mode == "AUTO"
    old, new = dw.primary, dw.standby
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0, n=30)
        with chaos.isolate(old.host_name) as fault:
            dw.wait_roles(primary=new, timeout=runbook.t.timers.group_open())
            wait_writes(history, after=time.monotonic())
            runbook.stop_watcher(old)
            leave_group(workload, old)
    monitor.messages()  # read what the monitor printed by itself
    assert AUTO_TAKEOVER.search(monitor.buffer), "the confirm monitor did not announce an auto takeover"
    verdict = history.check()
    assert acked_before(history, verdict.lost, fault.start) == [], verdict.explain()
    if verdict.lost:
        report_loss(request, verdict, "writes acknowledged by the isolated old primary")
    assert dw.role(new).writable_primary


def test_no_auto_takeover_when_only_the_monitor_link_is_lost(dw, auto_mode, workload, chaos) -> None:
    """Reference 3.3/4.4: the confirm monitor loses its link to the primary's watcher while the primary
    and standby still see each other: the monitor reports the watcher ERROR, but no takeover happens, and
    no acknowledged write is lost; once the link heals `show` is healthy again."""
    runbook = auto_mode
    monitor = dw.monitor
    old, new = dw.primary, dw.standby
    timers = runbook.t.timers
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0)
        with chaos.cut("MON", between=(dw.t.monitor_host.name, old.host_name)):
            monitor.wait_for(old.name, wstatus="ERROR")
            hold(lambda: dw.role(old, retries=READ_RETRIES).writable_primary
                 and dw.role(new, retries=READ_RETRIES).mode == "STANDBY",
                 timers.failure_detect() + timers.dw_error_time, f"{old} PRIMARY and {new} STANDBY")
        dw.wait_healthy()
        wait_writes(history, after=time.monotonic())
    monitor.messages()
    assert not AUTO_TAKEOVER.search(monitor.buffer), "the confirm monitor started an auto takeover"
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
