"""The parent side: spawned clients recorded into one history, a crashed client's open op as info, the
verdict of the matching checker (fake connections, no DM8)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import fakedb

from harness.checkers import load
from harness.workloads import Workloads

INST = "FAKE1"


class FakeSql:
    user, password, svc_dir = "SYSDBA", "x", Path(".")

    def connect(self, target=None, **kw):
        return fakedb.Conn()


def _topology():
    timers = SimpleNamespace(failure_detect=lambda: 1, mal_conn_fail_interval=1, group_open=lambda: 5)
    return SimpleNamespace(db_hosts=[SimpleNamespace(instance=INST)], timers=timers, svc=SimpleNamespace(name="S"))


def _workloads(tmp_path: Path) -> Workloads:
    return Workloads(FakeSql(), _topology(), tmp_path, seed=11)


def _fake(**kw):
    return {"connector": "fakedb:connect", "targets": {"": {}, INST: {}}, "timeout": 2.0, **kw}


def test_a_crashed_client_costs_its_open_operation_only(tmp_path: Path) -> None:
    wl = _workloads(tmp_path).unique_ids(**_fake(writers=2, crash_after=3))
    with wl.running(acked=5) as history:
        history.wait_acked(20, timeout=30)
    verdict = history.check(report=False)
    assert wl.crashes >= 1
    crashed = [op for op in history.ops if op.type == "info" and "died" in (op.error or "")]
    assert len(crashed) == 1 and crashed[0].process == "unique-ids-w0"
    assert verdict.stats["crashed_clients"] >= 1 and verdict.stats["ok"] >= 20
    # the fake hands each client its own counter: the ids repeat across clients, which the checker sees
    assert "duplicate-id" in verdict.kinds()


def test_bank_run_is_recorded_and_judged_from_its_file(tmp_path: Path) -> None:
    wl = _workloads(tmp_path).bank(accounts=2, total=100, **_fake(writers=1))
    with wl.running(acked=5) as history:
        history.wait_acked(10, timeout=30)
    procs = {op.process for op in history.ops}
    assert {"bank-w0", f"bank-r-{INST}", "final"} <= procs
    assert {op.node for op in history.ops if op.type == "ok"} == {INST}
    (rec,) = load(history.path)
    assert rec.kind == "bank" and rec.params["total"] == 100
    verdict = history.check(report=False)
    assert verdict.valid, verdict.explain()


def test_cut_off_turns_late_acks_of_that_instance_into_info(tmp_path: Path) -> None:
    wl = _workloads(tmp_path).register(**_fake(writers=1))
    with wl.running(acked=5) as history:
        history.wait_acked(10, timeout=30)
    strict = history.check(report=False)
    forgiving = history.check({INST: 0.0}, report=False)
    writes = sum(1 for op in history.ops if op.type == "ok" and op.f in ("write", "cas") and op.process != "final")
    assert forgiving.stats["acked_after_cut_off"] == writes > 0
    assert strict.stats["ok"] == forgiving.stats["ok"]


def test_leaving_the_group_narrows_every_workload_made(tmp_path: Path) -> None:
    ws = _workloads(tmp_path)
    a, b = ws.bank(**_fake()), ws.list_append(**_fake())
    ws.instances = [i for i in ws.instances if i != INST]  # what runbook.leave_group does
    assert a.instances == b.instances == []
    assert [s.process for s in a.specs()] == ["bank-w0", "bank-w1", "bank-w2"]


def test_list_append_keys_move_on_with_time() -> None:
    from harness.workloads import ListAppend

    m = ListAppend("L", keys=6, rotate=10.0, start=0.0)
    assert m.window(5.0) == range(0, 6) and m.window(25.0) == range(6, 12)
    assert m.final_ops() and all(mop[0] == "r" for mop in m.final_ops()[0][1])


def test_allowed_classes_are_counted_not_judged() -> None:
    from harness.checkers import Anomaly, Result
    from harness.workloads.runner import allow

    res = Result("list-append")
    res.add(Anomaly("G-single", "read skew"))
    assert allow(res, ("G-single", "G2")).valid and res.stats["allowed"] == "G-single x1"
    res.add(Anomaly("G1c", "circular information flow"))
    assert not allow(res, ("G-single",)).valid


def test_an_op_inside_a_role_change_is_not_held_to_real_time() -> None:
    from harness.checkers.model import Operation
    from harness.checkers.roles import held_to_real_time
    from harness.history import RoleSample

    roles = [RoleSample(1.0, "a", "PRIMARY", "OPEN"), RoleSample(2.0, "b", "PRIMARY", "OPEN")]
    held = held_to_real_time(roles)
    assert held(Operation(0, "p", "ok", "txn", [], 0.5, 0.9, "a"))
    assert not held(Operation(1, "p", "ok", "txn", [], 1.5, 1.6, "a"))  # b was primary at the next poll
    assert held(Operation(2, "p", "ok", "txn", [], 2.5, 2.6, "b"))


def test_offline_check_prints_the_verdict_the_run_gave(tmp_path: Path, capsys) -> None:
    """The run stores its terms (cut-off, forgiven ops, allowed classes, its figures) beside the history;
    `python -m harness.check` re-judges with them and prints the very summary the suite got."""
    from harness import check

    wl = _workloads(tmp_path).register(**_fake(writers=2))
    with wl.running(acked=5) as history:
        history.wait_acked(10, timeout=30)
    verdict = history.check({INST: 0.0}, report=False)
    assert verdict.stats["acked_after_cut_off"] > 0
    terms = list(tmp_path.glob("history-register-*.terms.json"))
    assert len(terms) == 1
    check.main([str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{verdict.summary()}\n" in out, out


def test_pinned_readers_wait_until_every_instance_shows_the_setup(tmp_path: Path, monkeypatch) -> None:
    """A standby applies redo after acknowledging it: the readers start once it shows the setup, and an
    instance that never does is given up after SETUP_SEEN_S (its readers then lag or fail, as before)."""
    from harness.workloads import runner

    wl = _workloads(tmp_path).bank(accounts=2, total=100, **_fake(writers=1))
    wl.instances = [INST, "LAGGING", "DOWN"]
    full = {"0": 50, "1": 50}
    reads: dict[str | None, int] = {}

    def fake_read(inst, fn, timeout, what):
        reads[inst] = reads.get(inst, 0) + 1
        if inst == "DOWN":
            raise ConnectionError("refused")
        if inst == "LAGGING" and reads[inst] < 4:
            return {"0": 50}  # the second account's insert not applied there yet
        return full

    monkeypatch.setattr(wl.base, "_read", fake_read)
    monkeypatch.setattr(runner, "SETUP_SEEN_S", 1.5)
    wl.setup()
    assert reads[None] == 1 and reads[INST] == 1
    assert reads["LAGGING"] == 4, "the readers started before the lagging standby showed the setup"
    assert reads["DOWN"] >= 2, "a down instance is read again until the bound"
