"""Each seeded Data Watch defect (DMEMU_BUGS) breaks the property it names in emulator/README.md; the
same checks pass without it (see test_story.py / test_faults.py and the controls below)."""

from __future__ import annotations

import os
import signal
import threading
import time

import dmPython
import pytest
from dwlab import Lab, built, count_and_sum, wait_for

_lab = built


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "commit-before-send"])
def test_commit_before_send(bug):
    lab = _lab(bug)
    try:
        lab.n1.sql("create table t_b(id int)")
        pid = lab.n2.server_pid()
        done = threading.Event()
        os.kill(pid, signal.SIGSTOP)
        try:
            threading.Thread(target=lambda: (lab.n1.sql("insert into t_b values(1)"), done.set()), daemon=True).start()
            returned_early = done.wait(1.0)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert done.wait(20), "commit never returned"
        assert returned_early == bool(bug), "commit acknowledged before the standby received the redo"
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "standby-skips-redo"])
def test_standby_skips_redo(bug):
    lab = _lab(bug)
    try:
        lab.n1.sql("create table t_b(id int)")
        for i in range(1, 10):
            lab.n1.sql(f"insert into t_b values({i})")
        time.sleep(2.5)                                   # idle flush applies KEEP_BUF
        same = count_and_sum(lab.n2, "t_b") == count_and_sum(lab.n1, "t_b") == (9, 45)
        assert same != bool(bug)
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "standby-accepts-dml"])
def test_standby_accepts_dml(bug):
    lab = _lab(bug)
    try:
        lab.n1.sql("create table t_b(id int)")
        wait_for(lambda: lab.n2.sql("select count(*) from t_b") is not None, 10, "t_b on the standby")
        try:
            lab.n2.sql("insert into t_b values(1)")
            accepted = True
        except dmPython.Error as e:
            assert "-2018" in str(e)
            accepted = False
        assert accepted == bool(bug)
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "no-suspend-on-send-failure"])
def test_no_suspend_on_send_failure(bug):
    lab = _lab(bug)
    try:
        lab.n1.sql("create table t_b(id int)")
        lab.isolate(lab.n2)
        time.sleep(0.3)
        lab.n1.sql("insert into t_b values(1)")
        assert lab.n1.one("select last_send_code from v$arch_send_info") != 0
        status = lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'")
        assert (status == "VALID") == bool(bug), "archive stays VALID although the standby missed redo"
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "takeover-while-healthy"])
def test_takeover_while_healthy(bug):
    lab = _lab(bug)
    try:
        m = lab.monitor()
        m.login()
        assert m.names("choose takeover") == (["mema2"] if bug else [])
        out = m.cmd("takeover mema2", ["Y"])
        assert ("接管成功" in out) == bool(bug)
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "switchover-drops-keepbuf"])
def test_switchover_drops_keepbuf(bug):
    lab = _lab(bug, extra_env={"DMEMU_KEEP_FLUSH_INTERVAL": "60"})
    try:
        m = lab.monitor()
        m.login()
        lab.n1.sql("create table t_b(id int)")
        lab.n1.sql("insert into t_b values(1)")
        lab.n1.sql("insert into t_b values(2)")               # the last package sits in KEEP_BUF
        assert lab.n2.one("select keep_lsn from v$rapply_sys") > 0
        m.cmd("switchover mema2", ["Y"])
        lab.wait_open("mema2")
        kept = count_and_sum(lab.n2, "t_b")
        assert (kept == (2, 3)) != bool(bug), f"new primary has {kept}"
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "watcher-ignores-oguid"])
def test_watcher_ignores_oguid(bug):
    lab = Lab(bugs=bug)
    try:
        lab.build(start_watchers=False)
        for n in (lab.n1, lab.n2):
            text = open(n.watcher_ini).read()
            with open(n.watcher_ini, "w") as f:
                f.write(text.replace("INST_OGUID = 453331", "INST_OGUID = 45330"))
        lab.n1.start_watcher()
        lab.n2.start_watcher()
        time.sleep(3)
        opened = lab.n1.state() == ("PRIMARY", "OPEN")
        assert opened == bool(bug)
        assert ("cannot build connection!" in lab.n1.watcher_log()) != bool(bug)
    finally:
        lab.close()
