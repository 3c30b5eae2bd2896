"""Failures the watchers handle by themselves, and bad input: standby loss (SUSPEND -> archive INVALID ->
reopen -> recovery after INST_RECOVER_TIME), instance auto restart, OGUID mismatch, inconsistent dmmal.ini,
confirm monitor auto takeover (AUTO mode), a second confirm monitor."""

from __future__ import annotations

import os
import signal
import threading
import time

import pexpect
import pytest
from dwlab import Lab, count_and_sum, wait_for


def test_standby_loss_suspends_invalidates_and_recovers(lab):
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_f(id int)")
    n1.sql("insert into t_f values(1)")
    wait_for(lambda: count_and_sum(n2, "t_f") == (1, 1), 10, "t_f on the standby")
    n2.sql("select 1")
    lab.isolate(n2)                                           # the standby's host drops off the network
    time.sleep(0.3)
    t0 = time.monotonic()
    n1.sql("insert into t_f values(2)")                       # send fails: SUSPEND, INVALID, reopen, commit
    took = time.monotonic() - t0
    assert n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "INVALID"
    assert n1.state() == ("PRIMARY", "OPEN")
    code = n1.one("select last_send_code from v$arch_send_info")
    assert code != 0
    assert "设置实例mema1到mema2的归档为无效状态" in n1.watcher_log()
    assert took < 15
    n1.sql("insert into t_f values(3)")
    assert count_and_sum(n2, "t_f") == (1, 1)                 # the standby got nothing while cut off
    lab.heal()
    wait_for(lambda: "-->RECOVERY]" in n2.watcher_log(), 10, "standby watcher in RECOVERY")
    wait_for(lambda: "恢复备库mema2成功" in n1.watcher_log(), 20, "recovery after INST_RECOVER_TIME",
             lambda: n1.watcher_log()[-600:])
    lab.wait_open("mema1")
    wait_for(lambda: count_and_sum(n2, "t_f") == (3, 6), 10, "standby caught up")
    n1.sql("insert into t_f values(4)")
    wait_for(lambda: count_and_sum(n2, "t_f") == (4, 10), 10, "realtime again after recovery")


def test_killed_instances_are_restarted_by_their_watchers(lab):
    n1, n2 = lab.n1, lab.n2
    for n in (n2, n1):
        pid = n.server_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda n=n, pid=pid: n.server_pid() != pid and n.server_alive(), 30, f"{n.name} restarted",
                 lambda n=n: n.watcher_log()[-500:])
        lab.wait_open("mema1", timeout=40)
        assert "执行INST_STARTUP_CMD重新启动" in n.watcher_log()
    n1.sql("insert into t_f values(5)")
    wait_for(lambda: count_and_sum(n2, "t_f")[0] == count_and_sum(n1, "t_f")[0], 15, "in sync after restarts")


def test_watcher_refuses_oguid_mismatch(lab):
    n2 = lab.n2
    n2.stop_watcher()
    text = open(n2.watcher_ini).read()
    with open(n2.watcher_ini, "w") as f:
        f.write(text.replace("INST_OGUID = 453331", "INST_OGUID = 45330"))
    try:
        n2.start_server(mount=True)
        n2.start_watcher()
        msg = "oguid(45330) configured in dmwatcher.ini not equal with local dmserver's oguid(453331), " \
              "cannot build connection!"
        wait_for(lambda: msg in n2.watcher_log(), 15, "the OGUID refusal")
        time.sleep(1)
        assert n2.state() == ("STANDBY", "MOUNT")
        assert "n2" not in n2.sql("select dw_status from v$dmwatcher")
    finally:
        n2.stop_watcher()
        with open(n2.watcher_ini, "w") as f:
            f.write(text)
    n2.start_watcher()
    lab.wait_open("mema1")


