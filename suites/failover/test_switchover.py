"""Failover: the seed's switchover to the standby and back (seed 十二.2.1, reference 7.1)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.wait import wait_until
from suites.failover.runbook import wait_writes

pytestmark = [pytest.mark.failover, pytest.mark.signoff("switchover")]


def test_switchover_to_the_standby_and_back(dw, monitor, runbook, workload, chaos) -> None:
    """Seed 十二.2.1: `choose switchover` lists the standby; after `login` and `switchover mema2` the roles
    swap, N_OPEN goes up by one and is equal on both nodes once the standby applied the primary's redo
    (reference 4.3/7.1), writers carry on on the new primary, and `switchover mema1` brings the group back
    (N_OPEN up by one again). No acknowledged write is lost."""
    old, new = dw.primary, dw.standby
    n = _equal_n_open(runbook, monitor, None)
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0)
        assert monitor.choose_switchover() == [new.name]
        monitor.login()
        monitor.switchover(new.name)
        dw.wait_roles(primary=new, standby=old)
        monitor.wait_healthy()
        _equal_n_open(runbook, monitor, n + 1)
        wait_writes(history, after=time.monotonic())
        assert monitor.choose_switchover() == [old.name]
        monitor.switchover(old.name)
        dw.wait_roles(primary=old, standby=new)
        monitor.wait_healthy()
        _equal_n_open(runbook, monitor, n + 2)
        wait_writes(history, after=time.monotonic())
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
    assert verdict.acknowledged > 0, verdict.explain()


def _equal_n_open(runbook: Any, monitor: Any, want: int | None, timeout: float = 30.0) -> int:
    """Wait until `show` reports the same N_OPEN on every node (and `want`, when given); return it.

    Equal N_OPEN means the standby applied its primary's redo (reference 4.3), which may lag the roles."""
    seen = wait_until(lambda: runbook.n_open(monitor), timeout,
                      f"equal N_OPEN{'' if want is None else f' = {want}'} on every node",
                      ok=lambda v: len(v) > 1 and None not in v.values() and len(set(v.values())) == 1
                      and (want is None or set(v.values()) == {want}))
    return next(iter(seen.values()))


def test_switchover_is_refused_to_the_primary_itself(dw, monitor) -> None:
    """Reference 7.1: only a standby qualifies; `switchover` to the primary changes nothing."""
    from harness.monitor import MonitorError

    p = dw.primary
    assert p.name not in monitor.choose_switchover()
    with pytest.raises(MonitorError):
        monitor.switchover(p.name)
    assert dw.role(p).writable_primary
    assert dw.healthy()
