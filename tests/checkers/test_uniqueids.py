"""Unique-id checker: duplicates across a failover, values going backwards on one primary lineage."""

from __future__ import annotations

from checker_histories import Build
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers import operations, synth, uniqueids
from harness.history import RoleSample


def roles_switch_at(t: float) -> list[RoleSample]:
    return [RoleSample(0, "mema1", "PRIMARY", "OPEN"), RoleSample(0, "mema2", "STANDBY", "OPEN"),
            RoleSample(t, "mema1", "STANDBY", "OPEN"), RoleSample(t, "mema2", "PRIMARY", "OPEN")]


def test_increasing_values_across_failover_are_valid() -> None:
    b = Build()
    b.op("nextval", None, 1, t=(0, 1))
    b.op("nextval", None, 2, t=(2, 3))
    b.op("nextval", None, 21, t=(6, 7), node="mema2")
    assert uniqueids.check(b.done(), roles_switch_at(5)).valid


def test_duplicate_names_both_ops_and_the_failover() -> None:
    b = Build()
    b.op("nextval", None, 1, t=(0, 1))
    b.op("nextval", None, 2, t=(2, 3))
    b.op("nextval", None, 2, t=(6, 7), node="mema2")
    b.op("identity", None, 2, t=(6, 7), node="mema2")
    res = uniqueids.check(b.done(), roles_switch_at(5))
    assert res.kinds() == {"duplicate-id"} and len(res.anomalies) == 1
    a = res.anomalies[0]
    assert [o.instance for o in a.ops] == ["mema1", "mema2"]
    assert a.detail["failovers"] == ["mema1->mema2 at 5.000"]


def test_backwards_on_same_lineage() -> None:
    b = Build()
    b.op("nextval", None, 5, t=(0, 1))
    b.op("nextval", None, 3, t=(2, 3))
    res = uniqueids.check(b.done(), roles_switch_at(50))
    assert res.kinds() == {"backwards-id"}
    assert res.anomalies[0].detail == {"value": 3, "after": 5}


def test_backwards_across_lineages_is_allowed() -> None:
    b = Build()
    b.op("nextval", None, 5, t=(0, 1))
    b.op("nextval", None, 3, t=(6, 7), node="mema2")
    assert uniqueids.check(b.done(), roles_switch_at(5)).valid


@settings(max_examples=30, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.floats(0.05, 5.0))
def test_random_serial_histories_are_valid(seed: int, n: int, spread: float) -> None:
    res = uniqueids.check(operations(synth.unique_ids(n, seed=seed, spread=spread).ops))
    assert res.valid, res.explain()


def test_without_role_samples_the_serving_instance_marks_lineages() -> None:
    b = Build()
    b.op("nextval", None, 5, t=(0, 1), node="mema1")
    b.op("nextval", None, 3, t=(2, 3), node="mema2")
    b.op("nextval", None, 2, t=(4, 5), node="mema2")
    res = uniqueids.check(b.done())
    assert res.kinds() == {"backwards-id"} and res.anomalies[0].detail == {"value": 2, "after": 3}
