"""The seed procedure's SQL, verbatim, through the SQL engine (bulk insert with a tiny row count)."""

from __future__ import annotations

from pathlib import Path

from test_sql_support import dump, open_db, replay, rows

STUDENT = """CREATE TABLE student (
id int, name varchar(20), math int, english int,
science int
);"""

BULK = """insert into student select rownum as id,
dbms_random.string('1',trunc(dbms_random.value(3,8))),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100))
from dual connect by level <={n};"""


def test_arch_mode_from_v_database(env) -> None:
    db, _ = env
    s = db.session("SYSDBA")
    r = s.execute("select arch_mode from v$database;")
    assert [c.name for c in r.columns] == ["ARCH_MODE"]
    assert list(r.rows) == [("Y",)]


def test_ctas_from_sysobjects(env) -> None:
    db, h = env
    s = db.session("SYSDBA")
    n = rows(s, "select count(*) from sysobjects")[0][0]
    assert n > 300                                     # DM ships hundreds of system objects
    s.execute("create table t_objects as select * from sysobjects;")
    assert rows(s, "select count(*) from t_objects;") == [(n,)]
    assert "I" in h.kinds() and "X" in h.kinds()     # CTAS = DDL + row images


def test_tablespace_user_grant_and_dictionary(env) -> None:
    db, _ = env
    s = db.session("SYSDBA")
    s.execute("CREATE TABLESPACE TS_MEMA\nDATAFILE 'tsmema01.dbf' SIZE 128, 'tsmema02.dbf' SIZE 128;")
    s.execute("CREATE USER MEMA\nIDENTIFIED BY Mema_1234\nDEFAULT TABLESPACE TS_MEMA;")
    s.execute("grant resource to mema;")
    assert ("TS_MEMA",) in rows(s, "select name from v$tablespace;")
    assert ("MEMA",) in rows(s, "select username from all_users;")
    assert db.check_password("MEMA", "Mema_1234")
    assert not db.check_password("MEMA", "wrong")
    assert rows(s, "select default_tablespace from dba_users where username = 'MEMA'") == [("TS_MEMA",)]


def test_student_bulk_insert_and_standby_copy(env, tmp_path: Path) -> None:
    db, h = env
    s = db.session("SYSDBA")
    s.execute("CREATE USER MEMA IDENTIFIED BY Mema_1234 DEFAULT TABLESPACE MAIN")
    m = db.session("MEMA")
    m.autocommit = False
    m.execute(STUDENT)
    m.execute(BULK.format(n=2000))
    m.execute("commit;")
    assert rows(m, "select count(*) from student") == [(2000,)]
    assert rows(s, "select count(*) from MEMA.STUDENT") == [(2000,)]
    assert rows(m, "select min(id), max(id), count(distinct id) from student") == [(1, 2000, 2000)]
    lens = rows(m, "select min(length(name)), max(length(name)) from student")[0]
    assert 3 <= lens[0] and lens[1] <= 7
    scores = rows(m, "select min(math), max(math), min(science), max(english) from student")[0]
    assert min(scores) >= 0 and max(scores) <= 99
    assert rows(m, "select count(*) from student where upper(name) <> name") == [(0,)]
    # the standby gets the primary's random values, not new ones
    standby = open_db(tmp_path / "standby.dbf")
    replay(h, standby)
    assert dump(standby) == dump(db)
    sb = standby.session("MEMA")
    assert rows(sb, "select count(*) from student") == [(2000,)]
    standby.close()


def test_user_tables_and_schema_resolution(env) -> None:
    db, _ = env
    s = db.session("SYSDBA")
    s.execute("CREATE USER MEMA IDENTIFIED BY Mema_1234")
    m = db.session("MEMA")
    m.execute(STUDENT)
    m.execute("insert into mema.student (id, name) values (1, 'a')")
    assert rows(m, "select name from student") == [("a",)]
    assert rows(m, "select table_name from user_tables") == [("STUDENT",)]
    assert ("MEMA", "STUDENT") in rows(s, "select owner, table_name from all_tables")
    s.execute("create table student (x int)")                 # SYSDBA.STUDENT is another table
    assert rows(s, "select count(*) from student") == [(0,)]
    assert rows(s, "select count(*) from mema.student") == [(1,)]


def test_permanent_magic_function(env) -> None:
    db, _ = env
    s = db.session("SYSDBA")
    r = s.execute("select permanent_magic")
    assert r.columns[0].name == "PERMANENT_MAGIC"
    assert list(r.rows) == [(1234567,)]
