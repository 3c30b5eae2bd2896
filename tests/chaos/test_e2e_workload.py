"""End to end on the emulator: the workload across a switchover and across a MAL cut loses nothing; the
emulator's seeded defects make the checkers fail (commit-before-send -> lost writes, standby-skips-redo
-> divergence). Slow: each builds a Data Watch group through the seed's procedure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.destructive]


@pytest.fixture
def defect(request: pytest.FixtureRequest, dw_group: Any) -> Iterator[str]:
    """Rebuild the group with DMEMU_BUGS=<param> (emulator only), and rebuild clean afterwards."""
    name = request.param
    extra = getattr(dw_group.backend, "extra_env", None)
    if extra is None:
        pytest.fail(f"the {dw_group.backend.name} backend cannot set DMEMU_BUGS (needs extra_env)")
    extra["DMEMU_BUGS"] = name
    try:
        dw_group.rebuild()
        yield name
    finally:
        extra.pop("DMEMU_BUGS", None)
        dw_group.dirty = True


def _hold(seconds: float) -> None:
    """Let the writers run (the workload is the thing being observed, not a wait for a state)."""
    time.sleep(seconds)


def _crash_primary_and_take_over(dw: Any, monitor: Any, chaos: Any) -> Any:
    """kill -9 the primary's dmwatcher (so INST_AUTO_RESTART cannot bring it back) and dmserver under
    load, wait until the monitor offers the standby for takeover, take over (seed 十二.2.2). The standby's
    archive was VALID, so DM8 guarantees every acknowledged commit reached it (KEEP_BUF applied)."""
    old, new = dw.primary, dw.standby
    chaos.kill(old.host_name, "dmwatcher")
    chaos.kill(old.host_name, "dmserver")
    monitor.login()
    deadline = time.monotonic() + dw.t.timers.failure_detect() * 2 + 30  # detection scales with DW timers
    while new.name not in monitor.choose_takeover():
        assert time.monotonic() < deadline, f"{new.name} never became eligible for takeover"
        time.sleep(0.5)
    monitor.takeover(new.name)
    dw.wait_roles(primary=new)
    return new


def test_switchover_loses_nothing(dw: Any, monitor: Any, chaos: Any, workload: Any) -> None:
    old, new = dw.primary, dw.standby
    with workload.running(threads=4, chaos=chaos) as history:
        _hold(2)
        monitor.login()
        monitor.switchover(new.name)
        dw.wait_roles(primary=new, standby=old)
        _hold(2)
    v = history.check()
    print(v.explain())
    assert v.acknowledged > 0, v.explain()
    assert v.lost == [] and v.unexpected == [] and v.divergence == [], v.explain()


def test_mal_cut_loses_nothing(dw: Any, chaos: Any, workload: Any) -> None:
    with workload.running(threads=4, chaos=chaos) as history:
        _hold(2)
        with chaos.cut("MAL"):
            _hold(3)
        dw.wait_healthy(via_monitor=False)  # the primary recovers the standby after the cut
        dw.wait_replicated()
        _hold(1)
    v = history.check()
    print(v.explain())
    assert v.acknowledged > 0, v.explain()
    assert v.lost == [] and v.unexpected == [] and v.divergence == [], v.explain()
    assert [r.name for r in chaos.log] == ["cut MAL"] and v.rto is not None


def test_primary_crash_and_takeover_loses_nothing(dw: Any, monitor: Any, chaos: Any, workload: Any) -> None:
    with workload.running(threads=4, chaos=chaos) as history:
        _hold(2)
        _crash_primary_and_take_over(dw, monitor, chaos)
        _hold(2)
    v = history.check()
    print(v.explain())
    assert v.acknowledged > 0 and v.lost == [] and v.unexpected == [], v.explain()


@pytest.mark.parametrize("defect", ["commit-before-send"], indirect=True)
def test_commit_before_send_reports_lost_writes(defect: str, dw: Any, monitor: Any, chaos: Any,
                                                workload: Any) -> None:
    with workload.running(threads=4, chaos=chaos) as history:
        _hold(2)
        _crash_primary_and_take_over(dw, monitor, chaos)
        _hold(1)
    v = history.check()
    print(v.explain())
    assert v.lost, "commit-before-send must lose acknowledged writes:\n" + v.explain()


@pytest.mark.parametrize("defect", ["standby-skips-redo"], indirect=True)
def test_standby_skipping_redo_fails_divergence(defect: str, dw: Any, chaos: Any, workload: Any) -> None:
    with workload.running(threads=4, chaos=chaos) as history:
        _hold(3)
    v = history.check()
    print(v.explain())
    assert v.divergence, "standby-skips-redo must show as divergence:\n" + v.explain()


def test_acked_writes_per_second(dw: Any, workload: Any) -> None:
    """Throughput figure for benchmarks/workload_rate.py (target >= 500 acked writes/s)."""
    with workload.running(threads=4) as history:
        _hold(5)
    v = history.check()
    oks = sorted(o.time for o in history.ops if o.f == "add" and o.type == "ok")
    rate = (len(oks) - 1) / (oks[-1] - oks[0]) if len(oks) > 1 else 0.0
    print(f"acked writes per second: {rate:.0f}")
    assert v.lost == [] and rate > 0, v.explain()
