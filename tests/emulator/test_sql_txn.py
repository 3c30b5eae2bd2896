"""Transactions, concurrency, redo capture/apply and durability of the SQL engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from dmemu.errors import DmError
from test_sql_support import dump, open_db, replay, rows


def test_rollback_and_autocommit(env) -> None:
    db, h = env
    s = db.session()
    s.execute("create table t (id int, v varchar(10))")
    n = len(h.records)
    s.autocommit = False
    s.execute("insert into t values (1, 'a')")
    other = db.session()
    assert rows(other, "select count(*) from t") == [(0,)]          # uncommitted: invisible to others
    s.rollback()
    assert rows(s, "select count(*) from t") == [(0,)]
    assert len(h.records) == n                                       # rolled-back work produced no redo
    s.execute("insert into t values (2, 'b')")
    s.execute("create table t2 (x int)")                             # DDL commits the open transaction
    s.rollback()
    assert rows(other, "select id from t") == [(2,)]
    s.autocommit = True
    s.execute("update t set v = 'c' where id = 2")
    assert rows(other, "select v from t") == [("c",)]
    assert db.cur_lsn == h.lsn


def test_failed_before_commit_rolls_back(env) -> None:
    db, h = env
    s = db.session()
    s.execute("create table t (id int)")
    h.fail_next = True
    with pytest.raises(DmError):
        s.execute("insert into t values (1)")
    assert rows(s, "select count(*) from t") == [(0,)]
    s.execute("insert into t values (2)")
    assert rows(s, "select id from t") == [(2,)]


def test_write_guard_kinds(env) -> None:
    db, h = env
    s = db.session()
    s.execute("create table t (id int)")
    s.execute("insert into t values (1)")
    assert h.guards == [("ddl", "SYSDBA.T"), ("dml", "SYSDBA.T")]
    h.readonly = True
    with pytest.raises(DmError) as e:
        s.execute("insert into t values (2)")
    assert e.value.code == -2018
    with pytest.raises(DmError) as e:
        s.execute("create table u (x int)")
    assert e.value.code == -710
    assert rows(s, "select count(*) from t") == [(1,)]             # reads still work


def test_writers_serialize_readers_do_not_block(env) -> None:
    db, _ = env
    a, b, r = db.session(), db.session(), db.session()
    a.execute("create table t (id int)")
    a.autocommit = b.autocommit = False
    a.execute("insert into t values (1)")
    done = threading.Event()

    def second_writer() -> None:
        b.execute("insert into t values (2)")
        b.commit()
        done.set()

    th = threading.Thread(target=second_writer)
    th.start()
    time.sleep(0.3)
    assert not done.is_set()                                        # waits for a's transaction
    assert rows(r, "select count(*) from t") == [(0,)]              # a reader is not blocked
    a.commit()
    th.join(10)
    assert done.is_set()
    assert rows(r, "select id from t order by id") == [(1,), (2,)]


WORKLOAD = [
    "create user mema identified by Mema_1234",
    "create table mema.t (id int primary key, name varchar(20), score number(6,2), d date)",
    "create sequence mema.sq",
    "create table mema.ident (id int identity(1,1), note varchar(10))",
    "insert into mema.t select level, dbms_random.string('U', 6), dbms_random.value(0, 100), sysdate "
    "from dual connect by level <= 500",
    "update mema.t set name = 'upd' where mod(id, 7) = 0",
    "delete from mema.t where mod(id, 11) = 0",
    "insert into mema.ident (note) values ('x')",
    "insert into mema.ident (note) select name from mema.t where id < 5",
    "update mema.t set id = 10000 + id where id = 3",
    "create index mema.ix_t_name on mema.t (name)",
    "alter table mema.t add extra int default 7",
    "create table mema.copy as select * from mema.t where id < 50",
    "delete from mema.copy",
    "insert into mema.copy select * from mema.t where id between 50 and 60",
    "alter table mema.t drop column extra",
    "update mema.t set score = score + 1 where id between 100 and 200",
    "update mema.copy set name = 'all'",
    "delete from mema.t where id between 300 and 320",
]


def test_redo_apply_gives_identical_database(env, tmp_path: Path) -> None:
    db, h = env
    s = db.session()
    for sql in WORKLOAD:
        s.execute(sql)
    s.autocommit = False
    s.execute("insert into mema.t values (9000, 'a', 1, null)")
    s.execute("update mema.t set name = 'b' where id = 9000")      # insert then update in one transaction
    s.execute("update mema.t set name = 'swap1' where id = 1")
    s.execute("delete from mema.t where id = 2")
    s.execute("insert into mema.t values (2, 'again', 2, null)")   # same key re-inserted
    s.execute("select mema.sq.nextval from dual")
    s.commit()
    assert set(h.kinds()) >= {"X", "I", "D", "DR", "C", "Q"}
    b = open_db(tmp_path / "b.db")
    replay(h, b)
    assert dump(b) == dump(db)
    assert b.cur_lsn == db.cur_lsn
    # idempotent: replaying old records changes nothing
    replay(h, b)
    assert dump(b) == dump(db)
    sb = b.session("MEMA")
    assert rows(sb, "select sq.nextval from dual") == [(2,)]       # sequence state came across too
    assert rows(sb, "select name from t where id = 9000") == [("b",)]
    b.close()


def test_rows_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    code = textwrap.dedent(f"""
        import sys, time
        from dmemu.sql import Database
        db = Database({str(path)!r})
        s = db.session()
        s.execute("create table t (id int)")
        s.execute("insert into t select level from dual connect by level <= 1000")
        s.autocommit = False
        s.execute("insert into t values (-1)")          # never committed
        print("COMMITTED", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "COMMITTED"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if p.stdout is not None:
            p.stdout.close()
    db = open_db(path)
    s = db.session()
    assert rows(s, "select count(*), min(id) from t") == [(1000, 1)]
    assert db.cur_lsn == 2
    db.close()


def test_big_transaction_reaches_the_hook_in_bounded_chunks(tmp_path: Path) -> None:
    from dmemu.sql.redo import CHUNK

    seen: list[int] = []

    class Streaming:
        lsn = 0

        def before_commit(self, ops) -> int:
            for op in ops:                                  # consumed one op at a time, never listed
                if op[0] == "I":
                    seen.append(len(op[3]))
                self.lsn += 1
            return self.lsn

    db = open_db(tmp_path / "big.db", Streaming())
    s = db.session()
    s.execute("create table t (id int, v varchar(8))")
    s.execute(f"insert into t select level, dbms_random.string('x', 8) from dual connect by level <= {2 * CHUNK + 7}")
    assert seen == [CHUNK, CHUNK, 7]
    r = s.execute(f"select level from dual connect by level <= {2 * CHUNK + 7}")
    assert sum(1 for _ in r.rows) == 2 * CHUNK + 7                 # lazily paged result, all rows
    db.close()


def test_apply_evaluates_checks_that_use_dm_functions(env, tmp_path: Path) -> None:
    db, h = env
    s = db.session()
    s.execute("create table c (x int check (decode(x, 3, 0, 1) = 1), d datetime default sysdate)")
    s.execute("insert into c (x) values (4)")
    with pytest.raises(DmError):
        s.execute("insert into c (x) values (3)")
    b = open_db(tmp_path / "b.db")
    replay(h, b)
    assert dump(b) == dump(db)
    b.close()


def test_concurrent_autocommit_writers(env, tmp_path: Path) -> None:
    db, h = env
    db.session().execute("create table w (id bigint primary key, writer int)")
    errors: list[Exception] = []

    def writer(k: int) -> None:
        s = db.session()
        try:
            for i in range(100):
                s.execute("insert into w values (?, ?)", (k * 1000 + i, k))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    r = db.session()
    while any(t.is_alive() for t in threads):
        assert rows(r, "select count(*) from w")[0][0] <= 400
    for t in threads:
        t.join()
    assert errors == []
    assert rows(r, "select writer, count(*) from w group by writer order by 1") == [(k, 100) for k in range(4)]
    lsns = [lsn for lsn, _ in h.records]
    assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns)      # commits numbered in commit order
    b = open_db(tmp_path / "b.db")
    replay(h, b)
    assert dump(b) == dump(db)
    b.close()
