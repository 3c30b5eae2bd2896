"""A group of one primary, two real-time standbys and one asynchronous standby (1p2rt1async), built by the
seed's procedure for every standby: replication to all of them, the async timer lag, the candidate rules,
a lost real-time standby, recovery of several returning ones, takeover onto a real-time standby and the
others following it. The tests run in file order on one group (each leaves it healthy or says so)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from dwlab import Lab, Monitor, Node, built, count_and_sum, parse_global, wait_for

TIMER_S = 2.0                 # dwlab's dmtimer.ini: FREQ_MINUTE_INTERVAL = 2, one timer minute = 1 s


@pytest.fixture(scope="module")
def grp() -> Iterator[Lab]:
    lb = Lab(standbys=("REALTIME", "REALTIME", "ASYNC"))
    try:
        lb.build()
        yield lb
    finally:
        lb.close()


@pytest.fixture(scope="module")
def mon(grp: Lab) -> Monitor:
    m = grp.monitor()
    m.login()
    return m


def lsn(n: Node) -> int:
    return int(n.one("select cur_lsn from v$rlog"))


def recv_lsn(n: Node) -> int:
    """What a real-time standby has received (KEEP_BUF included), by its own view V$RAPPLY_SYS."""
    return int(n.one("select recv_lsn from v$rapply_sys"))


def arch_status(p: Node) -> dict[str, str]:
    return {d.upper(): s for d, s in p.sql("select arch_dest, arch_status from v$arch_status where arch_type <> 'LOCAL'")}


def right_after_timer_tick() -> None:
    """Wait until just after a tick of the async timer (ticks fall on multiples of its period)."""
    wait_for(lambda: 0.4 <= time.time() % TIMER_S <= 0.7, TIMER_S + 1, "a moment just after a timer tick")


def test_show_lists_every_database_with_its_archive_type(grp: Lab, mon: Monitor) -> None:
    rows = parse_global(mon.cmd("show"))
    assert sorted(rows) == ["mema1", "mema2", "mema3", "mema4"]
    assert [rows[n]["IMODE"] for n in sorted(rows)] == ["PRIMARY", "STANDBY", "STANDBY", "STANDBY"]
    assert {n: (rows[n]["WTYPE"], rows[n]["RTYPE"], rows[n]["RSTAT"]) for n in ("mema2", "mema3", "mema4")} == {
        "mema2": ("GLOBAL", "REALTIME", "VALID"), "mema3": ("GLOBAL", "REALTIME", "VALID"),
        "mema4": ("LOCAL", "ASYNC", "VALID")}


def test_commit_reaches_both_realtime_standbys_and_the_async_one_catches_up(grp: Lab) -> None:
    p, rt, asy = grp.n1, [grp.nodes["mema2"], grp.nodes["mema3"]], grp.nodes["mema4"]
    p.sql("create table mt(id int)")
    right_after_timer_tick()
    p.sql("insert into mt select level from dual connect by level <= 500")
    committed = lsn(p)
    assert [recv_lsn(n) >= committed for n in rt] == [True, True], "commit returned before every RT standby had it"
    assert lsn(asy) < committed, "the async standby got the commit before its timer fired"
    t0 = time.monotonic()
    wait_for(lambda: lsn(asy) >= committed, 3 * TIMER_S, "async standby catches up")
    assert time.monotonic() - t0 <= 2 * TIMER_S
    want = count_and_sum(p, "mt")
    for n in [*rt, asy]:
        wait_for(lambda n=n: count_and_sum(n, "mt") == want, 10, f"{n.name} has every row")


def test_a_standby_still_sends_its_async_archive(grp: Lab) -> None:
    """Reference §5.1: a STANDBY forces REALTIME/TIMELY off but still sends ASYNC (dwlab's real-time nodes
    all name mema4 in an ARCHIVE_ASYNC section)."""
    committed = lsn(grp.n1)
    for n in (grp.nodes["mema2"], grp.nodes["mema3"]):
        sent = "select max_send_lsn, last_send_code from v$arch_send_info where arch_type = 'ASYNC'"
        wait_for(lambda n=n, q=sent: n.sql(q)[0][0] >= committed and n.sql(q)[0][1] == 0, 3 * TIMER_S,
                 f"{n.name} (STANDBY) ships its ASYNC archive to mema4", lambda n=n, q=sent: n.sql(q))
        assert n.sql("select max_send_lsn from v$arch_send_info where arch_type = 'REALTIME'") \
            == [(0,)] * 2, "a STANDBY sent a REALTIME archive"


def test_choose_lists_exactly_the_qualified_realtime_standbys(grp: Lab, mon: Monitor) -> None:
    assert sorted(mon.names("choose switchover")) == ["mema2", "mema3"]
    out = mon.cmd("switchover mema4", ["Y"])
    assert "code = -15" in out, out
    assert grp.n1.state() == ("PRIMARY", "OPEN") and grp.nodes["mema4"].state() == ("STANDBY", "OPEN")
    assert mon.names("choose takeover") == [], "takeover offered while the primary is healthy"
    assert mon.names("choose takeover force") == []


def test_switchover_to_each_realtime_standby_in_turn_and_back(grp: Lab, mon: Monitor) -> None:
    rt = ["mema1", "mema2", "mema3"]
    for k, target in enumerate(("mema3", "mema2", "mema1")):
        wait_for(lambda t=target: t in mon.names("choose switchover"), 20, f"{target} qualified for switchover",
                 lambda: mon.cmd("show")[:2500])
        mon.cmd(f"switchover {target}", ["Y"])
        new = grp.nodes[target]
        wait_for(lambda n=new: n.state() == ("PRIMARY", "OPEN"), 20, f"{target} PRIMARY OPEN")
        wait_for(lambda n=new: all(arch_status(n)[o.upper()] == "VALID" for o in rt if o != n.name), 30,
                 f"every real-time standby follows {target}", lambda n=new: n.watcher_log()[-800:])
        new.sql(f"insert into mt values({7000 + k})")
        want = count_and_sum(new, "mt")
        for n in grp.nodes.values():
            wait_for(lambda n=n, w=want: count_and_sum(n, "mt") == w, 3 * TIMER_S, f"{n.name} receives from {target}")
    wait_for(lambda: sorted(mon.names("choose switchover")) == ["mema2", "mema3"], 20,
             "mema1 primary again with both real-time standbys qualified")


def _stop(n: Node) -> int:
    pid = n.server_pid()
    os.kill(pid, signal.SIGSTOP)
    return pid


def _insert_in_background(p: Node, first: int, n: int) -> threading.Event:
    done = threading.Event()
    threading.Thread(target=lambda: (p.sql(f"insert into mt select {first} + level from dual connect by level <= {n}"),
                                     done.set()), daemon=True).start()
    return done


def test_one_lost_realtime_standby_goes_invalid_while_the_other_keeps_receiving(grp: Lab) -> None:
    p, m2, m3 = grp.n1, grp.nodes["mema2"], grp.nodes["mema3"]
    pid = _stop(m3)
    try:
        done = _insert_in_background(p, 1000, 10)
        assert done.wait(20), "commit never returned with one real-time standby lost"
        wait_for(lambda: arch_status(p)["MEMA3"] == "INVALID", 10, "mema3's archive INVALID")
        assert arch_status(p)["MEMA2"] == "VALID"
        p.sql("insert into mt values(2000)")
        assert recv_lsn(m2) >= lsn(p), "mema2 stopped receiving"
        assert p.state() == ("PRIMARY", "OPEN")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: arch_status(p)["MEMA3"] == "VALID", 30, "mema3 recovered after INST_RECOVER_TIME",
             lambda: p.watcher_log()[-600:])
    want = count_and_sum(p, "mt")
    wait_for(lambda: count_and_sum(m3, "mt") == want, 10, "mema3 has every row")


def test_two_returning_realtime_standbys_are_each_recovered(grp: Lab) -> None:
    p, rt = grp.n1, [grp.nodes["mema2"], grp.nodes["mema3"]]
    pids = [_stop(n) for n in rt]
    try:
        done = _insert_in_background(p, 3000, 10)
        assert done.wait(30), "commit never returned with both real-time standbys lost"
        st = arch_status(p)
        assert (st["MEMA2"], st["MEMA3"]) == ("INVALID", "INVALID")
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: [arch_status(p)[k] for k in ("MEMA2", "MEMA3")] == ["VALID", "VALID"], 30,
             "both real-time archives VALID again", lambda: p.watcher_log()[-800:])
    log = p.watcher_log()
    assert "恢复备库mema2成功" in log and "恢复备库mema3成功" in log
    want = count_and_sum(p, "mt")
    for n in [*rt, grp.nodes["mema4"]]:
        wait_for(lambda n=n: count_and_sum(n, "mt") == want, 15, f"{n.name} has every row")


def test_takeover_picks_a_realtime_standby_and_the_others_follow(grp: Lab, mon: Monitor) -> None:
    p, asy = grp.n1, grp.nodes["mema4"]
    p.sql("insert into mt values(5000)")
    acked = count_and_sum(p, "mt")
    wait_for(lambda: [parse_global(mon.cmd("show"))[n]["RSTAT"] for n in ("mema2", "mema3")] == ["VALID"] * 2, 10,
             "the monitor sees both real-time archives VALID", lambda: mon.cmd("show")[:2500])
    p.watcher.kill()
    p.watcher.wait(5)
    os.kill(p.server_pid(), signal.SIGKILL)
    wait_for(lambda: mon.names("choose takeover"), 20, "takeover candidates once the primary is lost",
             lambda: mon.cmd("show")[:1800] + p.watcher_log()[-1500:])
    cands = mon.names("choose takeover")
    assert sorted(cands) == ["mema2", "mema3"], cands
    assert "mema4" not in mon.names("choose takeover force")
    refused = mon.cmd("takeover mema4", ["Y"])
    assert "code = -15" in refused, refused
    new, other = grp.nodes[cands[0]], grp.nodes[cands[1]]
    out = mon.cmd(f"takeover {new.name}", ["Y"])
    wait_for(lambda: new.state() == ("PRIMARY", "OPEN"), 20, f"{new.name} PRIMARY OPEN", lambda: out)
    assert count_and_sum(new, "mt") == acked, "an acknowledged write was lost by the takeover"
    wait_for(lambda: arch_status(new)[other.name.upper()] == "VALID", 30, f"{other.name} follows {new.name}",
             lambda: new.watcher_log()[-800:])
    new.sql("insert into mt values(6000)")
    want = count_and_sum(new, "mt")
    for n in (other, asy):
        wait_for(lambda n=n: count_and_sum(n, "mt") == want, 15, f"{n.name} receives from {new.name}")
    assert other.state() == ("STANDBY", "OPEN") and asy.state() == ("STANDBY", "OPEN")


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "commit-waits-first-standby"])
def test_commit_waits_for_every_realtime_standby(bug: str) -> None:
    lab = built(bug, standbys=("REALTIME", "REALTIME"))
    try:
        p = lab.n1
        p.sql("create table wt(id int)")
        p.sql("insert into wt values(1)")
        committed = lsn(p)
        got = [recv_lsn(lab.nodes[n]) >= committed for n in ("mema2", "mema3")]
        assert (got == [True, True]) != bool(bug), f"real-time standbys holding the acknowledged commit: {got}"
    finally:
        lab.close()


@pytest.mark.parametrize("bug", [pytest.param("", marks=pytest.mark.slow), "async-takeover-candidate"])
def test_an_async_standby_is_never_a_takeover_candidate(bug: str) -> None:
    lab = built(bug, standbys=("REALTIME", "ASYNC"))
    try:
        m = lab.monitor()
        m.login()
        p = lab.n1
        p.watcher.kill()
        p.watcher.wait(5)
        os.kill(p.server_pid(), signal.SIGKILL)
        wait_for(lambda: "mema2" in m.names("choose takeover"), 20, "mema2 offered once the primary is lost")
        assert ("mema3" in m.names("choose takeover")) == bool(bug)
        out = m.cmd("takeover mema3", ["Y"])
        assert ("code = -15" in out) != bool(bug), out
    finally:
        lab.close()


def _linkless_monitor(tmp_path, monkeypatch, bug: str):
    """A confirm monitor of a 4-database GRP1 that dials nothing (tests feed its views), with `bug` active."""
    from dmemu import bugs
    from dmemu.dw.config import MonGroup, MonitorConfig
    from dmemu.dw.monitor import Monitor as Mon
    monkeypatch.setattr(bugs, "ACTIVE", frozenset({bug} - {""}))
    cfg = MonitorConfig(path=str(tmp_path / "dmmonitor.ini"), confirm=1, log_path=str(tmp_path), log_interval=0,
                        log_file_size=32, log_space_limit=0,
                        groups=[MonGroup("GRP1", 453331, [(f"127.0.56.{210 + k}", 1) for k in range(4)])])
    return cfg, Mon(cfg, out=io.StringIO())


@pytest.mark.parametrize("bug", ["", "async-takeover-candidate"])
def test_auto_takeover_picks_the_most_advanced_realtime_standby(tmp_path, monkeypatch, bug: str) -> None:
    """A link-less confirm monitor fed the watchers' last messages: the primary's watcher reports its instance
    down; the async standby is the most advanced, yet the AUTO target is the best real-time one."""
    cfg, mon = _linkless_monitor(tmp_path, monkeypatch, bug)
    names = ("mema1", "mema2", "mema3", "mema4")
    try:
        arch = [{"type": "REALTIME", "dest": "mema2", "status": "VALID"},
                {"type": "REALTIME", "dest": "mema3", "status": "VALID"},
                {"type": "ASYNC", "dest": "mema4", "status": "VALID"}]
        clsn = {"mema1": 9, "mema2": 8, "mema3": 9, "mema4": 12}
        now = time.monotonic()
        for v, name in zip(mon.views, names, strict=True):
            primary = name == "mema1"
            v.msg = {"op": "wmsg", "name": name, "dw_mode": "AUTO", "dw_error_time": 3,
                     "inst_ok": "ERROR" if primary else "OK", "wstatus": "OPEN", "wctlstat": "VALID",
                     "wtype": "LOCAL" if name == "mema4" else "GLOBAL",
                     "inst": {"mode": "PRIMARY" if primary else "STANDBY", "status": "OPEN",
                              "arch": arch if primary else [], "clsn": clsn[name]}}
            v.seen = now
        target = mon.auto_takeover_target(cfg.groups[0])
        assert target is not None
        assert (target.name == "mema3") != bool(bug), target.name
    finally:
        mon.close()


def test_an_async_destination_needs_its_dmtimer_section(tmp_path) -> None:
    """Bad ASYNC configuration stops dmserver with one line naming the file and what to fix."""
    from dmemu.dw.asyncarch import check_config, load_timers
    from dmemu.errors import DmError
    arch = [{"name": "ARCHIVE_ASYNC1", "type": "ASYNC", "dest": "mema4", "items": {"ARCH_TIMER_NAME": "T1"}}]
    with pytest.raises(DmError, match=r"dmtimer.ini: no \[T1\] section"):
        check_config(arch, str(tmp_path))
    with pytest.raises(DmError, match=r"\[ARCHIVE_ASYNC1\] ARCH_TIMER_NAME is missing"):
        check_config([dict(arch[0], items={})], str(tmp_path))
    (tmp_path / "dmtimer.ini").write_text("[T1]\nTYPE = 2\nFREQ_MINUTE_INTERVAL = soon\n")
    with pytest.raises(DmError, match=r"\[T1\] invalid value for FREQ_MINUTE_INTERVAL: soon"):
        load_timers(str(tmp_path))
    (tmp_path / "dmtimer.ini").write_text("[t1]\nTYPE = 2\nFREQ_MINUTE_INTERVAL = 5  # every 5 minutes\n")
    check_config(arch, str(tmp_path))
    assert load_timers(str(tmp_path)) == {"T1": {"type": 2, "minutes": 5, "valid": 1}}


@pytest.mark.parametrize("bug", ["", "monitor-follows-stale-primary"])
def test_no_second_auto_takeover_once_a_standby_took_over(tmp_path, monkeypatch, bug: str) -> None:
    """A link-less confirm monitor after an AUTO takeover: the lost old primary's last message still says
    PRIMARY OPEN, mema2 (fresh) is the new PRIMARY OPEN, mema3 a VALID real-time standby. The group has a
    primary, so there is no second takeover (with two real-time standbys the stale view would promote
    mema3 too: two primaries)."""
    cfg, mon = _linkless_monitor(tmp_path, monkeypatch, bug)
    names = ("mema1", "mema2", "mema3", "mema4")
    try:
        arch = {"mema1": [{"type": "REALTIME", "dest": "mema2", "status": "VALID"},     # its last word
                          {"type": "REALTIME", "dest": "mema3", "status": "VALID"},
                          {"type": "ASYNC", "dest": "mema4", "status": "VALID"}],
                "mema2": [{"type": "REALTIME", "dest": "mema1", "status": "INVALID"},
                          {"type": "REALTIME", "dest": "mema3", "status": "VALID"},
                          {"type": "ASYNC", "dest": "mema4", "status": "VALID"}]}
        now = time.monotonic()
        for v, name in zip(mon.views, names, strict=True):
            primary = name in ("mema1", "mema2")
            v.msg = {"op": "wmsg", "name": name, "dw_mode": "AUTO", "dw_error_time": 3, "inst_ok": "OK",
                     "wstatus": "OPEN", "wctlstat": "VALID", "wtype": "LOCAL" if name == "mema4" else "GLOBAL",
                     "inst": {"mode": "PRIMARY" if primary else "STANDBY", "status": "OPEN",
                              "arch": arch.get(name, []), "clsn": 20}}
            v.seen = now - 30 if name == "mema1" else now      # mema1: silent since it was lost
        g = cfg.groups[0]
        assert mon.primary(g, fresh_only=False).name == ("mema1" if bug else "mema2")
        target = mon.auto_takeover_target(g)
        assert (target is None) != bool(bug), target and target.name
    finally:
        mon.close()
