"""Failover: split brain after healing a takeover (seed 十二.2.3) and the online rebuild (seed 十二.2.4)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.failover, pytest.mark.signoff("split-brain")]


@pytest.mark.destructive
def test_split_brain_after_healing_a_takeover_then_online_rebuild(dw, monitor, runbook, workload, chaos,
                                                                   report, topology) -> None:
    """Seed 十二.2.3: isolate the primary's host, take over on the standby, restore the network: the old
    primary comes back still PRIMARY and `show` marks it SPLIT, `tip` reports the group not normal.
    Seed 十二.2.4: rebuild it online from the new primary (exit monitor, stop its watcher, remove the
    dmwatcher control files, online backup, RESTORE/RECOVER/UPDATE DB_MAGIC, standby, watcher, monitor):
    the group is healthy again and the rebuilt standby holds exactly the new primary's data."""
    if why := topology.beyond_seed("covered by suites/topology test_split_brain_rebuild_of_one_node_while_the_others_stay_in_service"):
        pytest.skip(why)
    old, new = dw.primary, dw.standby
    with workload.running(chaos=chaos, acked=30) as history:
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
        dw.wait_roles(primary=new, standby=old, timeout=dw.t.timers.recovery())
        state = dw.wait_healthy()
        assert state is None or state.db(old.name).wctlstat == "VALID", state
        normal, text = monitor.tip()  # the monitor the rebuild started (step 8): the same handle
        assert normal, text
        workload.wait_acked(10)
    verdict = history.check(lost_after=fault.start, allow=("two-primaries",))  # measured below
    assert verdict.divergence == [], verdict.explain()
    assert history.acked_before(fault.start, verdict.lost) == [], verdict.explain()
    report.measure("acknowledged writes lost", len(verdict.lost), "writes",
                   note=f"split brain (seed 十二.2.3): acknowledged by the isolated old primary; RPO LSN gap "
                        f"{verdict.rpo.lsn_gap}")
    report.measure("two writable primaries", verdict.two_primaries_window, "s", note="split brain (seed 十二.2.3)")
