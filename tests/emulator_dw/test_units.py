"""Unit tests of the Data Watch pieces that need no running group: links, ini files, history, redo checks."""

from __future__ import annotations

import os
import threading
import time

import pytest
from dmemu.api import RedoRecord
from dmemu.dw import protocol
from dmemu.dw.config import load_mal, load_monitor, load_watcher
from dmemu.dw.history import History, replaced_by
from dmemu.dw.mal import ERR_DBMAGIC, ERR_LSN_GAP, ERR_NOT_STANDBY, ERR_OGUID, ERR_PMAGIC, Mal, Pkg
from dmemu.errors import DmError
from dwlab import free_port, wait_for


def _echo_listener(host: str = "127.0.0.1"):
    port = free_port()
    lst = protocol.Listener(host, port, lambda c: None, on_request=lambda c, m: {"ok": True, "echo": m.get("x")})
    return lst, port


def test_request_reply_and_dial_map(monkeypatch):
    lst, port = _echo_listener()
    try:
        c = protocol.dial("127.0.0.1", port).start()
        assert c.request({"op": "ping", "x": 42})["echo"] == 42
        c.close()
        monkeypatch.setenv("DMEMU_DIAL_MAP", f"127.9.9.9:1={'127.0.0.1'}:{port}")
        c = protocol.dial("127.9.9.9", 1).start()
        assert c.request({"op": "ping", "x": "mapped"})["echo"] == "mapped"
        c.close()
    finally:
        lst.stop()


def test_net_block_file_refuses_dials_and_drops_links(tmp_path, monkeypatch):
    block = tmp_path / "block"
    monkeypatch.setenv("DMEMU_NET_BLOCK_FILE", str(block))
    lst, port = _echo_listener("127.0.56.201")
    try:
        c = protocol.dial("127.0.56.201", port, src="127.0.56.202").start()
        assert c.request({"op": "ping", "x": 1})["ok"]
        block.write_text(f"127.0.56.201:{port}\n")
        wait_for(lambda: c.closed, 2, "established link dropped within 200 ms")
        with pytest.raises(protocol.LinkError):
            protocol.dial("127.0.56.201", port, src="127.0.56.202")
        block.write_text("127.0.56.201\n")          # host isolation: links inside the host survive
        time.sleep(0.3)
        inner = protocol.dial("127.0.56.201", port, src="127.0.56.201").start()
        assert inner.request({"op": "ping", "x": 2})["ok"]
        with pytest.raises(protocol.LinkError):
            protocol.dial("127.0.56.201", port, src="127.0.56.202")
        block.unlink()
        time.sleep(0.3)
        c = protocol.dial("127.0.56.201", port, src="127.0.56.202").start()
        assert c.request({"op": "ping", "x": 3})["ok"]
    finally:
        lst.stop()


MAL = """MAL_CHECK_INTERVAL = 5
MAL_CONN_FAIL_INTERVAL = 5
[MAL_INST1]
MAL_INST_NAME = mema1
MAL_HOST = 127.0.56.201
MAL_PORT = 5238
MAL_DW_PORT = 5239
MAL_INST_HOST = 127.0.0.201
MAL_INST_PORT = 5236
MAL_INST_DW_PORT = 5237
"""


def test_dmmal_ini_parsing_digest_and_missing_key(tmp_path):
    p = tmp_path / "dmmal.ini"
    p.write_text(MAL)
    cfg = load_mal(str(p))
    assert cfg.check_interval == 5 and cfg.find("MEMA1").dw_port == 5239
    p2 = tmp_path / "dmmal2.ini"
    p2.write_text(MAL.replace("MAL_CHECK_INTERVAL = 5", "MAL_CHECK_INTERVAL = 5  # comment"))
    assert load_mal(str(p2)).digest == cfg.digest
    p2.write_text(MAL.replace("MAL_PORT = 5238", "MAL_PORT = 6238"))
    assert load_mal(str(p2)).digest != cfg.digest
    p2.write_text(MAL.replace("MAL_DW_PORT = 5239\n", ""))
    with pytest.raises(DmError, match="MAL_DW_PORT"):
        load_mal(str(p2))


def test_dmwatcher_and_dmmonitor_ini_errors(tmp_path):
    w = tmp_path / "dmwatcher.ini"
    w.write_text("[GRP1]\nDW_TYPE = GLOBAL\nDW_MODE = MANUAL\nINST_OGUID = 453331\n")
    with pytest.raises(DmError, match="INST_INI"):
        load_watcher(str(w))
    w.write_text("[GRP1]\nDW_MODE = SOMETIMES\nINST_INI = /x/dm.ini\nINST_OGUID = 1\n")
    with pytest.raises(DmError, match="DW_MODE"):
        load_watcher(str(w))
    w.write_text("[GRP1]\nINST_INI = /x/dm.ini\nINST_OGUID = 7\nDW_ERROR_TIME = 3\n")
    cfg = load_watcher(str(w))
    assert (cfg.group, cfg.dw_mode, cfg.dw_error_time, cfg.inst_oguid) == ("GRP1", "MANUAL", 3, 7)
    m = tmp_path / "dmmonitor.ini"
    m.write_text("MON_DW_CONFIRM = 1\n[GRP1]\nMON_INST_OGUID = 453331\n")
    with pytest.raises(DmError, match="MON_DW_IP"):
        load_monitor(str(m))
    m.write_text("MON_DW_CONFIRM = 1\n[GRP1]\nMON_INST_OGUID = 453331\nMON_DW_IP = a:1\nMON_DW_IP = b:2\n")
    assert load_monitor(str(m)).groups[0].dw_ips == [("a", 1), ("b", 2)]


