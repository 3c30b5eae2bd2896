"""Bank checker: total and sign invariants per read, partial transfers on a standby, prefix states."""

from __future__ import annotations

from checker_histories import Build
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers import bank, operations, synth

T = {"from": "a", "to": "b", "amount": 30}


def test_valid_reads_on_both_instances() -> None:
    b = Build()
    b.op("transfer", T, t=(0, 1))
    b.op("read", None, {"a": 100, "b": 100}, t=(0.5, 0.8), node="mema2")
    b.op("read", None, {"a": 70, "b": 130}, t=(2, 3))
    res = bank.check(b.done(), total=200, accounts=["a", "b"], initial={"a": 100, "b": 100})
    assert res.valid, res.explain()
    assert res.stats["reads@mema2"] == "1 (0 bad)"


def test_partial_transfer_on_standby() -> None:
    b = Build()
    b.op("transfer", T, t=(0, 1))
    b.op("read", None, {"a": 70, "b": 100}, t=(2, 3), node="mema2")
    res = bank.check(b.done(), total=200)
    assert res.kinds() == {"partial-transfer"}
    a = res.anomalies[0]
    assert a.ops[0].instance == "mema2" and a.ops[1].f == "transfer"
    assert "debit without its credit" in a.explanation
    assert res.stats["reads@mema2"] == "1 (1 bad)"


def test_wrong_total() -> None:
    b = Build()
    b.op("transfer", T, t=(0, 1))
    b.op("read", None, {"a": 70, "b": 125}, t=(2, 3))
    assert bank.check(b.done(), total=200).kinds() == {"wrong-total"}


def test_negative_balance() -> None:
    b = Build()
    b.op("read", None, {"a": -10, "b": 210}, t=(2, 3))
    assert bank.check(b.done(), total=200).kinds() == {"negative-balance"}


def test_failed_transfer_is_no_partial_candidate() -> None:
    b = Build()
    b.op("transfer", T, t=(0, 1), outcome="fail")
    b.op("read", None, {"a": 70, "b": 100}, t=(2, 3))
    assert bank.check(b.done(), total=200).kinds() == {"wrong-total"}


def test_non_prefix_read_with_serial_transfers() -> None:
    b = Build()
    b.op("transfer", T, t=(0, 1))
    b.op("transfer", {"from": "b", "to": "a", "amount": 5}, t=(2, 3))
    b.op("read", None, {"a": 105, "b": 95}, t=(4, 5), node="mema2")
    res = bank.check(b.done(), total=200, initial={"a": 100, "b": 100})
    assert res.kinds() == {"non-prefix-read"}


def test_missing_account() -> None:
    b = Build()
    b.op("read", None, {"a": 200}, t=(0, 1))
    assert bank.check(b.done(), total=200, accounts=["a", "b"]).kinds() == {"missing-account"}


@settings(max_examples=30, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(1, 200), st.integers(2, 6))
def test_random_serial_histories_are_valid(seed: int, n: int, accounts: int) -> None:
    hist = synth.bank(n, seed=seed, accounts=accounts, total=100 * accounts)
    names = [str(a) for a in range(accounts)]
    res = bank.check(operations(hist.ops), total=100 * accounts, accounts=names, initial=dict.fromkeys(names, 100))
    assert res.valid, res.explain()


def test_commit_order_from_seq_allows_overlapping_transfers() -> None:
    t1 = {"from": "a", "to": "b", "amount": 30}
    t2 = {"from": "b", "to": "a", "amount": 5}
    good, bad = Build(), Build()
    for b, seen in ((good, {"a": 75, "b": 125}), (bad, {"a": 70, "b": 130})):
        b.op("transfer", t1, {**t1, "seq": 2}, t=(0, 3))
        b.op("transfer", t2, {**t2, "seq": 1}, t=(1, 2))
        b.op("read", None, {"a": 105, "b": 95}, t=(1.5, 4), node="mema2")
        b.op("read", None, seen, t=(5, 6), node="mema2")
    assert bank.check(good.done(), total=200, initial={"a": 100, "b": 100}).valid
    res = bank.check(bad.done(), total=200, initial={"a": 100, "b": 100})
    assert res.kinds() == {"non-prefix-read"}
