"""The chaos suite's fault matrix (link x fault x DW_MODE), what DM8 should do under each fault, and the
steps every case shares (workload on, fault, expected behaviour, heal, recovery, verdict).

Expected behaviour (reference 3.3, 5.2, 9; seed 十二.2):
- MAL broken (cut either way, reset): the primary cannot ship redo, SUSPENDs, its watcher marks the
  standby's REALTIME archive INVALID and the primary carries on OPEN; after the heal the primary's watcher
  recovers the standby within INST_RECOVER_TIME (plus detection).
- MAL slow (latency, bandwidth), DW, MON and the standby's INST_DW link: the primary keeps serving.
- CLIENT cut: no write succeeds while it lasts; the group itself does not notice.
- Never a takeover in MANUAL; in AUTO none either, since the primary stays alive and visible to the
  confirm monitor. No acknowledged write is lost and never two writable primaries.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from harness.errors import BackendLimit, HarnessError
from harness.wait import hold

LINKS = ("MAL", "DW", "MON", "INST_DW", "CLIENT")
FAULTS = ("cut", "oneway", "reset", "latency", "bandwidth")
DW_MODES = ("MANUAL", "AUTO")
LATENCY_MS = 200
BANDWIDTH_KBPS = 1024


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell of the matrix."""

    link: str
    fault: str
    dw_mode: str = "MANUAL"

    @property
    def id(self) -> str:
        return f"{self.link}-{self.fault}-{self.dw_mode}"

    @property
    def breaks_mal(self) -> bool:
        """The redo link is broken: the standby must be invalidated."""
        return self.link == "MAL" and self.fault in ("cut", "oneway", "reset")

    @property
    def blocks_clients(self) -> bool:
        return self.link == "CLIENT" and self.fault in ("cut", "oneway", "reset")


def matrix() -> list[Case]:
    return [Case(link, fault, mode) for mode in DW_MODES for link in LINKS for fault in FAULTS]


def open_fault(chaos: Any, topo: Any, case: Case, primary_host: str, standby_host: str) -> Any:
    """The chaos Fault for a case (not started). One-way faults drop what the primary's side sends
    (primary -> standby, monitor -> primary, client -> primary); INST_DW is the standby host's own link."""
    between = (standby_host,) if case.link == "INST_DW" else None
    direction = {"MAL": f"{primary_host}->{standby_host}", "DW": f"{primary_host}->{standby_host}",
                 "MON": f"{topo.monitor_host.name}->{primary_host}", "INST_DW": f"{standby_host}->{standby_host}",
                 "CLIENT": f"client->{primary_host}"}[case.link]
    if case.fault == "cut":
        return chaos.cut(case.link, between=between)
    if case.fault == "oneway":
        return chaos.cut(case.link, direction=direction, between=between)
    if case.fault == "reset":
        return chaos.cut(case.link, mode="reset", between=between)
    # The client is the harness process itself (not a container): CLIENT is slowed on the primary's side,
    # its answers to the client (the one direction a DB host can shape).
    shaped = f"{primary_host}->client" if case.link == "CLIENT" else None
    if case.fault == "latency":
        return chaos.latency(case.link, LATENCY_MS, between=between, direction=shaped)
    return chaos.bandwidth(case.link, BANDWIDTH_KBPS, between=between, direction=shaped)


def start_fault(fault: Any, dw: Any) -> None:
    """Start a fault; a network backend that cannot apply this kind of fault on this harness backend (the
    local backend's block files: no CLIENT link, no latency/bandwidth) is an environment limit: BackendLimit,
    which the plugin reports as a skip."""
    try:
        fault.start()
    except HarnessError as exc:
        if dw.procedure.backend.name == "local":
            why = f"the local backend cannot apply this fault ({exc}); run with --dw-backend docker"
            raise BackendLimit(why) from exc
        raise


def not_taken_over(dw: Any, primary: Any) -> Callable[[], bool]:
    """Probe: no node but the initial `primary` is PRIMARY (no standby, of however many, took over)."""
    others = [n for n in dw.nodes.values() if n.name != primary.name]
    return lambda: all(dw.role(n).mode != "PRIMARY" for n in others)


def hold_until(probe: Callable[[], object], until: float, what: str) -> None:
    """hold() the probe until `until` (a history mark), at least one second: the fault lasts that long."""
    hold(probe, max(1.0, until - time.monotonic()), what)


def wait_recovered(dw: Any, since: float) -> float:
    """Wait (by SQL and `show`) for the group to be healthy again within INST_RECOVER_TIME plus detection
    and margin; return the seconds from `since` (the heal, on the monotonic clock)."""
    dw.wait_healthy(dw.t.timers.recovery())
    return time.monotonic() - since


def check_verdict(history: Any, dw: Any, primary: Any) -> Any:
    """After the workload's final phase: same roles as before (`primary` PRIMARY, every other node
    STANDBY), nothing acknowledged lost, never two writable primaries, each standby's copy equal to the
    primary's."""
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    assert verdict.two_primaries_window == 0, verdict.explain()
    assert verdict.divergence == [], verdict.explain()
    others = [n for n in dw.nodes.values() if n.name != primary.name]
    assert dw.role(primary).writable_primary and all(dw.role(n).mode == "STANDBY" for n in others), dw.roles()
    return verdict