def test_history_adopt_and_split_detection(tmp_path):
    a = History(str(tmp_path / "a.ctl"))
    b = History(str(tmp_path / "b.ctl"))
    a.add("OPEN", "mema1", None, 1)
    assert b.adopt(a.entries) and [e["tguid"] for e in b.entries] == [e["tguid"] for e in a.entries]
    time.sleep(0.01)
    b.add("TAKEOVER", "mema2", "mema1", 2)
    e = replaced_by(a, "mema1", b.entries)
    assert e is not None and e["db_name"] == "mema2"
    assert replaced_by(b, "mema2", a.entries) is None
    assert History(str(tmp_path / "b.ctl")).entries == b.entries        # persisted


class FakeInst:
    """The bits of the Instance contract MAL's receive path uses."""

    def __init__(self):
        self.name, self.mode, self.status = "mema2", "STANDBY", "OPEN"
        self.oguid, self.permanent_magic, self.db_magic = 453331, 77, 2
        self.cur_lsn = 10
        self.applied: list[RedoRecord] = []
        self.arch: list[dict] = []
        self._redo_lock = threading.RLock()

    def apply_redo(self, rec):
        self.applied.append(rec)
        self.cur_lsn = rec.lsn_hi


@pytest.fixture
def mal_pair(tmp_path):
    p = tmp_path / "dmmal.ini"
    port = free_port()
    p.write_text(MAL.replace("MAL_PORT = 5238", f"MAL_PORT = {port}").replace("127.0.56.201", "127.0.0.1"))
    cfg = load_mal(str(p))
    inst = FakeInst()
    mal = Mal(inst, cfg, cfg.insts[0])
    yield inst, mal
    mal.stop()


def _rec(lo, hi, **kw):
    d = dict(oguid=453331, permanent_magic=77, db_magic=1)
    d.update(kw)
    rec = RedoRecord(lsn_lo=lo, lsn_hi=hi, ops=[("x", lo)], **d)
    return Pkg(Pkg.header(rec), rec.encode())


def test_standby_checks_keep_buf_and_messages(mal_pair):
    inst, mal = mal_pair
    assert mal._receive(_rec(11, 12))["ok"] and inst.applied == [] and mal.keep.lsn_hi == 12
    assert mal._receive(_rec(13, 13))["ok"]
    mal.apply_q.join()
    assert [r.lsn_hi for r in inst.applied] == [12]
    r = mal._receive(_rec(15, 16))
    assert r["code"] == ERR_LSN_GAP and "14" in r["error"] and "15" in r["error"]
    assert mal._receive(_rec(14, 14, oguid=1))["code"] == ERR_OGUID
    assert mal._receive(_rec(14, 14, permanent_magic=5))["code"] == ERR_PMAGIC
    assert mal._receive(_rec(14, 14, db_magic=2))["code"] == ERR_DBMAGIC
    inst.status = "MOUNT"
    assert mal._receive(_rec(14, 14))["code"] == ERR_NOT_STANDBY
    inst.status = "OPEN"
    mal.apply_keep()
    assert inst.cur_lsn == 13 and mal.keep is None


def test_monitor_help_lists_every_command_in_both_languages(monkeypatch):
    from dmemu.dw.messages import HELP_CN, HELP_EN
    for cmd in ("switchover [group.]db", "choose takeover force", "open database", "check recover", "stop group",
                "startup group", "kill database", "show arch send info", "tip", "login", "logout", "list"):
        assert cmd in HELP_CN and cmd in HELP_EN
    assert "主备切换" in HELP_CN and "switchover to the standby" in HELP_EN


def test_watcher_and_monitor_refuse_bad_ini_with_one_line(tmp_path):
    import subprocess
    import sys
    bindir = os.path.dirname(sys.executable)
    w = tmp_path / "dmwatcher.ini"
    w.write_text("[GRP1]\nDW_MODE = MANUAL\nINST_OGUID = 1\n")
    p = subprocess.run([os.path.join(bindir, "dmwatcher"), str(w)], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "INST_INI" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run([os.path.join(bindir, "dmmonitor"), str(tmp_path / "nope.ini")], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode != 0 and "nope.ini" in p.stderr
