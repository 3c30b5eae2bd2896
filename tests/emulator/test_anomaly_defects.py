"""The anomaly-class seeded defects (dmemu/anomalies.py) do what the catalog says, and nothing while off."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from dmemu import anomalies, bugs

TRANSFER = [("D", "BANK", [3, 5]), ("I", "BANK", ["ID", "BAL"], [(3, 3, 90), (5, 5, 110)]),
            ("D", "SEQ", [1]), ("I", "SEQ", ["ID", "N"], [(1, 1, 7)])]


def _on(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    monkeypatch.setattr(bugs, "ACTIVE", frozenset(names))


def test_partial_apply_commits_the_first_changed_row_alone() -> None:
    first, rest = anomalies.split_rows(TRANSFER)
    assert first == [("D", "BANK", [3]), ("I", "BANK", ["ID", "BAL"], [(3, 3, 90)])]
    assert ("I", "BANK", ["ID", "BAL"], [(5, 5, 110)]) in rest and ("D", "SEQ", [1]) in rest
    assert anomalies.split_rows([("D", "SEQ", [1]), ("I", "SEQ", ["ID", "N"], [(1, 1, 7)])]) is None
    applied: list = []
    assert anomalies.split_apply(lambda ops, lsn: applied.append((ops, lsn)), TRANSFER, 10, 13)
    assert [lsn for _, lsn in applied] == [12, 13]


def test_stale_read_answers_the_previous_different_result(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = "SELECT V FROM DMDW_LA1 WHERE K = ?"
    calls = iter(range(100))

    def run() -> SimpleNamespace:  # the list grows by one value every second read
        return SimpleNamespace(rows=[(",".join(str(i) for i in range(next(calls) // 2 + 1)),)])

    off = anomalies.StaleReads()
    assert [len(off.read("STANDBY", sql, (1,), run).rows[0][0]) for _ in range(6)] == sorted(
        len(x) for x in ["0", "0", "0,1", "0,1", "0,1,2", "0,1,2"])    # off: never back
    _on(monkeypatch, "standby-stale-read")
    on = anomalies.StaleReads()
    seen = [len(on.read("STANDBY", sql, (1,), run).rows[0][0]) for _ in range(9)]
    assert any(b < a for a, b in zip(seen, seen[1:], strict=False)), seen         # a read went back
    assert on.read("PRIMARY", "SELECT NAME FROM V$INSTANCE", (), lambda: SimpleNamespace(rows=[("x",)])).rows


def test_demoted_primary_acks_only_for_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    d = anomalies.Demotion()
    d.mode_changed("PRIMARY", "STANDBY")
    assert not d.acks()                                            # defect off
    _on(monkeypatch, "demoted-primary-acks")
    assert d.acks()
    d.at = time.monotonic() - anomalies.DEMOTED_ACK_S - 1
    assert not d.acks()
    fresh = anomalies.Demotion()
    fresh.mode_changed("STANDBY", "PRIMARY")
    assert not fresh.acks()