def test_inconsistent_dmmal_ini_keeps_the_group_from_forming():
    lab = Lab()
    try:
        lab.build(start_watchers=False)
        lab.n2.stop_server()
        p = os.path.join(lab.n2.dir, "dmmal.ini")
        text = open(p).read()
        with open(p, "w") as f:
            f.write(text.replace("MAL_CHECK_INTERVAL = 2", "MAL_CHECK_INTERVAL = 9"))
        lab.n2.start_server(mount=True)
        lab.n1.start_watcher()
        lab.n2.start_watcher()
        wait_for(lambda: "dmmal.ini" in lab.n1.watcher_log() and "不能组成守护组" in lab.n1.watcher_log(), 15,
                 "the dmmal.ini complaint", lambda: lab.n1.watcher_log())
        time.sleep(1)
        assert lab.n1.state() == ("PRIMARY", "MOUNT") and lab.n2.state() == ("STANDBY", "MOUNT")
        assert lab.n1.sql("select ctl_link_status from v$mal_link_status") == [("DISCONNECTED",)]
    finally:
        lab.close()


@pytest.mark.parametrize("fresh_lab", [{"dw_mode": "AUTO", "confirm": 1}], indirect=True)
def test_confirm_monitor_auto_takeover_only_onto_valid_standby(fresh_lab):
    lab = fresh_lab
    m = lab.monitor(lang="en")
    with pytest.raises(pexpect.EOF):
        lab.monitor(name="second_confirm")                  # only one confirm monitor
    assert "code = -14" in lab.read("second_confirm.transcript")
    lab.monitors.pop()
    assert lab.monitor(confirm=0, name="normal").show()["mema1"]["IMODE"] == "PRIMARY"
    lab.n1.sql("create table t_auto(id int)")
    lab.n1.sql("insert into t_auto values(1)")
    wait_for(lambda: count_and_sum(lab.n2, "t_auto") == (1, 1), 10, "t_auto on the standby")
    lab.isolate(lab.n1)
    t0 = time.monotonic()
    out = m.expect(r"Takeover use instance mema2 success", timeout=30)
    assert "Check primary instance error in group(GRP1), start to auto takeover" in out
    assert "Notify group(GRP1)'s active dmwatcher to set MID success" in out
    assert time.monotonic() - t0 <= 3 + 2 * 3 + 3
    assert lab.n2.state() == ("PRIMARY", "OPEN")
    assert count_and_sum(lab.n2, "t_auto") == (1, 1)


@pytest.mark.parametrize("fresh_lab", [{"dw_mode": "AUTO", "confirm": 1}], indirect=True)
def test_no_auto_takeover_onto_invalid_standby(fresh_lab):
    lab = fresh_lab
    m = lab.monitor(lang="en")
    m.login()
    m.cmd("set group GRP1 recover time 300")                # keep the primary from re-syncing it
    m.cmd("set database mema2 arch invalid")
    assert lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "INVALID"
    lab.isolate(lab.n1)
    m.expect(r"Received message timeout from\(mema1\)", timeout=15)
    time.sleep(4)
    assert lab.n2.state() == ("STANDBY", "OPEN")
    assert "auto takeover" not in open(os.path.join(lab.root, "mon.transcript")).read()
    assert m.names("choose takeover") == []
    assert m.names("choose takeover force") == ["mema2"]


def test_commit_waits_for_the_standby_ack(lab):
    """REALTIME: while the standby cannot answer (SIGSTOP) the commit does not return."""
    n1, n2 = lab.n1, lab.n2
    lab.wait_open("mema1")
    n1.sql("create table t_ack(id int)")
    pid = n2.server_pid()
    done = threading.Event()
    os.kill(pid, signal.SIGSTOP)
    try:
        threading.Thread(target=lambda: (n1.sql("insert into t_ack values(100)"), done.set()), daemon=True).start()
        assert not done.wait(1.0), "commit returned before the standby acknowledged"
    finally:
        os.kill(pid, signal.SIGCONT)
    assert done.wait(20)
    wait_for(lambda: n2.one("select count(*) from t_ack where id = 100") == 1, 10, "row 100 on the standby")


