"""Lifecycle: DW_MODE AUTO needs its confirm monitor (reference 3.3 "Standby instance failure", 4.4, 9 item 6)."""

from __future__ import annotations

import time

import pytest

from harness.wait import hold, wait_until
from suites.failover.runbook import wait_writes

pytestmark = [pytest.mark.lifecycle]


def test_auto_mode_without_confirm_monitor_stalls_on_standby_failure(dw, auto_mode, workload, chaos) -> None:
    """Reference 3.3 / 4.4 / 9.6 (B6: 故障自动切换模式下，必须配置确认监视器…否则…会导致数据库服务中断): in DW_MODE AUTO
    the primary's watcher needs the confirm monitor to confirm a standby's failure before it sets that
    standby's REALTIME archive INVALID. With the confirm monitor exited, a MAL cut leaves the primary
    SUSPEND (no write succeeds) and the archive VALID for well over DW_ERROR_TIME; once the monitor is
    started again it confirms, the archive goes INVALID and the primary serves writes. After the heal the
    group recovers and no acknowledged write is lost."""
    runbook = auto_mode
    timers = runbook.t.timers
    p, s = dw.primary, dw.standby
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0, n=20)
        runbook.exit_monitor()                                   # seed 十二.3.1 step 1, then forget it
        with chaos.cut("MAL"):
            wait_until(lambda: dw.role(p), timers.failure_detect() + 30, f"{p} to suspend on the lost send",
                       ok=lambda r: r.mode == "PRIMARY" and r.status == "SUSPEND", interval=0.3)
            settled = time.monotonic() + 2.0                     # statements in flight at the cut may finish
            hold(lambda: (not dw.role(p).writable_primary and dw.rstat(p).get(s.name) == "VALID"
                          and not history.acked(settled)),
                 2 * timers.dw_error_time, f"{p} suspended, {s}'s archive VALID, no write acknowledged")
            assert dw.role(s).mode == "STANDBY", f"{s} was promoted"
            runbook.start_monitor()                              # the confirm monitor arrives
            wait_until(lambda: dw.rstat(p).get(s.name), timers.failure_detect() + 30,
                       f"{p} to mark {s}'s REALTIME archive INVALID", ok=lambda st: st == "INVALID", interval=0.3)
            wait_until(lambda: dw.role(p).writable_primary, 30, f"{p} PRIMARY OPEN", interval=0.3)
            wait_writes(history, after=time.monotonic(), n=5)
        dw.wait_healthy()
        wait_writes(history, after=time.monotonic(), n=5)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.valid, verdict.explain()
