"""Global temporary tables in the SQL engine: the definition is ordinary (replicated) DDL, the rows are
private to each session, produce no redo and pass the write guard as "temp" (a STANDBY allows them)."""

from __future__ import annotations

from test_sql_support import open_db, replay, rows


def test_temp_rows_are_session_private_and_make_no_redo(env, tmp_path) -> None:
    db, h = env
    a, b = db.session(), db.session()
    a.execute("create global temporary table tmp_p (id int, v varchar(8)) on commit preserve rows")
    n = len(h.records)
    a.execute("insert into tmp_p values (1, 'a')")
    a.execute("insert into tmp_p select id + 1, v from tmp_p")
    a.execute("update tmp_p set v = 'z' where id = 2")
    assert rows(a, "select id, v from tmp_p order by id") == [(1, "a"), (2, "z")]
    assert rows(b, "select count(*) from tmp_p") == [(0,)]
    b.execute("insert into tmp_p values (9, 'b')")
    assert rows(b, "select id from tmp_p") == [(9,)]
    assert len(h.records) == n, "temporary table rows must not produce redo"
    assert ("temp", "SYSDBA.TMP_P") in h.guards
    a.close()
    assert rows(db.session(), "select count(*) from tmp_p") == [(0,)]
    standby = open_db(tmp_path / "standby.DBF")
    replay(h, standby)
    assert rows(standby.session(), "select count(*) from tmp_p") == [(0,)]   # the table exists there
    standby.close()


def test_on_commit_delete_rows_is_the_default(env) -> None:
    db, _ = env
    s = db.session()
    s.execute("create global temporary table tmp_d (id int)")
    s.autocommit = False
    s.execute("insert into tmp_d values (1)")
    assert rows(s, "select count(*) from tmp_d") == [(1,)]
    s.commit()
    assert rows(s, "select count(*) from tmp_d") == [(0,)]
    s.execute("insert into tmp_d values (2)")
    s.rollback()
    assert rows(s, "select count(*) from tmp_d") == [(0,)]


def test_ddl_on_a_temp_table_acts_on_the_table(env) -> None:
    db, _ = env
    s = db.session()
    s.execute("create global temporary table tmp_x (id int) on commit preserve rows")
    s.execute("insert into tmp_x values (1)")
    s.execute("drop table tmp_x")
    assert rows(s, "select count(*) from user_tables where table_name = 'TMP_X'") == [(0,)]
    s.execute("create table tmp_x (id int)")                              # name free again, ordinary table
    s.execute("insert into tmp_x values (5)")
    assert rows(db.session(), "select id from tmp_x") == [(5,)]
