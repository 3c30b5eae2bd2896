"""Chaos: network faults on each DM8 link (MAL, DW, MON, INST_DW, CLIENT) x fault kind (cut both ways,
one way, reset, latency, bandwidth) x DW_MODE (MANUAL, AUTO), each under a running workload (DESIGN.md §6,
reference 3.3 / 5.2, seed 十二.2). The non-slow subset is one cut per link in MANUAL; the rest is slow.
"""

from __future__ import annotations

import time

import pytest

from harness.wait import hold, wait_until
from suites.chaos.faults import (
    Case,
    check_verdict,
    matrix,
    not_taken_over,
    open_fault,
    start_or_skip,
    wait_recovered,
)
from suites.failover.runbook import wait_writes

pytestmark = [pytest.mark.chaos, pytest.mark.signoff("chaos")]

QUICK = {Case("MAL", "cut"), Case("DW", "cut"), Case("MON", "cut"), Case("INST_DW", "cut"), Case("CLIENT", "cut")}
CASES = [pytest.param(c, id=c.id, marks=(*(() if c in QUICK else (pytest.mark.slow,)),
                                         *((pytest.mark.dw_auto,) if c.dw_mode == "AUTO" else ())))
         for c in matrix()]


@pytest.mark.parametrize("case", CASES)
def test_link_fault(case: Case, request, dw, chaos, workload, dw_group) -> None:
    """Reference 3.3 / 5.2 under a workload through the seed's service: while the fault lasts (at least the
    DM failure-detection time), MAL breaks make the primary suspend and mark the standby's archive INVALID,
    then serve again; other link faults leave the primary serving (clients cut off excepted); no takeover
    happens. After the heal the group is healthy within INST_RECOVER_TIME plus detection; no acknowledged
    write is lost, there were never two writable primaries, and the standby equals the primary."""
    if case.dw_mode == "AUTO":
        request.getfixturevalue("auto_mode")
    p, s = dw.primary, dw.standby
    timers = dw.t.timers
    detect = timers.failure_detect()
    fault = open_fault(chaos, dw.t, case, p.host_name, s.host_name)
    with workload.running(chaos=chaos) as history:
        wait_writes(history, after=0, n=10, timeout=timers.group_open(), what="before the fault")
        start_or_skip(fault, dw_group.backend.name)
        lasts_until = time.monotonic() + detect         # the fault lasts at least DM's failure-detection time
        try:
            if case.breaks_mal:
                wait_until(lambda: dw.rstat(p).get(s.name), detect + 30, f"{p.name} to mark {s.name}'s REALTIME archive INVALID",
                           ok=lambda st: st == "INVALID", interval=0.3)
                invalid_at = time.monotonic()
                wait_writes(history, after=invalid_at, n=5, timeout=detect + 30, what=f"by {p.name} after invalidating {s.name}")
                assert dw.role(p).writable_primary
            elif case.blocks_clients:
                settled = time.monotonic() + 2.0  # statements in flight at the cut may still complete
                hold(lambda: not history.acked(settled), max(1.0, lasts_until - time.monotonic()),
                     "no write succeeding with CLIENT cut")
            else:
                t0 = time.monotonic()
                wait_writes(history, after=t0, n=5, timeout=detect + 30, what=f"during the {case.link} {case.fault}")
            hold(not_taken_over(dw, s), max(1.0, lasts_until - time.monotonic()),
                 f"no takeover of {s.name} ({case.dw_mode})")
        finally:
            fault.heal()
        healed = time.monotonic()
        took = wait_recovered(dw, healed, request)
        wait_writes(history, after=time.monotonic(), n=5, timeout=timers.group_open(), what="after the recovery")
    verdict = check_verdict(history, dw, p, s)
    print(f"{case.id}: recovered {took:.1f}s after the heal; {verdict.acknowledged} writes acknowledged")
