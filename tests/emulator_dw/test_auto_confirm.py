"""DW_MODE AUTO: the primary's watcher invalidates a lost standby only once the confirm monitor confirms the
failure (reference §3.3 l.286, §4.4, pitfall §9 item 6); MANUAL invalidates by itself. The MAL link is cut
with the lab's block file, so both watchers and the monitor still see each other."""

from __future__ import annotations

import io
import threading
import time

import pytest
from dmemu.dw.config import MonGroup, MonitorConfig
from dmemu.dw.monitor import Monitor
from dwlab import OGUID, Lab, Node, count_and_sum, wait_for

ERR_TIME = 3        # the lab's DW_ERROR_TIME
AUTO = {"dw_mode": "AUTO", "confirm": 1, "dw_error_time": ERR_TIME}


def _cut_mal(lab: Lab) -> None:
    """Block both instances' MAL_PORT; the processes re-read the block file within 200 ms."""
    with open(lab.block_file, "w") as f:
        f.write("".join(f"{n.host}:{n.mal_port}\n" for n in (lab.n1, lab.n2)))
    time.sleep(0.5)


def _rstat(n: Node) -> str:
    return n.one("select arch_status from v$arch_status where arch_type='REALTIME'")


def _dw_status(n: Node) -> str:
    return n.one("select dw_status from v$dmwatcher")


class _Commit:
    """One insert committed in the background (it blocks while the primary is SUSPEND)."""

    def __init__(self, n: Node, sql: str):
        self.done = threading.Event()
        self.error: BaseException | None = None
        threading.Thread(target=self._run, args=(n, sql), daemon=True).start()

    def _run(self, n: Node, sql: str) -> None:
        try:
            n.sql(sql)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.done.set()

    def wait(self, timeout: float) -> None:
        assert self.done.wait(timeout), f"the commit did not return within {timeout}s"
        assert self.error is None, self.error


def _decision(tmp_path, confirm: int, primary: dict, standby: dict, primary_age: float = 0.2) -> str | None:
    """confirm_standby_failure() of a link-less monitor whose two watchers last said `primary`/`standby`."""
    mon = _monitor(tmp_path, confirm)
    try:
        p, s = mon.views
        now = time.monotonic()
        p.msg, p.seen = primary, now - primary_age
        s.msg, s.seen = standby, now
        return mon.confirm_standby_failure(p)
    finally:
        mon.close()


def _monitor(tmp_path, confirm: int = 1) -> Monitor:
    cfg = MonitorConfig(path=str(tmp_path / "dmmonitor.ini"), confirm=confirm, log_path=str(tmp_path),
                        log_interval=0, log_file_size=32, log_space_limit=0,
                        groups=[MonGroup("GRP1", OGUID, [("127.0.56.201", 1), ("127.0.56.202", 2)])])
    return Monitor(cfg, out=io.StringIO())


def _wmsg(name: str, mode: str, status: str, **extra: object) -> dict:
    return dict({"op": "wmsg", "name": name, "dw_mode": "AUTO", "dw_error_time": ERR_TIME, "inst_ok": "OK",
                 "wstatus": "CONFIRM" if mode == "PRIMARY" else "OPEN", "wctlstat": "VALID",
                 "inst": {"mode": mode, "status": status, "arch": []}}, **extra)


@pytest.mark.parametrize(("confirm", "primary", "standby", "age", "confirmed"), [
    (1, _wmsg("mema1", "PRIMARY", "SUSPEND"), _wmsg("mema2", "STANDBY", "OPEN"), 0.2, True),
    (0, _wmsg("mema1", "PRIMARY", "SUSPEND"), _wmsg("mema2", "STANDBY", "OPEN"), 0.2, False),   # not a confirm monitor
    (1, _wmsg("mema1", "PRIMARY", "SUSPEND"), _wmsg("mema2", "STANDBY", "OPEN"), ERR_TIME + 1, False),  # stale
    (1, _wmsg("mema1", "PRIMARY", "SUSPEND", inst_ok="ERROR"), _wmsg("mema2", "STANDBY", "OPEN"), 0.2, False),
    (1, _wmsg("mema1", "PRIMARY", "SUSPEND", wctlstat="SPLIT"), _wmsg("mema2", "PRIMARY", "OPEN"), 0.2, False),
    (1, _wmsg("mema1", "PRIMARY", "SUSPEND"), _wmsg("mema2", "PRIMARY", "OPEN"), 0.2, False),    # replaced
])
def test_confirm_monitor_decision(tmp_path, confirm, primary, standby, age, confirmed):
    why = _decision(tmp_path, confirm, primary, standby, age)
    assert (why is None) == confirmed, why


