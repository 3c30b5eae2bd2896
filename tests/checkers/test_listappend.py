"""List-append checker: one hand-made history per anomaly class, valid ones, and random serial ones."""

from __future__ import annotations

from checker_histories import Build
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers import listappend, operations, synth
from harness.history import RoleSample


def kinds(b: Build) -> set[str]:
    return listappend.check(b.done()).kinds()


def test_valid_sequential_and_concurrent() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1))
    b.txn([["append", "x", 2], ["r", "y", []]], (0.5, 2))
    b.txn([["r", "x", [1, 2]], ["append", "y", 3], ["r", "y", [3]]], (3, 4))
    res = listappend.check(b.done())
    assert res.verdict == "valid", res.explain()


def test_g0_write_cycle() -> None:
    b = Build()
    b.txn([["append", "x", 1], ["append", "y", 2]], (0, 10))
    b.txn([["append", "y", 1], ["append", "x", 2]], (0, 10))
    b.txn([["r", "x", [1, 2]], ["r", "y", [1, 2]]], (11, 12))
    assert kinds(b) == {"G0"}


def test_g1c_circular_information_flow() -> None:
    b = Build()
    b.txn([["append", "x", 1], ["r", "y", [1]]], (0, 10))
    b.txn([["append", "y", 1], ["r", "x", [1]]], (0, 10))
    assert kinds(b) == {"G1c"}


def test_g_single_read_skew() -> None:
    b = Build()
    b.txn([["append", "x", 1], ["append", "y", 1]], (0, 10))
    b.txn([["r", "x", [1]], ["r", "y", []]], (0, 10))
    b.txn([["r", "y", [1]]], (11, 12))
    res = listappend.check(b.done())
    assert res.kinds() == {"G-single"}
    assert res.anomalies[0].detail["edges"].count("rw") == 1


def test_g2_write_skew() -> None:
    b = Build()
    b.txn([["r", "x", []], ["append", "y", 1]], (0, 10))
    b.txn([["r", "y", []], ["append", "x", 1]], (0, 10))
    b.txn([["r", "x", [1]], ["r", "y", [1]]], (11, 12))
    res = listappend.check(b.done())
    assert res.kinds() == {"G2"}
    assert res.anomalies[0].detail["edges"].count("rw") == 2


def test_g1a_aborted_read() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1), outcome="fail")
    b.txn([["r", "x", [1]]], (2, 3))
    assert kinds(b) == {"G1a"}


def test_g1b_intermediate_read() -> None:
    b = Build()
    b.txn([["append", "x", 1], ["append", "x", 2]], (0, 10))
    b.txn([["r", "x", [1]]], (0, 10))
    b.txn([["r", "x", [1, 2]]], (11, 12))
    assert kinds(b) == {"G1b"}


def test_lost_append() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1))
    b.txn([["append", "x", 2]], (0, 1))
    b.txn([["r", "x", [2]]], (2, 3))
    res = listappend.check(b.done())
    assert res.kinds() == {"lost-append"}
    assert res.anomalies[0].detail == {"key": "x", "value": 1}


def test_duplicate_append() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1))
    b.txn([["r", "x", [1, 1]]], (2, 3))
    assert kinds(b) == {"duplicate-append"}


def test_realtime_violation_read_after_switchover() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1), node="mema1")
    b.txn([["r", "x", []]], (2, 3), node="mema2")
    b.txn([["r", "x", [1]]], (4, 5), node="mema2")
    res = listappend.check(b.done())
    assert res.kinds() == {"realtime"}
    assert listappend.check(b.done(), realtime=False).valid


def test_incompatible_order() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 10))
    b.txn([["append", "x", 2]], (0, 10))
    b.txn([["r", "x", [1, 2]]], (11, 12))
    b.txn([["r", "x", [2, 1]]], (11, 12))
    assert "incompatible-order" in kinds(b)


def test_info_txn_may_or_may_not_commit() -> None:
    seen = Build()
    seen.txn([["append", "x", 1]], (0, 1), outcome="open")
    seen.txn([["r", "x", [1]]], (2, 3))
    unseen = Build()
    unseen.txn([["append", "x", 1]], (0, 1), outcome="info")
    unseen.txn([["r", "x", []]], (2, 3))
    assert listappend.check(seen.done()).valid
    assert listappend.check(unseen.done()).valid


def test_anomaly_text_names_ops_and_instances() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1), node="mema1")
    b.txn([["r", "x", []]], (2, 3), node="mema2")
    b.txn([["r", "x", [1]]], (4, 5))
    text = listappend.check(b.done()).explain()
    assert "rw(x)" in text and "@mema2" in text


