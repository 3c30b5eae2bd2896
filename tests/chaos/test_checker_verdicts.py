"""Checkers fed crafted histories (lost, stale, duplicated, info-recovered, divergence, two primaries,
RTO, RPO): fast, no database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.checker import check, divergence, rpo, rto, set_full, two_primaries
from harness.history import History, TableSnapshot


def add(h: History, proc: str, v: int, t0: float, t1: float, outcome: str = "ok") -> None:
    h.record(proc, "invoke", "add", v, at=t0)
    h.record(proc, outcome, "add", v, at=t1)


def read(h: History, proc: str, values: list[int], t0: float, t1: float) -> None:
    h.record(proc, "invoke", "read", None, at=t0)
    h.record(proc, "ok", "read", values, at=t1)


def test_clean_history_is_valid() -> None:
    h = History(seed=7)
    for i in range(5):
        add(h, "w0", i, i, i + 0.1)
    read(h, "final", [0, 1, 2, 3, 4], 10, 11)
    v = check(h)
    assert v.valid, v.explain()
    assert (v.lost, v.unexpected, v.duplicates, v.acknowledged) == ([], [], {}, 5)
    assert "VALID" in v.explain() and "seed 7" in v.explain()


def test_lost_acknowledged_write() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    add(h, "w1", 2, 0, 0.2)
    read(h, "final", [1], 5, 6)
    v = check(h)
    assert v.lost == [2] and not v.valid
    assert "LOST 1" in v.explain() and "2" in v.explain()
    assert v.rpo.rows == 1


def test_seen_then_missing_is_lost() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    read(h, "r", [1], 1, 1.1)
    read(h, "r", [], 2, 2.1)
    assert set_full(h.ops).lost == [1]


def test_stale_read_is_not_lost() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    read(h, "standby", [], 1, 1.1)      # started after the ack, missed it
    read(h, "primary", [1], 2, 2.1)     # a later read sees it
    sf = set_full(h.ops)
    assert sf.stale == [1] and sf.lost == []
    assert check(h).valid


def test_concurrent_read_missing_is_not_stale() -> None:
    h = History()
    h.record("w0", "invoke", "add", 1, at=0)
    read(h, "r", [], 0.05, 0.06)         # concurrent with the add: no information
    h.record("w0", "ok", "add", 1, at=0.1)
    read(h, "r", [1], 1, 1.1)
    sf = set_full(h.ops)
    assert (sf.stale, sf.lost, sf.stable) == ([], [], 1)


def test_duplicates() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    read(h, "final", [1, 1, 1], 1, 2)
    v = check(h)
    assert v.duplicates == {1: 3} and not v.valid
    assert "DUPLICATED" in v.explain()


def test_info_recovered_and_info_absent() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1, "info")
    add(h, "w1", 2, 0, 0.1, "info")
    h.record("w2", "invoke", "add", 3, at=0.2)   # never completed: indeterminate too
    read(h, "final", [1, 3], 5, 6)
    v = check(h)
    assert v.recovered_info == [1, 3]
    assert v.lost == [] and v.valid, v.explain()
    assert "indeterminate" in v.explain()


def test_unexpected_and_failed_but_present() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1, "fail")
    read(h, "final", [1, 99], 5, 6)
    v = check(h)
    assert v.unexpected == [1, 99] and not v.valid
    assert "UNEXPECTED" in v.explain()


def test_failed_absent_is_fine() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1, "fail")
    read(h, "final", [], 5, 6)
    assert check(h).valid


def test_never_read() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    read(h, "final", [], 0.05, 0.07)     # concurrent only
    sf = set_full(h.ops)
    assert sf.never_read == [1] and sf.lost == []


def test_divergence_count_and_checksum() -> None:
    snaps = {
        "mema1": {"T": TableSnapshot(3, 600, [1, 2, 3]), "U": TableSnapshot(1, 5)},
        "mema2": {"T": TableSnapshot(2, 300, [1, 2]), "U": TableSnapshot(1, 5)},
    }
    ds = divergence(snaps, "mema1")
    assert len(ds) == 1
    d = ds[0]
    assert (d.table, d.instance, d.reference, d.count, d.ref_count, d.missing) == ("T", "mema2", "mema1", 2, 3, [3])
    same = {"mema1": {"T": TableSnapshot(2, 7)}, "mema2": {"T": TableSnapshot(2, 7)}}
    assert divergence(same, "mema1") == []
    reordered = {"mema1": {"T": TableSnapshot(2, 7)}, "mema2": {"T": TableSnapshot(2, 8)}}
    assert divergence(reordered, "mema1")[0].checksum == 8


def test_divergence_missing_table_in_verdict() -> None:
    h = History()
    h.snapshot("mema1", "T", TableSnapshot(1, 1))
    h.snapshot("mema2", "T", TableSnapshot(1, 1))
    h.snapshot("mema1", "V", TableSnapshot(4, 9))
    h.set_primary("mema1")
    v = check(h)
    assert not v.valid and v.divergence[0].table == "V"
    assert "DIVERGENCE V on mema2" in v.explain()


def test_two_primaries_window() -> None:
    h = History()
    for i in range(20):
        t = i * 0.2
        h.sample("mema1", "PRIMARY", "OPEN", at=t)
        mode2 = "PRIMARY" if 1.0 <= t < 2.0 else "STANDBY"
        h.sample("mema2", mode2, "OPEN", at=t + 0.01)
    window, windows = two_primaries(h.roles, max_gap=0.5)
    assert 0.7 <= window <= 1.0 and len(windows) == 1
    v = check(h)
    assert not v.valid and "TWO PRIMARIES" in v.explain()


def test_switchover_between_polls_is_no_overlap() -> None:
    h = History()
    for i in range(10):
        t = i * 0.2
        h.sample("mema1", "PRIMARY" if t <= 1.0 else "STANDBY", "OPEN", at=t)
        h.sample("mema2", "PRIMARY" if t + 0.15 > 1.0 else "STANDBY", "OPEN", at=t + 0.15)
    assert two_primaries(h.roles)[0] == 0.0


def test_one_primary_at_a_time() -> None:
    h = History()
    for i in range(10):
        t = i * 0.2
        old = "PRIMARY" if t < 1.0 else "STANDBY"
        new = "STANDBY" if t < 1.0 else "PRIMARY"
        h.sample("mema1", old, "OPEN", at=t)
        h.sample("mema2", new, "OPEN", at=t)
        h.sample("mema3", "PRIMARY", "SUSPEND", at=t)  # not writable: not counted
    assert two_primaries(h.roles)[0] == 0.0


@dataclass
class Fault:
    name: str
    start: float
    end: float


def test_rto_around_fault_and_longest_gap() -> None:
    h = History()
    for t in (0.0, 0.5, 1.0, 4.0, 4.5):
        add(h, "w0", int(t * 10), t, t + 0.01)
    rs = rto(h.ops, [Fault("cut MAL", 1.2, 2.0)])
    assert rs[0].last_ok_before == 1.01 and rs[0].first_ok_after == 4.01
    assert abs(rs[0].seconds - 3.0) < 1e-9
    assert abs(rto(h.ops, [])[0].seconds - 3.0) < 1e-9
    v = check(h, [Fault("cut MAL", 1.2, 2.0)])
    assert abs(v.rto - 3.0) < 1e-9 and "RTO around cut MAL: 3.000s" in v.explain()


def test_rto_is_the_longest_stall_inside_the_fault() -> None:
    h = History()
    for t in (0.0, 1.0, 1.1, 1.2, 3.2, 3.3, 6.0, 6.1):
        add(h, "w0", int(t * 10), t, t + 0.01)
    r = rto(h.ops, [Fault("cut MAL", 1.05, 5.0)])[0]  # writes went on for a while, then stalled 2 s
    assert r.seconds == pytest.approx(2.7) and r.last_ok_before == pytest.approx(3.31)
    assert r.first_ok_after == pytest.approx(6.01)


def test_rto_never_recovered() -> None:
    h = History()
    add(h, "w0", 1, 0, 0.1)
    assert rto(h.ops, [Fault("isolate host1", 1.0, 2.0)])[0].seconds is None


def test_rpo_lsn_gap() -> None:
    h = History()
    h.sample("mema1", "PRIMARY", "OPEN", lsn=100, at=0)
    h.sample("mema1", "PRIMARY", "OPEN", lsn=150, at=1)
    h.sample("mema2", "STANDBY", "OPEN", lsn=120, at=1)
    h.sample("mema2", "PRIMARY", "OPEN", lsn=130, at=2)
    assert rpo(0, h.roles).lsn_gap == 20
    h2 = History()
    h2.sample("mema1", "PRIMARY", "OPEN", lsn=100, at=0)
    assert rpo(0, h2.roles).lsn_gap is None


def test_jsonl_roundtrip(tmp_path) -> None:
    h = History(seed=42, path=tmp_path / "history.jsonl")
    add(h, "w0", 1, 0, 0.1)
    add(h, "w0", 2, 0.2, 0.3, "info")
    read(h, "final", [1], 1, 2)
    h.sample("mema1", "PRIMARY", "OPEN", lsn=5, at=0)
    h.snapshot("mema1", "T", TableSnapshot(1, 3, [1]))
    h.set_primary("mema1")
    h.close()
    back = History.load(tmp_path / "history.jsonl")
    assert back.seed == 42 and len(back.ops) == 6 and back.primary == "mema1"
    assert back.snapshots["mema1"]["T"].ids == [1] and back.roles[0].lsn == 5
    assert check(back).lost == [] and check(back).never_read == []
