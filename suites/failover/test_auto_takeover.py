"""Failover: automatic takeover by the confirm monitor in DW_MODE AUTO (reference 3.3, 4.4, 7.2)."""

from __future__ import annotations

import pytest

from harness.dw import READ_RETRIES
from harness.wait import hold

pytestmark = [pytest.mark.failover, pytest.mark.signoff("takeover"), pytest.mark.dw_auto]


@pytest.mark.destructive
def test_auto_takeover_when_the_primary_host_is_isolated(dw, runbook, workload, chaos, report) -> None:
    """Reference 3.3/7.2: with DW_MODE AUTO and a confirm monitor (MON_DW_CONFIRM=1) the monitor notices
    the primary's watcher silent for DW_ERROR_TIME and takes over on a VALID real-time standby (never an
    ASYNC one), with no operator command; the other standbys follow the new primary and none of them is
    taken over onto in turn (one takeover per lost primary). Decided from the roles and archives (the
    monitor's own announcement is evidence only)."""
    assert dw.monitor.show().mode == "AUTO"
    old = dw.primary
    candidates = dw.realtime_standbys()
    with workload.running(chaos=chaos, acked=30) as history:
        with chaos.isolate(old.host_name) as fault:
            new = dw.wait_primary_among(candidates, timeout=dw.t.timers.group_open())
            workload.wait_acked(10)
            runbook.retire(old, workload)
        others = [n for n in dw.standbys() if n.name not in (old.name, new.name)]
        dw.wait_following(new, others)
        if others:  # one takeover per lost primary: the lost old primary's last word is no second failure
            dw.hold_roles(new, others, dw.t.timers.failure_detect(), f"{new} the only primary after the takeover")
    verdict = history.check(lost_after=fault.start, allow=("two-primaries",))  # the isolated old primary
    assert history.acked_before(fault.start, verdict.lost) == [], verdict.explain()
    report.measure("acknowledged writes lost", len(verdict.lost), "writes",
                   note=f"acknowledged by the isolated old primary after the isolation; RPO LSN gap "
                        f"{verdict.rpo.lsn_gap}")
    assert dw.role(new).writable_primary
    assert [n.name for n in dw.async_nodes() if history.ever_primary(n.name)] == []


def test_no_auto_takeover_when_only_the_monitor_link_is_lost(dw, runbook, workload, chaos) -> None:
    """Reference 3.3/4.4: the confirm monitor loses its link to the primary's watcher while the primary
    and standby still see each other: the monitor reports the watcher ERROR, but no takeover happens, and
    no acknowledged write is lost; once the link heals `show` is healthy again."""
    old, new = dw.primary, dw.standby
    timers = dw.t.timers
    with workload.running(chaos=chaos, acked=10) as history:
        with chaos.cut("MON", between=(dw.t.monitor_host.name, old.host_name)):
            dw.monitor.wait_for(old.name, wstatus="ERROR")
            hold(lambda: dw.role(old, retries=READ_RETRIES).writable_primary
                 and dw.role(new, retries=READ_RETRIES).mode == "STANDBY",
                 timers.failure_detect() + timers.dw_error_time, f"{old} PRIMARY and {new} STANDBY")
        dw.wait_healthy()
        workload.wait_acked(10)
    promoted = [n.name for n in dw.standbys() if history.ever_primary(n.name)]
    assert promoted == [], f"{promoted} promoted although only the MON link was lost"
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