@settings(max_examples=40, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(1, 120), st.integers(1, 6), st.floats(0.05, 6.0))
def test_random_serial_histories_are_valid(seed: int, n: int, keys: int, spread: float) -> None:
    hist = synth.list_append(n, seed=seed, keys=keys, spread=spread)
    res = listappend.check(operations(hist.ops))
    assert res.valid, res.explain()


def _roles(switch_at: float | None) -> list[RoleSample]:
    out = [RoleSample(0, "mema1", "PRIMARY", "OPEN"), RoleSample(0, "mema2", "STANDBY", "OPEN")]
    if switch_at is not None:
        out += [RoleSample(switch_at, "mema1", "STANDBY", "OPEN"), RoleSample(switch_at, "mema2", "PRIMARY", "OPEN")]
    return out


def _stale_standby_read() -> Build:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1), node="mema1")
    b.txn([["r", "x", []]], (2, 3), node="mema2")
    b.txn([["r", "x", [1]]], (4, 5), node="mema2")
    return b


def test_standby_may_lag_when_roles_are_known() -> None:
    assert listappend.check(_stale_standby_read().done(), roles=_roles(None)).valid


def test_read_on_new_primary_after_switchover_must_see_acked_append() -> None:
    res = listappend.check(_stale_standby_read().done(), roles=_roles(1.5))
    assert res.kinds() == {"realtime"}


def test_standby_going_back_in_time() -> None:
    b = Build()
    b.txn([["append", "x", 1]], (0, 1), node="mema1")
    b.txn([["r", "x", [1]]], (2, 3), node="mema2")
    b.txn([["r", "x", []]], (4, 5), node="mema2")
    assert listappend.check(b.done(), roles=_roles(None)).kinds() == {"realtime", "non-monotonic-read"}


@settings(max_examples=30, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(2, 150), st.floats(0.05, 4.0))
def test_random_histories_with_a_lagging_standby_are_valid(seed: int, n: int, spread: float) -> None:
    hist = synth.list_append(n, seed=seed, keys=3, spread=spread, standby=0.3)
    res = listappend.check(operations(hist.ops), roles=hist.roles)
    assert res.valid, res.explain()


def test_lagging_standby_is_flagged_without_role_samples() -> None:
    flagged = 0
    for seed in range(5):
        hist = synth.list_append(200, seed=seed, keys=3, spread=0.5, standby=0.3)
        flagged += "realtime" in listappend.check(operations(hist.ops)).kinds()
    assert flagged >= 4


def test_random_history_with_an_append_erased_from_every_read_is_caught() -> None:
    hist = synth.list_append(300, seed=5, keys=3, fail=0, info=0)
    ops = operations(hist.ops)
    writer = {(m[1], m[2]): t for t in ops for m in t.value if m[0] == "append"}
    victim = next((m[1], m[2][0]) for t in reversed(ops) for m in t.value
                  if m[0] == "r" and m[2] and t.invoke > writer[(m[1], m[2][0])].complete)
    for ev in hist.ops:
        for m in ev.value or []:
            if m[0] == "r" and m[1] == victim[0] and m[2]:
                m[2] = [v for v in m[2] if v != victim[1]]
    res = listappend.check(operations(hist.ops))
    assert {a.detail.get("value") for a in res.anomalies if a.kind == "lost-append"} == {victim[1]}


def test_two_antidependencies_through_real_time_are_g2_realtime_not_realtime() -> None:
    """T3 misses T2's append, T2 missed T1's, T1 completed before T3 began: a cycle through real time with
    two rw edges between concurrent txns (READ COMMITTED allows it, like G2); one rw edge stays `realtime`."""
    b = Build()
    b.txn([["append", 5, 1]], (0, 1), process="w0")
    b.txn([["r", 5, []], ["append", 3, 2]], (0.5, 2), process="w1")
    b.txn([["r", 3, []]], (1.5, 1.6), process="w2")
    b.txn([["r", 5, [1]], ["r", 3, [2]]], (3, 4), process="final")
    assert kinds(b) == {"G2-realtime"}
    stale = Build()
    stale.txn([["append", 5, 1]], (0, 1), process="w0")
    stale.txn([["r", 5, []]], (1.5, 1.6), process="w2")
    stale.txn([["r", 5, [1]]], (3, 4), process="final")
    assert kinds(stale) == {"realtime"}


