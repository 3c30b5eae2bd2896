"""Every dmmonitor command on a live group, in English (LANGUAGE=en): output, state changes, codes."""

from __future__ import annotations

import os
import signal

import pytest
from dwlab import count_and_sum, wait_for


@pytest.fixture(scope="module")
def mon(lab):
    m = lab.monitor(lang="en", name="mon_en")
    yield m
    m.close()


def test_banner_help_version_and_show_variants(lab, mon):
    assert "DMMONITOR[4.0] IS READY." in open(os.path.join(lab.root, "mon_en.transcript")).read()
    h = mon.cmd("help")
    assert "switchover [group.]db" in h and "switchover to the standby" in h
    g = mon.cmd("show global info")
    assert "<<DATABASE GLOBAL INFO:>>" in g and "EP INFO" not in g
    d = mon.cmd("show database GRP1.mema2")
    assert "<<DATABASE(mema2) INFO:>>" in d and "<<DATABASE(mema1) INFO:>>" not in d and "EP INFO:" in d
    full = mon.cmd("show GRP1")
    assert full.count("#" + "=" * 80 + "#") == 2 and "MON_CONFIRM" in full
    a = mon.cmd("show arch send info mema1")
    assert "mema2" in a and "REALTIME" in a and "VALID" in a
    o = mon.cmd("show open info mema1")
    assert "OPEN" in o and "PRIMARY" in o
    sm = mon.cmd("show monitor")
    assert "GET MONITOR CONNECT INFO FROM DMWATCHER(mema1), THE FIRST LINE IS SELF INFO." in sm and "FALSE" in sm
    lst = mon.cmd("list GRP1.mema1")
    for key in ("DW_TYPE", "DW_MODE", "DW_ERROR_TIME", "INST_RECOVER_TIME", "INST_ERROR_TIME", "INST_OGUID",
                "INST_INI", "INST_AUTO_RESTART", "INST_STARTUP_CMD", "RLOG_SEND_THRESHOLD", "RLOG_APPLY_THRESHOLD"):
        assert key in lst
    assert "= MANUAL" in lst and lab.n1.ini in lst
    assert "DW system is running normally" in mon.cmd("tip")
    assert "auto takeover time left: -1s" in mon.cmd("get takeover time")


def test_bad_arguments_and_login_gate(lab, mon):
    for cmd in ("stop group", "open database mema1"):                 # no code, as the real refusal
        assert mon.cmd(cmd).rstrip().endswith("Please login the monitor first")
    out = mon.login("SYSDBA", "nope")
    assert "Login monitor failed" in out and "code = -2501" in out
    out = mon.login()
    assert "Login monitor success!" in out
    assert "Invalid instance name [nosuch], code = -2" in mon.cmd("switchover GRP1.nosuch")
    assert "Invalid group name [GRP9], code = -2" in mon.cmd("choose switchover GRP9")
    assert "Invalid command or argument: frobnicate the group, code = -2" in mon.cmd("frobnicate the group")
    assert "Invalid command or argument" in mon.cmd("set group GRP1 auto restart maybe")
    assert "does not qualify for switchover" in mon.cmd("switchover mema1", ["Y"])
    assert "No instance qualifies" in mon.cmd("choose takeover force")
    assert lab.n1.state() == ("PRIMARY", "OPEN") and lab.n2.state() == ("STANDBY", "OPEN")


def test_set_commands_change_watcher_memory_and_ini(lab, mon):
    mon.login()
    assert "success" in mon.cmd("set group GRP1 auto restart off")
    for n in (lab.n1, lab.n2):
        assert "INST_AUTO_RESTART = 0" in open(n.watcher_ini).read()
    assert any(line.split() == ["INST_AUTO_RESTART", "=", "0"] for line in mon.cmd("list mema2").splitlines())
    mon.cmd("set group GRP1 auto restart on")
    assert "INST_AUTO_RESTART = 1" in open(lab.n1.watcher_ini).read()
    mon.cmd("set database GRP1.mema2 recover time 1")
    assert "INST_RECOVER_TIME = 1" in open(lab.n2.watcher_ini).read()
    mon.cmd("set group GRP1 recover time 2")
    assert "INST_RECOVER_TIME = 2" in open(lab.n1.watcher_ini).read()


