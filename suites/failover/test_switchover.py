"""Failover: the seed's switchover to the standby and back (seed 十二.2.1, reference 7.1)."""

from __future__ import annotations

import pytest

from harness.monitor import MonitorError

pytestmark = [pytest.mark.failover, pytest.mark.signoff("switchover")]


def test_switchover_to_the_standby_and_back(dw, monitor, runbook, workload, chaos) -> None:
    """Seed 十二.2.1: `choose switchover` lists the standby; after `login` and `switchover mema2` the roles
    swap, N_OPEN goes up by one and is equal on both nodes once the standby applied the primary's redo
    (reference 4.3/7.1), writers carry on on the new primary, and `switchover mema1` brings the group back
    (N_OPEN up by one again). No acknowledged write is lost. With several standbys `choose switchover`
    lists every real-time standby (never an ASYNC one) and the switchover goes to the first."""
    old, new = dw.primary, dw.standby

    def candidates() -> list[str]:
        """The real-time standbys of the current primary: exactly what `choose switchover` must list."""
        return sorted(n.name for n in dw.realtime_nodes() if n.name != dw.primary.name)
    n = runbook.wait_equal_n_open()
    with workload.running(chaos=chaos, acked=10) as history:
        assert sorted(monitor.choose_switchover()) == candidates() and new.name in candidates()
        monitor.login()
        monitor.switchover(new.name)
        dw.wait_roles(primary=new, standby=old)
        monitor.wait_healthy()
        runbook.wait_equal_n_open(n + 1)
        workload.wait_acked(10)
        assert sorted(monitor.choose_switchover()) == candidates() and old.name in candidates()
        monitor.switchover(old.name)
        dw.wait_roles(primary=old, standby=new)
        monitor.wait_healthy()
        runbook.wait_equal_n_open(n + 2)
        workload.wait_acked(10)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
    assert verdict.acknowledged > 0, verdict.explain()


def test_switchover_is_refused_to_the_primary_itself(dw, monitor) -> None:
    """Reference 7.1: only a standby qualifies; `switchover` to the primary changes nothing."""
    p = dw.primary
    assert p.name not in monitor.choose_switchover()
    with pytest.raises(MonitorError):
        monitor.switchover(p.name)
    assert dw.role(p).writable_primary
    assert dw.healthy()
