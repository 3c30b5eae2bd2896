"""`python -m harness.check RUN_DIR`: every history in a run folder re-judged by the checker of its kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import check
from harness.checkers import declare, judge, load, synth
from harness.history import History


def _write_bank(path: Path, partial: bool) -> None:
    h = History(seed=7, path=path)
    declare(h, "bank", total=200, accounts=["a", "b"])
    h.record("p1", "invoke", "transfer", {"from": "a", "to": "b", "amount": 30}, at=1.0)
    h.record("p1", "ok", "transfer", {"from": "a", "to": "b", "amount": 30}, at=2.0)
    h.record("p2", "invoke", "read", None, node="mema2", at=3.0)
    h.record("p2", "ok", "read", {"a": 70, "b": 100 if partial else 130}, node="mema2", at=4.0)
    h.close()


def _write_set(path: Path) -> None:
    h = History(seed=3, path=path)
    h.record("w0", "invoke", "add", 1, at=1.0)
    h.record("w0", "ok", "add", 1, at=1.5)
    h.record("r", "invoke", "read", None, at=2.0)
    h.record("r", "ok", "read", [1], at=2.5)
    h.close()


def test_valid_run_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_bank(tmp_path / "history-bank.jsonl", partial=False)
    _write_set(tmp_path / "history-dw_chk.jsonl")
    assert check.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[bank, seed 7] bank: VALID" in out and "[set, seed 3] set-full: VALID" in out
    assert "2 histories: 2 valid, 0 invalid, 0 unknown" in out


def test_invalid_history_exits_one_and_names_the_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_bank(tmp_path / "history-bank.jsonl", partial=True)
    (tmp_path / "faults.jsonl").write_text(json.dumps({"name": "cut", "link": "mal", "start": 2.5, "end": 9}) + "\n")
    assert check.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "bank: INVALID (partial-transfer x1)" in out
    assert "fault active: cut on mal" in out and "@mema2" in out


def test_appended_runs_and_bare_op_copies_load(tmp_path: Path) -> None:
    path = tmp_path / "history-t.jsonl"
    _write_set(path)
    _write_set(path)
    assert [r.kind for r in load(path)] == ["set", "set"]
    la = synth.list_append(30, seed=1)
    bare = tmp_path / "t1" / "history.jsonl"
    bare.parent.mkdir()
    bare.write_text("".join(json.dumps(op.__dict__) + "\n" for op in la.ops))
    (rec,) = load(bare)
    assert rec.kind == "list-append" and len(rec.history.ops) == len(la.ops)


def test_history_load_still_reads_declared_files(tmp_path: Path) -> None:
    _write_bank(tmp_path / "h.jsonl", partial=False)
    assert len(History.load(tmp_path / "h.jsonl").ops) == 4


def test_module_entry_point(tmp_path: Path) -> None:
    _write_bank(tmp_path / "history-bank.jsonl", partial=True)
    proc = subprocess.run([sys.executable, "-m", "harness.check", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1 and "partial-transfer" in proc.stdout


def test_report_copies_of_a_history_are_judged_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_bank(tmp_path / "history-bank.jsonl", partial=False)
    (rec,) = load(tmp_path / "history-bank.jsonl")
    copy = tmp_path / "tests" / "t1" / "history.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_text("".join(json.dumps(op.__dict__) + "\n" for op in rec.history.ops))
    assert check.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 histories: 1 valid, 0 invalid, 0 unknown (1 copies of the same ops skipped)" in out


def test_a_list_append_history_written_with_the_helpers_round_trips(tmp_path: Path) -> None:
    from harness.checkers.model import append_mop, read_mop

    h = History(seed=1, path=tmp_path / "history-la.jsonl")
    declare(h, "list-append", keys=2)
    h.record("p1", "invoke", "txn", [append_mop(1, 10), read_mop(2)], node="mema1", at=1.0)
    h.record("p1", "ok", "txn", [append_mop(1, 10), read_mop(2, [])], node="mema1", at=2.0)
    h.record("p2", "invoke", "txn", [read_mop(1)], node="mema1", at=3.0)
    h.record("p2", "ok", "txn", [read_mop(1, [])], node="mema1", at=4.0)
    h.close()
    (rec,) = load(tmp_path / "history-la.jsonl")
    assert rec.kind == "list-append" and rec.params == {"keys": 2}
    res = judge(rec)
    assert res.kinds() == {"lost-append"}


def test_faults_come_from_the_log_and_the_report_copies(tmp_path: Path) -> None:
    one = {"name": "cut", "link": "mal", "start": 1.0, "end": 2.0}
    two = {"name": "kill", "link": None, "start": 5.0, "end": None}
    (tmp_path / "faults.jsonl").write_text(json.dumps(two) + "\n")
    (tmp_path / "t1").mkdir()
    (tmp_path / "t1" / "faults.json").write_text(json.dumps([one, two]))
    faults = check.load_faults(tmp_path)
    assert [(f.name, f.start, f.end) for f in faults] == [("cut", 1.0, 2.0), ("kill", 5.0, None)]


def test_a_kind_without_checker_is_unknown(tmp_path: Path) -> None:
    h = History(seed=1, path=tmp_path / "history-x.jsonl")
    h.record("p", "invoke", "add", 1, at=1.0)
    h.close()
    (rec,) = load(tmp_path / "history-x.jsonl")
    rec.kind = "queue"
    assert judge(rec).verdict == "unknown"


def test_terms_beside_a_history_make_the_offline_verdict_the_suites(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A write acknowledged after its instance's cut-off and then lost: invalid without the stored terms,
    valid (with the suite's figures) with them."""
    from harness.checkers.terms import Terms, forgive

    path = tmp_path / "history-list-append-1.jsonl"
    h = History(seed=5, path=path)
    declare(h, "list-append")
    h.record("w1", "invoke", "txn", [["append", 1, 10]], node="mema1", at=1.0)
    h.record("w1", "ok", "txn", [["append", 1, 10]], node="mema1", at=2.0)
    h.record("w2", "invoke", "txn", [["append", 1, 11]], node="mema1", at=6.0)
    h.record("w2", "ok", "txn", [["append", 1, 11]], node="mema1", at=7.0)
    h.record("final", "invoke", "txn", [["r", 1, None]], node="mema2", at=9.0)
    h.record("final", "ok", "txn", [["r", 1, [10]]], node="mema2", at=9.5)
    h.close()
    assert check.main([str(tmp_path)]) == 1
    assert "lost-append" in capsys.readouterr().out
    (rec,) = load(path)
    terms = Terms(cut_off={"mema1": 5.0}, forgiven=forgive(rec.history, {"mema1": 5.0}),
                  allowed=["G-single", "G2"], stats={"crashed_clients": 0})
    terms.summary = terms.judged(judge(terms_view := type(rec)(rec.source, rec.kind, terms.view(rec.history),
                                                             rec.params))).summary()
    assert terms.forgiven == [("w2", 7.0)] and terms_view.history.ops[3].type == "info"
    terms.save(path)
    assert check.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{terms.summary}\n" in out and "crashed_clients=0" in out