@pytest.mark.parametrize(("standby_hears", "counts_down"), [(0.3, False), (ERR_TIME + 2, True)])
def test_takeover_time_counts_down_only_when_the_standby_lost_the_primary_too(tmp_path, standby_hears,
                                                                               counts_down):
    mon = _monitor(tmp_path)
    try:
        p, s = mon.views
        now = time.monotonic()
        p.msg, p.seen = _wmsg("mema1", "PRIMARY", "OPEN", wstatus="OPEN"), now - (ERR_TIME + 2)
        s.msg = _wmsg("mema2", "STANDBY", "OPEN", peer_links={"mema1": {"dw_age": standby_hears, "mal": None}})
        s.seen = now
        left = mon._takeover_countdown(mon.cfg.groups[0])
        assert (left == 0) == counts_down, left
    finally:
        mon.close()


def _seed(lab: Lab, table: str) -> None:
    lab.n1.sql(f"create table {table}(id int)")
    lab.n1.sql(f"insert into {table} values(1)")
    wait_for(lambda: count_and_sum(lab.n2, table) == (1, 1), 10, f"{table} on the standby")


def _recovers(lab: Lab, table: str, rows: tuple[int, int]) -> None:
    lab.heal()
    wait_for(lambda: _rstat(lab.n1) == "VALID", 30, "the standby recovered (archive VALID)",
             lambda: lab.n1.watcher_log()[-600:])
    lab.wait_open("mema1")
    wait_for(lambda: count_and_sum(lab.n2, table) == rows, 10, "the standby caught up")


@pytest.mark.parametrize("fresh_lab", [AUTO], indirect=True)
def test_auto_with_confirm_monitor_confirms_then_invalidates(fresh_lab):
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    m = lab.monitor(lang="en")
    _seed(lab, "t_ac")
    _cut_mal(lab)
    commit = _Commit(n1, "insert into t_ac values(2)")
    commit.wait(15)
    assert _rstat(n1) == "INVALID"
    assert n1.state() == ("PRIMARY", "OPEN")
    out = m.expect(r"status switching \[CONFIRM-->OPEN\]", timeout=10)
    assert "Dmwatcher process mema1 status switching [OPEN-->CONFIRM]" in out
    assert "Confirm monitor confirms the failure of instance mema2 (asked by dmwatcher mema1)" in out
    log = n1.watcher_log()
    assert log.index("确认监视器已确认备库mema2故障") < log.index("设置实例mema1到mema2的归档为无效状态")
    assert "auto takeover" not in lab.read("mon.transcript")
    n1.sql("insert into t_ac values(3)")
    assert count_and_sum(n1, "t_ac") == (3, 6)
    assert count_and_sum(n2, "t_ac") == (1, 1)
    assert n2.state() == ("STANDBY", "OPEN")
    _recovers(lab, "t_ac", (3, 6))


@pytest.mark.parametrize("fresh_lab", [AUTO], indirect=True)
def test_auto_without_confirm_monitor_stays_suspended_until_one_confirms(fresh_lab):
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    normal = lab.monitor(lang="en", confirm=0, name="normal")
    _seed(lab, "t_nc")
    _cut_mal(lab)
    commit = _Commit(n1, "insert into t_nc values(2)")
    assert not commit.done.wait(3.0), "the commit succeeded with no confirm monitor to confirm the standby lost"
    wait_for(lambda: _dw_status(n1) == "CONFIRM", 10, "mema1's watcher in CONFIRM")
    assert normal.show()["mema1"]["WSTATUS"] == "CONFIRM"
    hold_until = time.monotonic() + 2 * ERR_TIME
    while time.monotonic() < hold_until:
        assert n1.state() == ("PRIMARY", "SUSPEND")
        assert _rstat(n1) == "VALID"
        assert not commit.done.is_set()
        time.sleep(0.5)
    assert "没有确认监视器应答" in n1.watcher_log()
    assert n2.state() == ("STANDBY", "OPEN")

    confirm = lab.monitor(lang="en", name="confirm")         # the confirm monitor arrives
    commit.wait(15)
    confirm.expect(r"Confirm monitor confirms the failure of instance mema2", timeout=5)
    assert _rstat(n1) == "INVALID"
    assert n1.state() == ("PRIMARY", "OPEN")
    wait_for(lambda: _dw_status(n1) == "OPEN", 10, "mema1's watcher back to OPEN")
    n1.sql("insert into t_nc values(3)")
    assert count_and_sum(n1, "t_nc") == (3, 6)
    _recovers(lab, "t_nc", (3, 6))


def test_manual_invalidates_without_any_monitor(fresh_lab):
    lab = fresh_lab
    n1 = lab.n1
    _seed(lab, "t_mn")
    _cut_mal(lab)
    t0 = time.monotonic()
    n1.sql("insert into t_mn values(2)")
    assert time.monotonic() - t0 < 10
    assert _rstat(n1) == "INVALID"
    assert n1.state() == ("PRIMARY", "OPEN")
    assert "-->CONFIRM]" not in n1.watcher_log()
    _recovers(lab, "t_mn", (2, 3))
