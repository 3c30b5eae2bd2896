"""A group of one primary, two real-time standbys and one asynchronous standby (1p2rt1async), built by the
seed's procedure for every standby: replication to all of them, the async timer lag, the candidate rules,
a lost real-time standby, recovery of several returning ones, takeover onto a real-time standby and the
others following it. The tests run in file order on one group (each leaves it healthy or says so)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from dwlab import Lab, Monitor, Node, count_and_sum, parse_global, wait_for

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


def test_choose_lists_exactly_the_qualified_realtime_standbys(grp: Lab, mon: Monitor) -> None:
    assert sorted(mon.names("choose switchover")) == ["mema2", "mema3"]
    out = mon.cmd("switchover mema4", ["Y"])
    assert "code = -15" in out, out
    assert grp.n1.state() == ("PRIMARY", "OPEN") and grp.nodes["mema4"].state() == ("STANDBY", "OPEN")
    assert mon.names("choose takeover") == [], "takeover offered while the primary is healthy"
    assert mon.names("choose takeover force") == []


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
