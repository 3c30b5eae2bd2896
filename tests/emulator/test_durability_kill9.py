"""kill -9 of dmserver during a write load: every acknowledged commit is there after restart
(and the seeded defect commit-not-durable makes this test's check fail, as it must)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from emu_helpers import dminit


def _load_then_kill(db, seconds: float = 1.5, quiesce: bool = False) -> tuple[list[int], list[int]]:
    """Insert rows one autocommit at a time from two writers; kill -9 the server mid-load (or, with
    `quiesce`, right after the writers got their last acknowledgement, connections still open).

    Returns (acknowledged ids, ids found after restart)."""
    conn = db.connect()
    conn.cursor().execute("create table dur(id int primary key, writer int, pad varchar(100))")
    conn.close()
    acked: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    conns: list = []                               # kept open until the kill (a close would commit)

    def writer(w: int) -> None:
        try:
            c = db.connect()
            conns.append(c)
            cur = c.cursor()
        except Exception:                         # noqa: BLE001 - server already gone
            return
        i = w
        while not stop.is_set():
            try:
                cur.execute("insert into dur values(?, ?, ?)", (i, w, "x" * 80))
            except Exception:                     # noqa: BLE001 - the kill: outcome unknown, not acked
                return
            with lock:
                acked.append(i)
            i += 2

    threads = [threading.Thread(target=writer, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(seconds)
    if quiesce:                                    # a writer may stay blocked behind the other's lock
        stop.set()
        for t in threads:
            t.join(2)
    db.servers[-1].kill()                          # SIGKILL the whole dmserver process group
    stop.set()
    for t in threads:
        t.join(30)
    db.server()                                    # restart: recovery from the online log
    c = db.connect()
    cur = c.cursor()
    cur.execute("select id from dur")
    found = [r[0] for r in cur.fetchall()]
    c.close()
    return acked, found


def test_kill9_loses_no_acknowledged_commit(running_db):
    acked, found = _load_then_kill(running_db)
    assert len(acked) >= 200
    assert sorted(set(acked) - set(found)) == []
    assert len(found) == len(set(found))


def test_kill9_in_archive_mode_keeps_archives_contiguous(running_db):
    """Local archives stay readable and LSN-contiguous across a kill -9 (what redo_since resends)."""
    from dmemu.storage import ArchiveDest, LocalArchive
    db = running_db
    db.disql(f"alter database mount;\nalter database add archivelog 'DEST={db.dir / 'arch'},TYPE=local,"
             "FILE_SIZE=128,space_limit=0';\nalter database archivelog;\nalter database open;\n")
    acked, found = _load_then_kill(db, seconds=0.5)
    assert set(acked) <= set(found)
    c = db.connect()
    c.cursor().execute("insert into dur values(-1, 9, 'after restart')")
    c.close()
    recs = list(LocalArchive(ArchiveDest("ARCHIVE_LOCAL1", str(db.dir / "arch"))).records())
    assert len(recs) > len(acked) // 2
    for prev, cur in zip(recs, recs[1:], strict=False):
        assert cur.lsn_lo == prev.lsn_hi + 1, (prev.lsn_hi, cur.lsn_lo)


def test_commit_not_durable_defect_is_visible(dm_root):
    db = dminit(dm_root)
    try:
        db.server(DMEMU_BUGS="commit-not-durable")
        acked, found = _load_then_kill(db, quiesce=True)   # a deterministic moment: right after the acks
        lost = set(acked) - set(found)
        assert lost, "the seeded defect must lose acknowledged commits on kill -9"
    finally:
        db.stop_all()


@pytest.mark.parametrize("bug", ["", "wrong-svrmode"])
def test_wrong_svrmode_defect_breaks_login_mode(dm_root, bug):
    """dm_svc.conf LOGIN_MODE=(1) (primary only): dmPython reaches a PRIMARY, but not when the login
    reply reports the wrong SvrMode (the seeded defect)."""
    db = dminit(dm_root)
    try:
        db.server()
        db.disql("alter database mount;\nsp_set_oguid(453331);\nalter database primary;\nalter database open;\n")
        db.stop_all()
        db.server(**({"DMEMU_BUGS": bug} if bug else {}))
        db.disql("alter database open;\n")
        (dm_root / "etc" / "dm_svc.conf").write_text(
            f"TIME_ZONE=(480)\nSVC1=(127.0.0.1:{db.port})\nLOGIN_MODE=(1)\nSWITCH_TIME=(1)\nSWITCH_INTERVAL=(10)\n")
        code = ("import dmPython\ntry:\n  c = dmPython.connect(user='SYSDBA', password='Mema_1234', server='SVC1')\n"
                "  print('CONNECTED'); c.close()\nexcept Exception as e:\n  print('FAILED', e)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, DM_SVC_PATH=str(dm_root / "etc")))
        assert ("FAILED" if bug else "CONNECTED") in r.stdout, r.stdout + r.stderr
    finally:
        db.stop_all()
