"""Consistency in DW_MODE AUTO: the confirm monitor takes over on its own when the primary's host is
isolated (reference 3.3, 7.2); the transactional workloads running through it see no anomaly."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.consistency, pytest.mark.failover, pytest.mark.dw_auto]


@pytest.mark.destructive
def test_no_anomaly_through_an_auto_takeover(dw, runbook, workloads, chaos) -> None:
    """The primary's host is isolated; the confirm monitor promotes a real-time standby with no operator command.
    Writes the isolated old primary acknowledged after the isolation may be lost by design (cut_off);
    list-append and register must show nothing else: no lost append, no non-linearizable register."""
    assert dw.monitor.show().mode == "AUTO"
    old = dw.primary
    candidates = dw.realtime_standbys()
    with workloads.list_append(keys=6).running() as lists, workloads.register(keys=4).running() as regs:
        with chaos.isolate(old.host_name) as fault:
            new = dw.wait_primary_among(candidates, timeout=dw.t.timers.group_open())
            lists.wait_acked(10)
            regs.wait_acked(10)
            runbook.retire(old, workloads)
    for history in (lists, regs):
        verdict = history.check(cut_off={old.name: fault.start})
        assert verdict.valid, verdict.explain()
    assert dw.role(new).writable_primary


@pytest.mark.slow
def test_no_anomaly_through_an_auto_group_switchover(dw, monitor, runbook, workloads) -> None:
    """A switchover in AUTO mode (the confirm monitor stays): bank and unique ids see no anomaly."""
    new = dw.standby
    with workloads.bank(accounts=8).running() as bank, workloads.unique_ids().running() as ids:
        runbook.switchover(monitor, new, bank, ids)
    for history in (bank, ids):
        verdict = history.check()
        assert verdict.valid, verdict.explain()
