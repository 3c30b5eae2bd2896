"""Chaos: process faults under a running workload: kill -9 and SIGSTOP/SIGCONT of dmserver and dmwatcher on
each DB host and of dmmonitor (DESIGN.md §6; reference 3.3, 3.4 INST_AUTO_RESTART, 5.2; seed 十, 十二.2).

Expected: a killed dmserver is restarted by its watcher (INST_AUTO_RESTART = 1) and rejoins in its role;
a killed watcher or monitor is started again by the operator (seed 十 / 十一.2) while the instances keep
serving; a paused process resumes. MANUAL mode never takes over; nothing acknowledged is lost; the group
is healthy again within INST_RECOVER_TIME plus detection.
"""

from __future__ import annotations

import pytest

from harness.fault_matrix import check_verdict, hold_until, not_taken_over, wait_recovered
from harness.wait import hold

pytestmark = [pytest.mark.chaos, pytest.mark.signoff("chaos")]

TARGETS = [("primary", "dmserver"), ("standby", "dmserver"), ("primary", "dmwatcher"), ("standby", "dmwatcher"),
           ("monitor", "dmmonitor")]
QUICK = {("kill", "primary", "dmserver"), ("pause", "standby", "dmserver")}
CASES = [pytest.param(kind, where, proc, id=f"{kind}-{proc}-{where}",
                      marks=() if (kind, where, proc) in QUICK else pytest.mark.slow)
         for kind in ("kill", "pause") for where, proc in TARGETS]


def _restart(runbook, proc: str, node) -> None:
    """The operator's restart of a daemon nothing else restarts (seed 十 start the watcher, 十一.2 monitor)."""
    if proc == "dmwatcher":
        runbook.start_watcher(node)
    elif proc == "dmmonitor":
        runbook.start_monitor()


@pytest.mark.parametrize(("kind", "where", "proc"), CASES)
def test_process_fault(kind: str, where: str, proc: str, dw, runbook, chaos, workload, report) -> None:
    """Reference 3.3 / 3.4 / 5.2: kill -9 (or SIGSTOP for the failure-detection time, then SIGCONT) of one
    DM process while the workload writes through the seed's service; the primary keeps or regains
    PRIMARY OPEN, there is no takeover in MANUAL mode, the group is healthy again within
    INST_RECOVER_TIME plus detection, no acknowledged write is lost and never two writable primaries."""
    p, s = dw.primary, dw.standby
    node = {"primary": p, "standby": s}.get(where)
    host = node.host_name if node else dw.t.monitor_host.name
    timers = dw.t.timers
    detect = timers.failure_detect()
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(10, timeout=timers.group_open(), what="before the fault")
        if kind == "kill":
            chaos.kill(host, proc)
            dead_until = history.mark(ahead=detect)         # left dead at least DM's failure-detection time
            if proc == "dmserver":
                # INST_AUTO_RESTART: the watcher brings its instance back (a new pid) and reopens it
                dw.wait_roles(primary=p, timeout=timers.recovery())
            else:
                workload.wait_acked(5, what=f"while {proc} on {host} is dead")
                hold_until(not_taken_over(dw, p), dead_until, "no takeover")
                _restart(runbook, proc, node)
        else:
            with chaos.pause(host, proc):
                hold(not_taken_over(dw, p), detect + 1, f"no takeover while {proc} is stopped")
        took = wait_recovered(dw, since=history.mark())
        workload.wait_acked(5, timeout=timers.group_open(), what="after the recovery")
    verdict = check_verdict(history, dw, p)
    if proc != "dmmonitor":
        assert dw.monitor.show().healthy(list(dw.nodes))
    report.measure("recovery after the fault", took, "s",
                   note=f"{kind} {proc}@{host}; {verdict.acknowledged} writes acknowledged")
