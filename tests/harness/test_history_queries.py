"""History's queries a test asks (mark, acked_after/before, first_ok_after, ever_primary) and
workload.wait_acked, on hand-made histories: pure and fast."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from harness.history import History
from harness.wait import WaitTimeout
from harness.workload import Workload


def _history() -> History:
    h = History()
    for i, (type_, at) in enumerate([("ok", 1.0), ("fail", 2.0), ("ok", 3.0), ("info", 4.0), ("ok", 5.0)], 1):
        h.record("w0", "invoke", "add", i, at=at - 0.1)
        h.record("w0", type_, "add", i, at=at)
    h.record("r0", "ok", "read", [1, 3], at=6.0)
    return h


def test_acked_after_and_before_count_acknowledged_adds_only() -> None:
    h = _history()
    assert [op.value for op in h.acked_after(0)] == [1, 3, 5]
    assert [op.value for op in h.acked_after(3.0)] == [5]  # strictly after
    assert h.acked_before(3.0) == [1]                         # strictly before
    assert h.acked_before(10.0, [5, 2, 1]) == [1, 5]          # only among the given ids, sorted
    assert h.acked_before(0.5) == []


def test_first_ok_after() -> None:
    h = _history()
    assert h.first_ok_after(1.0) == 3.0
    assert h.first_ok_after(5.0) is None


def test_mark_is_now_on_the_history_clock() -> None:
    h = History()
    before = time.monotonic()
    m = h.mark()
    assert before <= m <= time.monotonic()
    assert h.mark(ahead=5.0) >= m + 5.0
    op = h.record("w0", "ok", "add", 1)
    assert h.acked_after(m) == [op] and h.acked_before(m) == []


def test_ever_primary_is_case_insensitive_and_ignores_unreachable() -> None:
    h = History()
    h.sample("mema1", "PRIMARY", "OPEN", at=1.0)
    h.sample("mema2", "STANDBY", "OPEN", at=1.0)
    h.sample("mema2", None, None, at=2.0)
    assert h.ever_primary("MEMA1") and not h.ever_primary("mema2")
    h.sample("MEMA2", "primary", "SUSPEND", at=3.0)
    assert h.ever_primary("mema2")


def _workload() -> Workload:
    timers = SimpleNamespace(failure_detect=lambda: 1.0, mal_conn_fail_interval=1, group_open=lambda: 1.0)
    topo = SimpleNamespace(db_hosts=[SimpleNamespace(instance="mema1")], timers=timers)
    return Workload(SimpleNamespace(), topo, None, 1)


def test_wait_acked_counts_writes_from_the_call_on() -> None:
    wl = _workload()
    wl.history = h = History()
    h.record("w0", "ok", "add", 1)  # before the call: not counted

    def writer() -> None:
        for i in range(2, 5):
            time.sleep(0.05)
            h.record("w0", "ok", "add", i)

    t = threading.Thread(target=writer)
    t.start()
    assert wl.wait_acked(3, timeout=5) == 3
    t.join()


def test_wait_acked_times_out_naming_what() -> None:
    wl = _workload()
    wl.history = History()
    with pytest.raises(WaitTimeout, match="2 writes acknowledged by the workload after the heal"):
        wl.wait_acked(2, timeout=0.3, what="after the heal")


def test_wait_acked_outside_running_says_so() -> None:
    with pytest.raises(AssertionError, match="inside workload.running"):
        _workload().wait_acked(1)
