"""Consistency under faults: a MAL cut, a full archive or data directory on the primary, a slow disk
under its redo, a clock jump on one host, packet loss / duplication / reordering on MAL. The group
must ride each out and the transactional workloads must see no anomaly (reference 3.3, §1
ARCH_HANG_FLAG, §10 pitfall 5 on OS time).

Faults the target cannot have (slow disk on real DM8, packet faults without iptables) skip with the
reason chaos gives."""

from __future__ import annotations

import pytest

from harness.workloads import Workloads

pytestmark = [pytest.mark.consistency, pytest.mark.chaos]

FAULTS = {  # name -> (kind chaos.unsupported() knows, fault)
    "disk-full-archive": ("disk_full", lambda c, dw: c.disk_full(dw.primary.host_name, "archive")),
    "disk-full-data": ("disk_full", lambda c, dw: c.disk_full(dw.primary.host_name, "data")),
    "slow-disk": ("slow_disk", lambda c, dw: c.slow_disk(dw.primary.host_name, 150)),
    "clock-ahead-standby": ("clock_skew", lambda c, dw: c.clock_skew(dw.standby.host_name, 90)),
    "clock-behind-primary": ("clock_skew", lambda c, dw: c.clock_skew(dw.primary.host_name, -90)),
    "loss-reorder-mal": ("packets", lambda c, dw: c.packets("MAL", loss=3, reorder=25)),
    "duplicate-mal": ("packet_duplication", lambda c, dw: c.packets("MAL", duplicate=5)),
}


def _require(chaos, kind: str) -> None:
    why = chaos.unsupported(kind)
    if why:
        pytest.skip(why)


def test_no_anomaly_through_a_mal_cut(dw, workloads, chaos) -> None:
    """Reference 3.3: MAL cut both ways; the primary suspends, its watcher sets the standby's archive
    INVALID and it carries on alone; after the heal the standby is recovered (archive VALID). Bank and
    list-append see no anomaly, the standby reads included."""
    new = dw.standby
    with workloads.bank(accounts=8).running() as bank, workloads.list_append(keys=6).running() as lists:
        with chaos.cut("MAL"):
            dw.wait_archive(new, "INVALID")
            bank.wait_acked(10)
        dw.wait_archive(new, "VALID")
        dw.wait_healthy()
        lists.wait_acked(10)
    for history in (bank, lists):
        verdict = history.check()
        assert verdict.valid, verdict.explain()


def test_commits_hang_while_the_primary_archive_is_full_then_resume(dw, workloads, chaos) -> None:
    """Reference §1 ARCH_HANG_FLAG=1: while the primary's first local archive cannot be written no commit
    returns (reads still do); once space returns the writes resume, the primary stays PRIMARY and the
    list-append checker finds no anomaly (no half-written commit, no lost append)."""
    _require(chaos, "disk_full")
    old = dw.primary
    with workloads.list_append(keys=6).running() as lists:
        with chaos.disk_full(old.host_name, "archive"):
            lists.hold_no_writes(4)
        lists.wait_acked(10)
    verdict = lists.check()
    assert verdict.valid, verdict.explain()
    assert dw.role(old).writable_primary


def test_no_anomaly_with_a_slow_disk_under_the_primary_redo(dw, workloads, chaos) -> None:
    """Every redo/archive fsync on the primary takes 150 ms longer: commits slow down, bank transfers stay
    whole on both instances and nothing acknowledged is lost."""
    _require(chaos, "slow_disk")
    with workloads.bank(accounts=8).running() as bank:
        with chaos.slow_disk(dw.primary.host_name, 150):
            bank.wait_acked(10)
    verdict = bank.check()
    assert verdict.valid, verdict.explain()


def test_no_anomaly_through_a_switchover_while_the_standby_clock_is_ahead(dw, monitor, runbook, workloads,
                                                                         chaos) -> None:
    """Reference §10 pitfall 5: the standby's clock jumps 90 s ahead; a switchover to it and back still
    completes and list-append sees no anomaly (the order of commits is the redo's, not the clocks')."""
    _require(chaos, "clock_skew")
    old, new = dw.primary, dw.standby
    with workloads.list_append(keys=6).running() as lists:
        with chaos.clock_skew(new.host_name, 90):
            runbook.switchover(monitor, new, lists)
            runbook.switchover(monitor, old, lists)
    verdict = lists.check()
    assert verdict.valid, verdict.explain()


def test_no_anomaly_with_packet_loss_and_reordering_on_mal(dw, workloads, chaos) -> None:
    """3 % of MAL packets lost and a quarter reordered: TCP hides it or the link breaks and the standby is
    recovered afterwards; either way bank and list-append see no anomaly and the group heals."""
    _require(chaos, "packets")
    with workloads.bank(accounts=8).running() as bank, workloads.list_append(keys=6).running() as lists:
        with chaos.packets("MAL", loss=3, reorder=25):
            bank.wait_acked(10)
            lists.wait_acked(10)
        dw.wait_healthy()
    for history in (bank, lists):
        verdict = history.check()
        assert verdict.valid, verdict.explain()


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(Workloads.KINDS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_matrix(fault, kind, dw, workloads, chaos) -> None:
    """Every new fault x every workload: the fault dwells 5 s while the workload runs, heals, the group is
    healthy again and the workload makes progress; its checker finds no anomaly."""
    need, make = FAULTS[fault]
    _require(chaos, need)
    with workloads.make(kind).running() as history:
        with make(chaos, dw):
            history.run_for(5)
        dw.wait_healthy()
        history.wait_acked(10)
    verdict = history.check()
    assert verdict.valid, verdict.explain()
