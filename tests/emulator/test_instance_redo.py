"""The Instance contract the dw layer builds on, in-process: REALTIME sender before the local flush,
standby apply, STANDBY write refusals, redo_since, chunked large transactions, crash recovery."""

from __future__ import annotations

import pytest
from dmemu import backup
from dmemu.api import RedoRecord
from dmemu.errors import DmError
from dmemu.instance import Instance
from dmemu.redo import CHUNK_ROWS
from dmemu.tools import dminit

PWD = "Mema_1234"


def make(root, name: str, inst: str) -> str:
    assert dminit.main([f"PATH={root}", f"DB_NAME={name}", f"INSTANCE_NAME={inst}", "PORT_NUM=5236",
                        f"SYSDBA_PWD={PWD}"]) == 0
    return str(root / name / "dm.ini")


@pytest.fixture
def pair(tmp_path):
    """A primary and a standby restored from its backup (permanent magic equal, DB magic different)."""
    p_ini = make(tmp_path / "h1", "memadb", "mema1")
    p = Instance(p_ini)
    p.start(False)
    p.shutdown()
    backup.backup_offline(p_ini, str(tmp_path / "bak1"))
    s_ini = make(tmp_path / "h2", "memadb", "mema2")
    backup.restore(s_ini, str(tmp_path / "bak1"))
    backup.recover_from_backupset(s_ini, str(tmp_path / "bak1"))
    backup.update_db_magic(s_ini)
    p, s = Instance(p_ini), Instance(s_ini)
    for inst, mode in ((p, "PRIMARY"), (s, "STANDBY")):
        inst.start(True)
        inst.set_oguid(453331)
        inst.set_mode(mode)
        inst.set_status("OPEN")
    yield p, s
    p.shutdown()
    s.shutdown()


def test_realtime_sender_runs_before_local_flush_and_standby_applies(pair):
    p, s = pair
    assert p.permanent_magic == s.permanent_magic and p.db_magic != s.db_magic
    seen = []

    def sender(rec: RedoRecord) -> None:
        on_disk = p.log.last_lsn()
        seen.append((rec.lsn_lo, rec.lsn_hi, on_disk, rec.oguid, rec.permanent_magic))
        s.apply_redo(rec)

    p.realtime_sender = sender
    sess = p.login("SYSDBA", PWD, {})
    sess.execute("create table t(id int, v varchar(10))")
    sess.execute("insert into t values(1, 'a')")
    assert all(on_disk < lo for lo, _, on_disk, _, _ in seen)      # shipped before written locally
    assert seen[-1][3:] == (453331, p.permanent_magic)
    los = [lo for lo, _, _, _, _ in seen]
    his = [hi for _, hi, _, _, _ in seen]
    assert all(lo == prev + 1 for lo, prev in zip(los[1:], his[:-1], strict=True))   # LSN continuity
    assert s.execute_sys("select count(*) from t").rows == [(1,)]
    assert s.cur_lsn == p.cur_lsn
    with pytest.raises(DmError) as e:
        s.login("SYSDBA", PWD, {}).execute("insert into t values(2, 'b')")
    assert e.value.code == -2018
    with pytest.raises(DmError) as e:
        s.login("SYSDBA", PWD, {}).execute("create table t2(id int)")
    assert e.value.code == -710
    assert [r.lsn_hi for r, _ in p.redo_since(seen[0][1])] == his[1:]


def test_redo_since_reads_the_memory_tail_or_the_files_alike(pair, monkeypatch):
    """A returning standby is re-sent the newest redo from memory when the tail reaches back far enough;
    further back the archives and online log are read. Both give the same records and encodings."""
    from dmemu import redo as redo_mod
    p, _ = pair
    sess = p.login("SYSDBA", PWD, {})
    start = p.cur_lsn
    sess.execute("create table t(id int)")
    for i in range(20):
        sess.execute(f"insert into t values({i})")
    from_memory = [(r.lsn_lo, r.lsn_hi, b) for r, b in p.redo_since(start)]
    assert len(from_memory) == 21 and from_memory[0][0] == start + 1
    tail_first = p._tail[0][0].lsn_lo
    p._tail.clear()                                  # as after a restart: nothing in memory
    from_files = [(r.lsn_lo, r.lsn_hi, b) for r, b in p.redo_since(start)]
    assert [x[:2] for x in from_files] == [x[:2] for x in from_memory]
    assert [RedoRecord.decode(b).ops for *_, b in from_files] == [RedoRecord.decode(b).ops for *_, b in from_memory]
    monkeypatch.setattr(redo_mod, "REDO_TAIL_BYTES", 1)  # keep only the newest record
    sess.execute("insert into t values(99)")
    assert len(p._tail) == 1 and p._tail[0][0].lsn_lo > tail_first
    assert [r.lsn_hi for r, _ in p.redo_since(start)][:21] == [x[1] for x in from_memory]   # falls back to the files


