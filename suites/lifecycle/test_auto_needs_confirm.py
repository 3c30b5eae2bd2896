"""Lifecycle: DW_MODE AUTO needs its confirm monitor (reference 3.3 "Standby instance failure", 4.4, 9 item 6)."""

from __future__ import annotations

import pytest

from harness.wait import hold

pytestmark = [pytest.mark.lifecycle]


@pytest.mark.dw_auto
@pytest.mark.own_group("it exits the group's only confirm monitor, and a site's own monitor (its service or "
                       "start script) is not the harness's to stop and start again")
def test_auto_mode_without_confirm_monitor_stalls_on_standby_failure(dw, runbook, workload, chaos) -> None:
    """Reference 3.3 / 4.4 / 9.6 (B6: 故障自动切换模式下，必须配置确认监视器…否则…会导致数据库服务中断): in DW_MODE AUTO
    the primary's watcher needs the confirm monitor to confirm a standby's failure before it sets that
    standby's REALTIME archive INVALID. With the confirm monitor exited, a MAL cut leaves the primary
    SUSPEND (no write succeeds) and the archive VALID for well over DW_ERROR_TIME; once the monitor is
    started again it confirms, the archive goes INVALID and the primary serves writes. After the heal the
    group recovers and no acknowledged write is lost."""
    timers = dw.t.timers
    p, s = dw.primary, dw.standby
    with workload.running(chaos=chaos, acked=20) as history:
        runbook.exit_monitor()                                   # seed 十二.3.1 step 1, then forget it
        with chaos.cut("MAL"):
            dw.wait_role(p, "PRIMARY", "SUSPEND")                # the lost send suspends the primary
            settled = history.mark(ahead=2.0)                    # statements in flight at the cut may finish
            hold(lambda: (not dw.role(p).writable_primary and dw.rstat(p).get(s.name) == "VALID"
                          and not history.acked_after(settled)),
                 2 * timers.dw_error_time, f"{p} suspended, {s}'s archive VALID, no write acknowledged")
            assert dw.role(s).mode == "STANDBY", f"{s} was promoted"
            runbook.start_monitor()                              # the confirm monitor arrives
            dw.wait_archive(s, "INVALID", primary=p)
            dw.wait_roles(primary=p, timeout=30)
            workload.wait_acked(5)
        dw.wait_healthy()
        workload.wait_acked(5)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