def test_edn_export_is_jepsen_history_format(tmp_path: Path) -> None:
    """--edn writes one op map per line: :index, :time in ns from the first event, :type/:f keywords,
    a numeric :process, list-append micro-ops as [:append k v] / [:r k [..]], faults as :nemesis ops."""
    path = tmp_path / "history-list-append-1.jsonl"
    h = History(seed=5, path=path)
    declare(h, "list-append")
    h.record("w1", "invoke", "txn", [["append", 1, 10], ["r", 2, None]], node="mema1", at=1.0)
    h.record("w1", "ok", "txn", [["append", 1, 10], ["r", 2, [3, 4]]], node="mema1", at=1.5)
    h.record("w2", "invoke", "txn", [["r", 1, None]], node="mema2", at=2.0)
    h.record("w2", "fail", "txn", [["r", 1, None]], node="mema2", error="-2018: read only", at=2.25)
    h.close()
    (tmp_path / "faults.jsonl").write_text(json.dumps({"name": "cut MAL", "link": "MAL", "start": 1.2, "end": 1.8}) + "\n")
    out = tmp_path / "edn"
    check.main([str(tmp_path), "--edn", str(out)])  # key 2's values were never appended: garbage-read
    lines = (out / "history-list-append-1.edn").read_text().splitlines()
    assert lines == [
        '{:index 0, :time 0, :type :invoke, :process 0, :f :txn, :value [[:append 1 10] [:r 2 nil]], '
        ':client "w1", :node "mema1"}',
        '{:index 1, :time 200000000, :type :info, :process :nemesis, :f :start, :value "cut MAL"}',
        '{:index 2, :time 500000000, :type :ok, :process 0, :f :txn, :value [[:append 1 10] [:r 2 [3 4]]], '
        ':client "w1", :node "mema1"}',
        '{:index 3, :time 800000000, :type :info, :process :nemesis, :f :stop, :value "cut MAL"}',
        '{:index 4, :time 1000000000, :type :invoke, :process 1, :f :txn, :value [[:r 1 nil]], :client "w2", '
        ':node "mema2"}',
        '{:index 5, :time 1250000000, :type :fail, :process 1, :f :txn, :value [[:r 1 nil]], :client "w2", '
        ':node "mema2", :error "-2018: read only"}',
    ]


def test_edn_values_of_bank_and_register() -> None:
    from harness.checkers import edn

    assert edn.value({"0": 100, "1": 95}) == "{0 100, 1 95}"
    assert edn.value({"from": "0", "to": "3", "amount": 5}) == '{:from "0", :to "3", :amount 5}'
    assert edn.value([2, None]) == "[2 nil]"
    assert edn.value('say "hi"') == '"say \\"hi\\""'
