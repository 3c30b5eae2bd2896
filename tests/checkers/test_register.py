"""Register checker: linearizable and not, info ops, and the budget giving `unknown` instead of a hang."""

from __future__ import annotations

import time

from checker_histories import Build
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers import operations, register, synth
from harness.history import RoleSample


def test_concurrent_write_and_read_is_linearizable() -> None:
    b = Build()
    b.op("write", ["k", 1], t=(0, 2))
    b.op("read", ["k", None], ["k", 1], t=(1, 3))
    b.op("cas", ["k", [1, 2]], t=(4, 5))
    b.op("read", ["k", None], ["k", 2], t=(6, 7))
    assert register.check(b.done(), initial=0).verdict == "valid"


def test_stale_read_is_not_linearizable() -> None:
    b = Build()
    b.op("write", ["k", 1], t=(0, 1))
    b.op("read", ["k", None], ["k", 0], t=(2, 3), node="mema2")
    b.op("write", ["j", 5], t=(0, 1))
    res = register.check(b.done(), initial=0)
    assert res.verdict == "invalid" and res.kinds() == {"non-linearizable"}
    a = res.anomalies[0]
    assert a.detail["key"] == "k" and a.detail["state"] == 1
    assert [op.f for op in a.ops] == ["read"] and a.ops[0].instance == "mema2"


def test_lost_update_by_cas() -> None:
    b = Build()
    b.op("cas", ["k", [0, 1]], t=(0, 1))
    b.op("cas", ["k", [0, 2]], t=(2, 3))
    assert register.check(b.done(), initial=0).verdict == "invalid"


def test_info_write_may_land_late_or_never() -> None:
    late = Build()
    late.op("write", ["k", 2], t=(0, 0), outcome="open")
    late.op("read", ["k", None], ["k", 0], t=(1, 2))
    late.op("read", ["k", None], ["k", 2], t=(5, 6))
    assert register.check(late.done(), initial=0).verdict == "valid"
    back = Build()
    back.op("write", ["k", 2], t=(0, 0), outcome="info")
    back.op("read", ["k", None], ["k", 2], t=(1, 2))
    back.op("read", ["k", None], ["k", 0], t=(5, 6))
    assert register.check(back.done(), initial=0).verdict == "invalid"


def test_failed_write_never_happened() -> None:
    b = Build()
    b.op("write", ["k", 9], t=(0, 1), outcome="fail")
    b.op("read", ["k", None], ["k", 9], t=(2, 3))
    assert register.check(b.done(), initial=0).verdict == "invalid"


def _crowd(n: int) -> Build:
    """n overlapping info writes and reads of values none of them wrote: a huge, fruitless search."""
    b = Build()
    for i in range(n):
        b.op("write", ["k", i], t=(0, 0), outcome="open")
    for i in range(n):
        b.op("read", ["k", None], ["k", (i * 7) % n], t=(1 + i, 1.5 + i))
    b.op("read", ["k", None], ["k", -1], t=(10 * n, 10 * n + 1))
    return b


def test_budget_gives_unknown_not_a_hang() -> None:
    ops = _crowd(40).done()
    t0 = time.monotonic()
    res = register.check(ops, initial=0, max_states=20_000, time_limit=30)
    assert res.verdict == "unknown" and time.monotonic() - t0 < 10
    t0 = time.monotonic()
    res = register.check(ops, initial=0, max_states=10**9, time_limit=0.5)
    assert res.verdict == "unknown" and time.monotonic() - t0 < 5


@settings(max_examples=30, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(1, 200), st.integers(1, 4), st.floats(0.05, 4.0))
def test_random_serial_histories_are_valid(seed: int, n: int, keys: int, spread: float) -> None:
    hist = synth.register(n, seed=seed, keys=keys, spread=spread)
    res = register.check(operations(hist.ops))
    assert res.verdict == "valid", res.explain()


def test_invalid_is_narrowed_to_the_shortest_prefix() -> None:
    b = Build()
    for i in range(10):
        b.op("write", ["k", i], t=(2 * i, 2 * i + 1))
    b.op("read", ["k", None], ["k", 3], t=(20, 21))
    for i in range(10):
        b.op("write", ["k", 100 + i], t=(30 + i, 30.5 + i))
    res = register.check(b.done(), initial=0)
    (a,) = res.anomalies
    assert a.detail["prefix"] == 11 and a.detail["state"] == 9
    assert [op.f for op in a.ops] == ["read"] and a.ops[0].value == ["k", 3]


def test_standby_reads_are_left_out_when_roles_are_known() -> None:
    b = Build()
    b.op("write", ["k", 1], t=(0, 1))
    b.op("read", ["k", None], ["k", 0], t=(2, 3), node="mema2")
    roles = [RoleSample(0, "mema1", "PRIMARY", "OPEN"), RoleSample(0, "mema2", "STANDBY", "OPEN")]
    res = register.check(b.done(), initial=0, roles=roles)
    assert res.verdict == "valid" and res.stats["standby_reads_skipped"] == 1
