"""Regressions found by the suites on the emulator's Data Watch: KEEP_BUF after a primary crash (rows that
diverged after kill -9 of the primary), a standby recovery that never converged under a write load, and
DBA_ROLE_PRIVS on the standby."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from dwlab import Lab, wait_for
from test_units import _rec, mal_pair  # noqa: F401 - the fixture is used by name


def test_primary_restart_replaces_the_kept_package(mal_pair):  # noqa: F811
    """The primary died after the standby acked package [12] but before logging it; restarted, it
    reuses LSN 12 for another transaction. The standby must take the new package (not refuse it as a
    gap and later apply the stale one), and a recovery must never count KEEP_BUF as applied."""
    inst, mal = mal_pair
    assert mal._receive(_rec(11, 11))["ok"]
    assert mal._receive(_rec(12, 12))["ok"]              # acked; the primary is killed before its flush
    mal.apply_q.join()
    assert [r.lsn_hi for r in inst.applied] == [11]
    new = _rec(12, 12)                                   # the restarted primary's own LSN 12
    assert mal._receive(new)["ok"], mal.recent
    assert mal.keep is new
    assert mal._receive(_rec(13, 13))["ok"]
    mal.apply_q.join()
    assert [r.lsn_hi for r in inst.applied] == [11, 12]
    assert inst.applied[-1].encode() == new.blob         # the primary's package, not the stale one


def test_recovery_drops_keep_buf_and_accepts_redo_in_mount_once_synced(mal_pair):  # noqa: F811
    inst, mal = mal_pair
    assert mal._receive(_rec(11, 11))["ok"]              # only in KEEP_BUF: the primary may lack it
    conn = type("C", (), {"info": {"peer": "mema1"}})()
    r = mal._on_request(conn, {"op": "lsn"})
    assert r["lsn"] == 10 and mal.keep is None and inst.applied == []
    inst.status = "MOUNT"                                # restarted standby, not opened yet
    assert not mal._receive(_rec(11, 11))["ok"]
    assert mal._on_request(conn, {"op": "recovered", "n_open": 0})["ok"]
    assert mal._receive(_rec(11, 11))["ok"]              # caught up: the primary must not suspend again


def _ids(node) -> list[int]:
    return [int(r[0]) for r in node.sql("select id from t_kill order by id")]


def _writers(lab: Lab, n: int, stop: threading.Event, acked: list[int], errors: list[str],
             base: int = 0) -> list[threading.Thread]:
    """n writers inserting unique ids (from `base`) one autocommit at a time, reconnecting after failures."""
    lock = threading.Lock()

    def run(w: int) -> None:
        i = base + w
        conn = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = lab.n1.connect()
                conn.cursor().execute("insert into t_kill values(?)", (i,))
                with lock:
                    acked.append(i)
            except Exception as e:                       # noqa: BLE001 - outcome unknown: not acknowledged
                errors.append(str(e)[:80])
                try:
                    conn and conn.close()
                except Exception:                        # noqa: BLE001
                    pass
                conn = None
                time.sleep(0.2)
            i += n
        if conn is not None:
            try:
                conn.close()
            except Exception:                            # noqa: BLE001
                pass

    ts = [threading.Thread(target=run, args=(w,), daemon=True) for w in range(n)]
    for t in ts:
        t.start()
    return ts


@pytest.mark.slow
def test_kill9_primary_under_load_keeps_both_sides_equal(lab):
    """Problem 1: kill -9 of the primary while 4 writers insert; INST_AUTO_RESTART brings it back. Every
    acknowledged id is on both sides and the id lists are equal (no stale KEEP_BUF row on the standby)."""
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_kill(id int primary key)")
    for _round in range(2):
        stop, acked, errors = threading.Event(), [], []
        ts = _writers(lab, 4, stop, acked, errors, base=_round * 1_000_000)
        wait_for(lambda acked=acked: len(acked) > 100, 30, "load running", lambda errors=errors: errors[-3:])
        pid = n1.server_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda pid=pid: n1.server_pid() != pid and n1.server_alive(), 40, "primary restarted",
                 lambda: n1.watcher_log()[-500:])
        lab.wait_open("mema1", timeout=60)
        time.sleep(1.0)                                  # some writes after the restart
        stop.set()
        for t in ts:
            t.join(30)
        wait_for(lambda: _ids(n1) == _ids(n2), 20, "standby equal to the primary",
                 lambda: (len(_ids(n1)), len(_ids(n2))))
        assert set(acked) <= set(_ids(n1))


@pytest.mark.slow
def test_standby_recovers_under_write_load(lab):
    """Problem 2: kill -9 of the standby while 4 writers insert; the primary's watcher recovers it within
    INST_RECOVER_TIME + a few seconds although the writes never stop (no refuse/recover loop)."""
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_rec(id int primary key)")
    stop, acked, errors = threading.Event(), [], []
    lock = threading.Lock()

    def run(w: int) -> None:
        c = n1.connect()
        i = w
        while not stop.is_set():
            try:
                c.cursor().execute("insert into t_rec values(?)", (i,))
                with lock:
                    acked.append(i)
            except Exception as e:                       # noqa: BLE001
                errors.append(str(e)[:80])
            i += 4
        c.close()

    ts = [threading.Thread(target=run, args=(w,), daemon=True) for w in range(4)]
    for t in ts:
        t.start()
    try:
        wait_for(lambda: len(acked) > 100, 30, "load running")
        pid = n2.server_pid()
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        wait_for(lambda: n2.server_pid() != pid and n2.server_alive(), 40, "standby restarted")
        recover_time = lab.opts["recover_time"]

        def recovered() -> bool:
            st = n1.sql("select arch_status from v$arch_status where arch_type='REALTIME'")[0][0]
            return st == "VALID" and n2.state() == ("STANDBY", "OPEN")
        wait_for(recovered, recover_time + 20, "standby recovered under load", lambda: n1.watcher_log()[-600:])
        took = time.monotonic() - t0
        n_before = len(acked)
        time.sleep(1.5)
        assert len(acked) > n_before, "writes continue after the recovery"
        assert n1.sql("select arch_status from v$arch_status where arch_type='REALTIME'")[0][0] == "VALID"
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    assert took < recover_time + 15, took
    ids1 = [r[0] for r in n1.sql("select id from t_rec order by id")]
    wait_for(lambda: [r[0] for r in n2.sql("select id from t_rec order by id")] == ids1, 20, "standby equal")
    assert set(acked) <= set(ids1)


def test_grant_resource_is_visible_in_role_privs_on_the_standby(lab):
    """Problem 4 (seed 附录): `grant resource to mema` shows in DBA_ROLE_PRIVS on both sides and in the
    user's own USER_ROLE_PRIVS."""
    n1, n2 = lab.n1, lab.n2
    n1.sql("create user mema_r identified by Mema_1234")
    n1.sql("grant resource to mema_r")
    q = "select GRANTED_ROLE, ADMIN_OPTION, DEFAULT_ROLE from dba_role_privs where GRANTEE = 'MEMA_R'"
    assert n1.sql(q) == [("RESOURCE", "N", "Y")]
    wait_for(lambda: n2.sql(q) == [("RESOURCE", "N", "Y")], 10, "grant on the standby", lambda: n2.sql(q))
    c = n2.connect(user="MEMA_R", pwd="Mema_1234")
    try:
        cur = c.cursor()
        cur.execute("select GRANTEE, GRANTED_ROLE from user_role_privs")
        assert cur.fetchall() == [("MEMA_R", "RESOURCE")]
    finally:
        c.close()
    assert ("SYSDBA", "DBA") in [tuple(r) for r in n1.sql("select GRANTEE, GRANTED_ROLE from dba_role_privs")]
