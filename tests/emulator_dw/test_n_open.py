"""N_OPEN on a Data Watch pair (reference 4.3/7.1): the primary counts its opens and ships the value as
redo, a standby never counts its own opens, so after apply both report the same N_OPEN; a switchover
raises it by one on both."""

from __future__ import annotations

import pytest
from dmemu import backup
from dmemu.api import RedoRecord
from dmemu.instance import Instance
from dmemu.redo import INST_OP
from dmemu.tools import dminit
from dwlab import wait_for

PWD = "Mema_1234"


def _make(root, inst: str) -> str:
    assert dminit.main([f"PATH={root}", "DB_NAME=memadb", f"INSTANCE_NAME={inst}", "PORT_NUM=5236",
                        f"SYSDBA_PWD={PWD}"]) == 0
    return str(root / "memadb" / "dm.ini")


@pytest.fixture
def pair(tmp_path):
    """In-process primary and standby (restored from the primary's backup), both in MOUNT."""
    p_ini = _make(tmp_path / "h1", "mema1")
    p = Instance(p_ini)
    p.start(False)
    p.shutdown()
    backup.backup_offline(p_ini, str(tmp_path / "bak"))
    s_ini = _make(tmp_path / "h2", "mema2")
    backup.restore(s_ini, str(tmp_path / "bak"))
    backup.recover_from_backupset(s_ini, str(tmp_path / "bak"))
    backup.update_db_magic(s_ini)
    p, s = Instance(p_ini), Instance(s_ini)
    for inst, mode in ((p, "PRIMARY"), (s, "STANDBY")):
        inst.start(True)
        inst.set_oguid(453331)
        inst.set_mode(mode)
    yield p, s
    p.shutdown()
    s.shutdown()


def _ship(src: Instance, dst: Instance, shipped: list[RedoRecord]) -> None:
    def sender(rec: RedoRecord) -> None:
        shipped.append(rec)
        dst.apply_redo(rec)
    src.realtime_sender = sender
    dst.realtime_sender = None


def _write(inst: Instance, sql: str) -> None:
    s = inst.login("SYSDBA", PWD, {})
    try:
        s.execute(sql)
    finally:
        s.close()


def _n_open_ops(recs: list[RedoRecord]) -> list[int]:
    return [op[2] for r in recs for op in r.ops if isinstance(op, tuple) and op[:2] == (INST_OP, "N_OPEN")]


def test_standby_takes_the_primarys_n_open_from_redo_and_switchover_adds_one(pair):
    p, s = pair
    shipped: list[RedoRecord] = []
    _ship(p, s, shipped)
    s_before = s.n_open
    p.set_status("OPEN")
    s.set_status("OPEN")
    n = p.n_open
    assert s.n_open == s_before, "a standby must not count its own opens"
    _write(p, "create table t_n(id int)")
    _write(p, "insert into t_n values(1)")
    assert _n_open_ops(shipped) == [n], "the new N_OPEN travels once, in the first record after the open"
    assert s.n_open == p.n_open == n

    for old, new in ((p, s), (s, p)):                          # switchover and back (reference 7.1)
        shipped.clear()
        old.set_status("MOUNT")
        new.set_status("MOUNT")
        old.set_mode("STANDBY")
        new.set_mode("PRIMARY")
        _ship(new, old, shipped)
        old.set_status("OPEN")
        new.set_status("OPEN")
        assert (new.n_open, old.n_open) == (n + 1, n)
        _write(new, "insert into t_n values(2)")
        assert _n_open_ops(shipped) == [n + 1]
        assert old.n_open == new.n_open == n + 1
        n += 1


def test_primary_crash_recovery_keeps_its_n_open(pair, tmp_path):
    p, _ = pair
    p.set_status("OPEN")
    _write(p, "create table t_c(id int)")
    n = p.n_open
    p.shutdown(normal=False)
    again = Instance(p.ini_path)
    again.start(True)
    try:
        assert again.n_open == n
        again.set_status("OPEN")
        assert again.n_open == n + 1
    finally:
        again.shutdown()


def _show_n_open(lab, m) -> dict[str, int]:
    """{INAME: N_OPEN} as DM8 exposes it: v$database OPEN_COUNT on each instance (real `show` has no N_OPEN)."""
    return {name: int(n.sql("select OPEN_COUNT from v$database")[0][0]) for name, n in lab.nodes.items()}


def test_show_reports_equal_n_open_before_and_after_switchover(lab):
    m = lab.monitor()
    wait_for(lambda: len(set(_show_n_open(lab, m).values())) == 1, 10, "equal N_OPEN in show",
             lambda: _show_n_open(lab, m))
    before = _show_n_open(lab, m)["mema1"]
    m.login()
    m.cmd("switchover mema2", ["Y"])
    lab.wait_open("mema2")
    want = {"mema1": before + 1, "mema2": before + 1}
    wait_for(lambda: _show_n_open(lab, m) == want, 10, f"N_OPEN {want}", lambda: _show_n_open(lab, m))
    m.cmd("switchover mema1", ["Y"])
    lab.wait_open("mema1")
    want = {"mema1": before + 2, "mema2": before + 2}
    wait_for(lambda: _show_n_open(lab, m) == want, 10, f"N_OPEN {want}", lambda: _show_n_open(lab, m))