def test_arch_invalid_and_check_recover(lab, mon):
    mon.login()
    out = mon.cmd("set database mema2 arch invalid")
    assert "success" in out
    assert lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "INVALID"
    lab.n1.sql("create table t_mc(id int)")
    lab.n1.sql("insert into t_mc values(1)")
    out = mon.cmd("check recover mema2")
    assert "Archive of standby mema2 is VALID" in out
    wait_for(lambda: count_and_sum(lab.n2, "t_mc") == (1, 1), 10, "t_mc recovered on the standby")


def test_stop_kill_startup_database(lab, mon):
    mon.login()
    assert "success" in mon.cmd("stop database mema2")
    wait_for(lambda: not lab.n2.server_alive(), 20, "mema2 stopped")
    wait_for(lambda: mon.show()["mema2"]["WSTATUS"] == "SHUTDOWN", 10, "mema2 watcher SHUTDOWN")
    lab.n1.sql("insert into t_mc values(2)")             # primary goes on: archive INVALID
    assert lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "INVALID"
    mon.cmd("startup database mema2")
    lab.wait_open("mema1")
    wait_for(lambda: count_and_sum(lab.n2, "t_mc") == (2, 3), 15, "mema2 recovered")
    mon.cmd("kill database mema2")
    wait_for(lambda: not lab.n2.server_alive(), 20, "mema2 killed")
    import time
    time.sleep(2)
    assert not lab.n2.server_alive(), "a monitor kill is not auto-restarted"
    mon.cmd("startup database mema2")
    lab.wait_open("mema1")


def test_stop_and_startup_dmwatcher(lab, mon):
    mon.login()
    mon.cmd("stop dmwatcher")
    assert mon.cmd("show").count("GLOBAL") >= 2
    mon.cmd("startup dmwatcher")
    assert "DW system is running normally" in mon.cmd("tip")


def test_check_open_and_open_database_after_partial_start(lab, mon):
    """Only the primary comes back after a full stop: its watcher waits in STARTUP (check open says the
    user must decide, -27) until `open database` forces it open through OPENFORCE."""
    mon.login()
    assert "Stop group(GRP1) success" in mon.cmd("stop group", timeout=90)
    lab.n2.watcher.send_signal(signal.SIGKILL)
    lab.n2.watcher.wait(10)
    wait_for(lambda: mon.show()["mema2"]["WSTATUS"] == "ERROR", 15, "mema2's watcher timed out")
    mon.cmd("startup database mema1")
    wait_for(lambda: lab.n1.server_alive() and lab.n1.state() == ("PRIMARY", "MOUNT"), 30, "mema1 in MOUNT")
    import time
    time.sleep(1.5)
    assert lab.n1.state() == ("PRIMARY", "MOUNT")
    assert "code = -27" in mon.cmd("check open mema1")
    out = mon.cmd("open database GRP1.mema1")
    assert "[STARTUP-->OPENFORCE]" in out and "Open database mema1 success" in out
    assert lab.n1.state() == ("PRIMARY", "OPEN")
    assert "Instance mema1 is open" in mon.cmd("check open mema1")
    lab.n1.sql("insert into t_mc values(3)")
    lab.n2.start_watcher()                                  # auto restart brings mema2 back; recovery
    lab.wait_open("mema1", timeout=60)
    wait_for(lambda: count_and_sum(lab.n2, "t_mc") == (3, 6), 15, "mema2 caught up")
    assert "DW system is running normally" in mon.cmd("tip")
    assert "success" in mon.cmd("logout")
    assert "Please login the monitor first" in mon.cmd("choose switchover")


def test_monitor_log_files(lab, mon):
    logdir = os.path.join(lab.root, "monitor", "log")
    files = [f for f in os.listdir(logdir) if f.startswith("dmmonitor_") and f.endswith(".log")]
    assert files
    text = "".join(open(os.path.join(logdir, f), encoding="utf-8").read() for f in files)
    assert "DMMONITOR[4.0] IS READY." in text and "<<DATABASE GLOBAL INFO:>>" in text
