"""Consistency through failover: no anomaly a client can see through a switchover and back (seed
十二.2.1), a takeover after the primary's host is lost (seed 十二.2.2), or a kill -9 of the primary's
dmserver under its watcher (reference 3.4).

Each workload records every operation (invoke, ok / fail / info, instance) and its checker
(harness.checkers) judges the run: bank (whole transfers only, also on the standby), list-append
(Elle-style cycles, lost appends, reads going back in time), register (linearizable per key), unique ids
(no value twice, none backwards on one primary lineage).
"""

from __future__ import annotations

import pytest

from harness.workloads import Workloads

pytestmark = [pytest.mark.consistency, pytest.mark.failover]



@pytest.mark.parametrize("kind", list(Workloads.KINDS))
def test_no_anomaly_through_a_switchover_and_back(kind, dw, monitor, runbook, workloads) -> None:
    """Seed 十二.2.1: `switchover` to the standby and back while the workload runs; the clients follow the
    primary through the service name, the pinned readers keep reading each instance. The checker finds
    no anomaly and operations were acknowledged after each switchover."""
    old, new = dw.primary, dw.standby
    with workloads.make(kind).running() as history:
        runbook.switchover(monitor, new, history)
        runbook.switchover(monitor, old, history)
    verdict = history.check()
    assert verdict.valid, verdict.explain()
    assert verdict.stats["ok"] > 0, verdict.explain()


@pytest.mark.destructive
def test_no_anomaly_through_a_takeover_after_the_primary_host_is_isolated(dw, monitor, runbook, workloads,
                                                                         chaos) -> None:
    """Seed 十二.2.2: the primary's host loses its network, the monitor reports it ERROR, `takeover` opens
    the standby. Bank and list-append run throughout. A write the isolated old primary acknowledged after
    the isolation may be lost by design (a client could still reach it: 十二.2.3), so those are judged as
    `info` (cut_off) and counted in the report; every other acknowledged write must survive and no read
    may show a partial transfer or go back in time."""
    old, new = dw.primary, dw.standby
    candidates = sorted(n.name for n in dw.realtime_standbys())
    with workloads.bank(accounts=8).running() as bank, workloads.list_append(keys=6).running() as lists:
        with chaos.isolate(old.host_name) as fault:
            monitor.wait_for(old.name, wstatus="ERROR")
            assert sorted(monitor.choose_takeover()) == candidates
            runbook.takeover(monitor, new, bank, lists)
            runbook.retire(old, workloads)
    for history in (bank, lists):
        verdict = history.check(cut_off={old.name: fault.start})
        assert verdict.valid, verdict.explain()
    assert dw.role(new).writable_primary


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bank", "list-append", "register"])
def test_no_anomaly_when_the_primary_dmserver_is_killed(kind, dw, runbook, workloads, chaos) -> None:
    """Reference 3.4 (INST_AUTO_RESTART=1): kill -9 the primary's dmserver; its watcher restarts it as
    PRIMARY (MANUAL: no takeover). Writes in flight are `info`; nothing acknowledged may be lost and no
    read may see a partial or backwards state."""
    old, new = dw.primary, dw.standby
    with workloads.make(kind).running() as history:
        chaos.kill(old.host_name, "dmserver")
        dw.wait_roles(primary=old, standby=new, timeout=dw.t.timers.recovery())
        history.wait_acked(10)
    verdict = history.check()
    assert verdict.valid, verdict.explain()
