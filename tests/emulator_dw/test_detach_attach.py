"""`detach database` / `attach database` on a live group (reference 4.2), in English, and their refusals."""

from __future__ import annotations

import signal
import time

import pytest
from dwlab import count_and_sum, wait_for


@pytest.fixture(scope="module")
def mon(lab):
    m = lab.monitor(lang="en", name="mon_detach")
    yield m
    m.close()


def _arch(lab) -> str:
    return lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'")


def test_detach_refusals_change_nothing(lab, mon):
    assert "Please login the monitor first" in mon.cmd("detach database mema2")  # the real refusal has no code
    mon.login()
    assert "Cannot detach the primary instance mema1, code = -2" in mon.cmd("detach database mema1")
    assert "Instance mema2 is not detached, code = -2" in mon.cmd("attach database mema2")
    assert lab.n1.state() == ("PRIMARY", "OPEN") and lab.n2.state() == ("STANDBY", "OPEN")
    assert _arch(lab) == "VALID"


def test_detach_then_attach_rejoins_with_every_write(lab, mon):
    mon.login()
    lab.n1.sql("create table t_det(id int)")
    assert "Detach instance mema2 success" in mon.cmd("detach database mema2")
    wait_for(lambda: not lab.n2.server_alive(), 20, "mema2 left")
    assert mon.show()["mema2"]["WSTATUS"] == "SHUTDOWN"
    lab.n1.sql("insert into t_det values(1)")
    assert _arch(lab) == "INVALID"
    assert "code = -2" in mon.cmd("detach database mema2")
    assert "attach success" in mon.cmd("attach database mema2")
    lab.wait_open("mema1", timeout=60)
    wait_for(lambda: count_and_sum(lab.n2, "t_det") == (1, 1), 20, "mema2 recovered")
    assert _arch(lab) == "VALID"


@pytest.mark.parametrize("fresh_lab", [{"bugs": "detach-primary-allowed"}, {"bugs": "attach-when-not-detached"},
                                       {"bugs": "detach-leaves-instance"}, {"bugs": "attach-skips-recovery"},
                                       {"bugs": "arch-invalid-ignored"}, {"bugs": "kill-group-restarts"},
                                       {"bugs": "open-database-ignored"}],
                         indirect=True, ids=lambda p: p["bugs"])
def test_each_seeded_defect_breaks_its_property(fresh_lab):
    lab, bug = fresh_lab, fresh_lab.env["DMEMU_BUGS"]
    m = lab.monitor(lang="en", name="mon_bug")
    try:
        m.login()
        if bug == "detach-primary-allowed":
            assert "code = -" not in m.cmd("detach database mema1")
        elif bug == "attach-when-not-detached":
            assert "code = -" not in m.cmd("attach database mema2")
        elif bug == "detach-leaves-instance":
            m.cmd("detach database mema2")
            assert m.show()["mema2"]["WSTATUS"] == "SHUTDOWN" and lab.n2.server_alive()
        elif bug == "attach-skips-recovery":
            m.cmd("detach database mema2")
            wait_for(lambda: not lab.n2.server_alive(), 20, "mema2 left")
            m.cmd("attach database mema2")
            wait_for(lambda: lab.n2.server_alive(), 20, "mema2 started")
            time.sleep(5)
            assert _arch(lab) == "INVALID" and m.show()["mema2"]["WSTATUS"] != "OPEN"
        elif bug == "arch-invalid-ignored":
            assert "success" in m.cmd("set database mema2 arch invalid")
            assert _arch(lab) == "VALID"
        elif bug == "open-database-ignored":
            m.cmd("stop group", timeout=90)
            lab.n2.watcher.send_signal(signal.SIGKILL)
            lab.n2.watcher.wait(10)
            wait_for(lambda: m.show()["mema2"]["WSTATUS"] == "ERROR", 15, "mema2's watcher timed out")
            m.cmd("startup database mema1")
            wait_for(lambda: lab.n1.server_alive() and lab.n1.state() == ("PRIMARY", "MOUNT"), 30, "mema1 MOUNT")
            wait_for(lambda: m.show()["mema1"]["ISTATUS"] == "MOUNT", 15, "the monitor sees mema1 MOUNT")
            assert "Open database mema1 success" in m.cmd("open database mema1")
            assert lab.n1.state() == ("PRIMARY", "MOUNT")
        else:
            m.cmd("kill group")
            wait_for(lambda: lab.n1.server_alive() and lab.n2.server_alive(), 30, "instances restarted")
    finally:
        m.close()