def test_replaced_primary_restarting_is_not_opened_and_can_rejoin(fresh_lab):
    """Host crash of the primary (watcher and instance SIGKILLed), takeover on the standby; the old
    primary's watcher comes back, restarts its instance in MOUNT and finds from dmwatcher.ctl histories
    that it was replaced: SPLIT, not opened. Rejoined as standby (reference §7.2) it is recovered."""
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_r(id int)")
    n1.sql("insert into t_r values(1)")
    wait_for(lambda: count_and_sum(n2, "t_r") == (1, 1), 10, "t_r on the standby")
    m = lab.monitor()
    m.login()
    n1.watcher.send_signal(signal.SIGKILL)
    os.kill(n1.server_pid(), signal.SIGKILL)
    m.expect(r"Received message timeout from\(mema1\)", timeout=15)
    assert "接管成功" in m.cmd("takeover mema2", ["Y"])
    n2.sql("insert into t_r values(2)")
    n1.start_watcher()
    wait_for(lambda: n1.server_alive() and n1.state() == ("PRIMARY", "MOUNT"), 30, "old primary back in MOUNT")
    wait_for(lambda: m.show()["mema1"]["WCTLSTAT"] == "SPLIT", 15, "old primary SPLIT")
    time.sleep(1)
    assert n1.state() == ("PRIMARY", "MOUNT")
    assert "检测到实例mema1已被mema2接管(TAKEOVER)" in n1.watcher_log()
    c = n1.connect()
    cur = c.cursor()
    cur.execute("ALTER DATABASE STANDBY")
    c.close()
    lab.wait_open("mema2", timeout=40)
    wait_for(lambda: count_and_sum(n1, "t_r") == (2, 3), 15, "rejoined standby recovered")
    assert m.show()["mema1"]["WCTLSTAT"] == "VALID"


def test_hung_standby_times_out_after_mal_conn_fail_interval(lab):
    """A standby that stops answering (SIGSTOP): the send waits MAL_CONN_FAIL_INTERVAL (2 s here), then the
    primary suspends, its archive goes INVALID and the commit returns; the standby is re-synced later."""
    n1, n2 = lab.n1, lab.n2
    lab.wait_open("mema1")
    n1.sql("create table t_hung(id int)")
    pid = n2.server_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        n1.sql("insert into t_hung values(200)")
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 1.5 <= took <= 10, (took, n1.watcher_log()[-1500:], n2.watcher_log()[-800:])
    assert "INVALID" in [r[0] for r in n1.sql("select arch_status from v$arch_status where arch_type='REALTIME'")] \
        or "恢复备库mema2" in n1.watcher_log()
    lab.wait_open("mema1", timeout=40)
    wait_for(lambda: n2.one("select count(*) from t_hung where id = 200") == 1, 15, "row 200 after recovery")



def test_primary_paused_past_detection_comes_back_open_with_writes_running(fresh_lab):
    """The primary's dmserver stopped (SIGSTOP) longer than INST_ERROR_TIME while a client keeps writing:
    its watcher sees the instance in ERROR meanwhile; resumed, the primary finds its send to the standby
    broken and suspends. Its watcher must still invalidate the archive and reopen it, and the standby is
    recovered afterwards. (On a parallel docker run the same fault once left the primary SUSPEND: its
    watcher never acted on the one send-failure notice; the instance now repeats the notice until the
    watcher acts. This test did not reproduce that race on this machine.)"""
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    lab.wait_open("mema1")
    n1.sql("create table t_pause(id int)")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                n1.sql(f"insert into t_pause values({i})")
            except Exception:  # noqa: BLE001 - refused or cut while paused: the next one tries again
                time.sleep(0.2)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    pid = n1.server_pid()
    time.sleep(0.5)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(lab.opts["inst_error_time"] + 2)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        wait_for(lambda: n1.state() == ("PRIMARY", "OPEN"), 20, "mema1 PRIMARY OPEN after SIGCONT",
                 lambda: n1.watcher_log()[-800:])
        lab.wait_open("mema1", timeout=40)
    finally:
        stop.set()
        t.join(10)
    wait_for(lambda: count_and_sum(n2, "t_pause") == count_and_sum(n1, "t_pause"), 20, "the standby caught up")
