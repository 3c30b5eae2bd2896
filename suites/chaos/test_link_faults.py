"""Chaos: network faults on each DM8 link (MAL, DW, MON, INST_DW, CLIENT) x fault kind (cut both ways,
one way, reset, latency, bandwidth) x DW_MODE (MANUAL, AUTO), each under a running workload (DESIGN.md §6,
reference 3.3 / 5.2, seed 十二.2). The non-slow subset is one cut per link in MANUAL; the rest is slow.
"""

from __future__ import annotations

import pytest

from harness.fault_matrix import (
    Case,
    check_verdict,
    hold_until,
    matrix,
    not_taken_over,
    open_fault,
    start_fault,
    wait_recovered,
)

pytestmark = [pytest.mark.chaos, pytest.mark.signoff("chaos")]

QUICK = {Case("MAL", "cut"), Case("DW", "cut"), Case("MON", "cut"), Case("INST_DW", "cut"), Case("CLIENT", "cut")}
CASES = [pytest.param(c, id=c.id, marks=(*(() if c in QUICK else (pytest.mark.slow,)),
                                         *((pytest.mark.dw_auto,) if c.dw_mode == "AUTO" else ())))
         for c in matrix()]


@pytest.mark.parametrize("case", CASES)
def test_link_fault(case: Case, dw, chaos, workload, report) -> None:
    """Reference 3.3 / 5.2 under a workload through the seed's service: while the fault lasts (at least the
    DM failure-detection time), MAL breaks make the primary suspend and mark the standby's archive INVALID,
    then serve again; other link faults leave the primary serving (clients cut off excepted); no takeover
    happens. After the heal the group is healthy within INST_RECOVER_TIME plus detection; no acknowledged
    write is lost, there were never two writable primaries, and the standby equals the primary."""
    p, s = dw.primary, dw.standby
    timers = dw.t.timers
    fault = open_fault(chaos, dw.t, case, p.host_name, s.host_name)
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(10, timeout=timers.group_open(), what="before the fault")
        start_fault(fault, dw)
        lasts_until = history.mark(ahead=timers.failure_detect())  # at least DM's failure-detection time
        try:
            if case.breaks_mal:
                dw.wait_archive(s, "INVALID", primary=p)
                workload.wait_acked(5, what=f"by {p.name} after invalidating {s.name}")
                assert dw.role(p).writable_primary
            elif case.blocks_clients:
                settled = history.mark(ahead=2.0)  # statements in flight at the cut may still complete
                hold_until(lambda: not history.acked_after(settled), lasts_until, "no write succeeding with CLIENT cut")
            else:
                workload.wait_acked(5, what=f"during the {case.link} {case.fault}")
            hold_until(not_taken_over(dw, p), lasts_until, f"no takeover ({case.dw_mode})")
        finally:
            fault.heal()
        took = wait_recovered(dw, since=history.mark())
        workload.wait_acked(5, timeout=timers.group_open(), what="after the recovery")
    verdict = check_verdict(history, dw, p)
    report.measure("recovery after the heal", took, "s", note=f"{case.id}; {verdict.acknowledged} writes acknowledged")
