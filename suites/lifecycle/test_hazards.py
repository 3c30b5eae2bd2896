"""Lifecycle: the documented hazards of stopping things in the wrong order (seed 十二.3, reference 3.4, 9)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.lifecycle, pytest.mark.signoff("shutdown-order")]


@pytest.mark.destructive
@pytest.mark.dw_auto
def test_stopping_the_primary_under_an_auto_confirm_monitor_takes_over(dw, runbook, workload, chaos) -> None:
    """Seed 十二.3 ("先关闭确认监视器（防止自动接管）") and reference 9: with DW_MODE AUTO, stopping the
    primary (its watcher, which stops the instance) while the confirm monitor still runs makes the
    monitor take over on a real-time standby: it becomes PRIMARY OPEN with every acknowledged write."""
    old = dw.primary
    candidates = dw.realtime_standbys()
    with workload.running(chaos=chaos, acked=30) as history:
        runbook.retire(old, workload)
        dw.wait_primary_among(candidates, timeout=dw.t.timers.group_open())
        workload.wait_acked(10)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()


def test_instance_killed_under_its_watcher_is_restarted(dw, runbook, workload, chaos) -> None:
    """Reference 3.4 (INST_AUTO_RESTART=1, seed 六.4): kill -9 the primary's dmserver; its watcher starts it
    again and reopens it as PRIMARY (DW_MODE MANUAL: no takeover); no acknowledged write is lost."""
    old, new = dw.primary, dw.standby
    before = runbook.dm_pids(old, "dmserver")
    assert before, f"no dmserver on {old}'s host"
    with workload.running(chaos=chaos, acked=30) as history:
        chaos.kill(old.host_name, "dmserver")
        dw.wait_roles(primary=old, standby=new, timeout=dw.t.timers.recovery())
        workload.wait_acked(10)
    after = runbook.dm_pids(old, "dmserver")
    assert after and not set(after) & set(before), f"dmserver pids before {before}, after {after}"
    promoted = [n.name for n in dw.standbys() if history.ever_primary(n.name)]
    assert promoted == [], f"{promoted} promoted"
    dw.wait_healthy()
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
