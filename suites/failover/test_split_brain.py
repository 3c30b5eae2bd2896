"""Failover: split brain after healing a takeover (seed 十二.2.3) and the online rebuild (seed 十二.2.4)."""

from __future__ import annotations

import time

import pytest

from suites.failover.runbook import acked_before, report_loss, wait_writes

pytestmark = [pytest.mark.failover, pytest.mark.signoff("split-brain")]


@pytest.mark.destructive
def test_split_brain_after_healing_a_takeover_then_online_rebuild(dw, monitor, runbook, workload, chaos,
                                                                   request) -> None:
    """Seed 十二.2.3: isolate the primary's host, take over on the standby, restore the network: the old
    primary comes back still PRIMARY and `show` marks it SPLIT, `tip` reports the group not normal.
    Seed 十二.2.4: rebuild it online from the new primary (exit monitor, stop its watcher, remove the
    dmwatcher control files, online backup, RESTORE/RECOVER/UPDATE DB_MAGIC, standby, watcher, monitor):
    the group is healthy again and the rebuilt standby holds exactly the new primary's data."""
    old, new = dw.primary, dw.standby
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0, n=30)
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            monitor.takeover(new.name)
            dw.wait_roles(primary=new)
        split = monitor.wait_for(old.name, wctlstat="SPLIT")
        assert split.imode == "PRIMARY", split
        assert monitor.show().db(new.name).wctlstat == "VALID"
        normal, text = monitor.tip()
        assert not normal, text
        runbook.rebuild_standby(old, new)
        dw.wait_roles(primary=new, standby=old, timeout=runbook.t.timers.recovery())
        state = dw.wait_healthy()
        assert state is None or state.db(old.name).wctlstat == "VALID", state
        normal, text = dw.monitor.tip()  # the monitor restarted by the rebuild (step 8)
        assert normal, text
        wait_writes(history, after=time.monotonic())
    verdict = history.check()
    assert verdict.divergence == [], verdict.explain()
    assert acked_before(history, verdict.lost, fault.start) == [], verdict.explain()
    report_loss(request, verdict, "split brain (seed 十二.2.3), writes acknowledged by the isolated old primary")