def test_timely_sender_runs_after_the_local_flush_and_before_the_commit_returns(pair):
    """TIMELY (reference §5.1): the package leaves after the local flush, REALTIME before it."""
    p, s = pair
    seen = []
    p.realtime_sender = lambda rec: seen.append(("realtime", rec.lsn_hi, p.log.last_lsn()))
    p.timely_sender = lambda rec: seen.append(("timely", rec.lsn_hi, p.log.last_lsn()))
    sess = p.login("SYSDBA", PWD, {})
    sess.execute("create table t(id int)")
    sess.execute("insert into t values(1)")
    p.realtime_sender = p.timely_sender = None
    assert [k for k, *_ in seen] == ["realtime", "timely"] * 2
    assert all(on_disk < hi for k, hi, on_disk in seen if k == "realtime")
    assert all(on_disk >= hi for k, hi, on_disk in seen if k == "timely")


def test_sender_failure_fails_the_commit(pair):
    p, _ = pair
    sess = p.login("SYSDBA", PWD, {})
    sess.execute("create table t(id int)")

    def broken(rec):
        raise DmError(-70028, "send failed")

    p.realtime_sender = broken
    with pytest.raises(DmError):
        sess.execute("insert into t values(1)")
    p.realtime_sender = None
    assert p.execute_sys("select count(*) from t").rows == [(0,)]


def test_large_transaction_is_chunked_and_applied_whole(pair):
    p, s = pair
    recs = []
    p.realtime_sender = lambda rec: (recs.append(rec), s.apply_redo(rec))
    sess = p.login("SYSDBA", PWD, {})
    sess.execute("create table big(id int)")
    recs.clear()
    sess.autocommit = False
    n = CHUNK_ROWS * 2 + 10
    sess.execute(f"insert into big select level from dual connect by level <= {n}")
    sess.commit()
    assert len(recs) >= 2 and [r.last for r in recs] == [False] * (len(recs) - 1) + [True]
    assert len({r.seq for r in recs}) == 1
    assert s.execute_sys("select count(*) from big").rows == [(n,)]


def test_recovery_replays_logged_but_uncommitted_and_drops_aborted_chunks(tmp_path):
    ini = make(tmp_path, "memadb", "mema1")
    inst = Instance(ini)
    inst.start(False)
    sess = inst.login("SYSDBA", PWD, {})
    sess.execute("create table t(id int)")
    sess.execute("insert into t values(1)")
    base = inst.cur_lsn
    kind, phys, cols, rows = list(inst.log.records())[-1].ops[0]
    assert kind == "I" and len(rows) == 1
    inst.shutdown(normal=False)
    # a crash after the redo fsync, before the engine's COMMIT: the record is only in the online log
    inst2 = Instance(ini)
    inst2.log.append(RedoRecord(base + 1, base + 1, [("I", phys, cols, [(rows[0][0] + 1, 2)])], seq=999))
    # and an aborted transaction: a chunk without its last part
    inst2.log.append(RedoRecord(base + 2, base + 2, [("I", phys, cols, [(rows[0][0] + 2, 3)])], seq=1000,
                                last=False))
    inst2.start(False)
    assert inst2.execute_sys("select count(*) from t").rows == [(2,)]
    assert inst2.cur_lsn == base + 2
    inst2.shutdown()


def test_recovery_batch_applies_runs_of_commits_in_one_engine_transaction(pair):
    """apply_redo_batch (standby recovery): one db.apply per run of commits, flushed before an
    instance-level op; LSNs advance with the data; records the engine already holds are not re-applied."""
    p, s = pair
    sess = p.login("SYSDBA", PWD, {})
    start = p.cur_lsn
    sess.execute("create table t(id int)")
    for i in range(5):
        sess.execute(f"insert into t values({i})")
    sess.execute("CREATE TABLESPACE TS_B DATAFILE 'tsb01.dbf' SIZE 32")
    for i in range(5, 10):
        sess.execute(f"insert into t values({i})")
    recs = [r for r, _ in p.redo_since(start)]
    assert len(recs) == 12
    calls = []
    real_apply = s.db.apply

    def counting(ops, lsn_hi):
        calls.append((len(ops), lsn_hi, [t["name"] for t in s.ctl["tablespaces"]]))
        real_apply(ops, lsn_hi)

    s.db.apply = counting
    s.apply_redo_batch(recs)
    assert [(n, hi) for n, hi, _ in calls] == [(6, recs[5].lsn_hi), (5, recs[-1].lsn_hi)]
    assert "TS_B" not in calls[0][2] and "TS_B" in calls[1][2]       # the run before the op went first
    assert s.execute_sys("select count(*), sum(id) from t").rows == [(10, 45)]
    assert s.cur_lsn == p.cur_lsn and s.db.cur_lsn == p.cur_lsn
    s.apply_redo_batch(recs[-3:])
    assert len(calls) == 2 and s.execute_sys("select count(*), sum(id) from t").rows == [(10, 45)]