def test_a_read_going_back_is_found_even_where_a_g_single_cycle_hides_it() -> None:
    """One anomaly per cycle component: an allowed G-single there would hide the real-time cycle of a
    standby read going back; non-monotonic-read still names it. Reads on different instances may differ
    (a lagging standby), so they are not compared."""
    roles = [RoleSample(0.0, "mema1", "PRIMARY", "OPEN"), RoleSample(0.0, "mema2", "STANDBY", "OPEN")]
    back = Build()
    back.txn([["append", "x", 1]], (0, 1), node="mema1")
    back.txn([["append", "x", 2]], (2, 3), node="mema1")
    back.txn([["r", "x", [1, 2]]], (4, 5), node="mema2", process="r2")
    back.txn([["r", "x", [1]]], (6, 7), node="mema2", process="r2")
    assert "non-monotonic-read" in listappend.check(back.done(), roles=roles).kinds()
    lag = Build()
    lag.txn([["append", "x", 1]], (0, 1), node="mema1")
    lag.txn([["append", "x", 2]], (2, 3), node="mema1")
    lag.txn([["r", "x", [1, 2]]], (4, 5), node="mema1", process="r1")
    lag.txn([["r", "x", [1]]], (6, 7), node="mema2", process="r2")
    assert "non-monotonic-read" not in listappend.check(lag.done(), roles=roles).kinds()


def test_a_long_read_committed_txn_spanning_two_commits_is_not_a_realtime_violation() -> None:
    """The cycle found on a 4-database run: T2 reads key 5 before T1 commits and key 4 after T3 commits,
    T1 completed before T3 began. T2 -rw-> T1 -rt-> T3 -wr-> T2 enters the reader through its own read,
    not through real time: READ COMMITTED's per-statement snapshots allow it (G-single-realtime). The
    same reader begun after T1 completed misses a write committed before its first statement: realtime."""
    def history(reader_starts: float) -> Build:
        b = Build()
        b.txn([["append", 5, 1]], (0, 1), process="w1")
        b.txn([["r", 5, []], ["r", 4, [2]]], (reader_starts, 4), process="reader")
        b.txn([["append", 4, 2]], (2, 3), process="w3")
        b.txn([["r", 5, [1]], ["r", 4, [2]]], (5, 6), process="final")
        return b
    concurrent = listappend.check(history(0.5).done())
    assert concurrent.kinds() == {"G-single-realtime"}, concurrent.explain()
    stale = listappend.check(history(1.5).done())
    assert stale.kinds() == {"realtime"}, stale.explain()
    assert "-rt->" in stale.anomalies[0].explanation or "-process->" in stale.anomalies[0].explanation


def test_a_stale_read_is_found_even_where_an_allowed_g2_cycle_hides_it() -> None:
    """T2 began after T1's append was acknowledged and missed it: a stale read. T1 also missed T2's
    append, so T1 -rw-> T2 -rw-> T1 is a G2 cycle (READ COMMITTED allows it) and the one anomaly of
    their component; the stale read is named on its own. Begun before T1 completed, T2 may miss it."""
    def history(reader_starts: float) -> Build:
        b = Build()
        b.txn([["r", "y", []], ["append", "x", 1]], (0, 1), process="w1")
        b.txn([["r", "x", []], ["append", "y", 1]], (reader_starts, reader_starts + 0.1), process="w2")
        b.txn([["r", "x", [1]], ["r", "y", [1]]], (3, 4), process="final")
        return b
    stale = listappend.check(history(1.5).done())
    assert stale.kinds() == {"G2", "stale-read"}, stale.explain()
    found = next(a for a in stale.anomalies if a.kind == "stale-read")
    assert found.detail == {"key": "x", "value": 1} and "acknowledged at 1.000" in found.explanation
    assert listappend.check(history(0.5).done()).kinds() == {"G2"}
    assert listappend.check(history(1.5).done(), realtime=False).kinds() == {"G2"}


def test_a_lagging_standby_read_is_no_stale_read_but_the_primarys_is() -> None:
    lag = Build()
    lag.txn([["append", "x", 1]], (0, 1), node="mema1")
    lag.txn([["r", "x", []], ["append", "y", 1]], (2, 3), node="mema2")
    lag.txn([["r", "x", [1]]], (4, 5), node="mema1")
    assert "stale-read" not in listappend.check(lag.done(), roles=_roles(None)).kinds()
    assert "stale-read" not in listappend.check(_stale_standby_read().done(), roles=_roles(None)).kinds()
