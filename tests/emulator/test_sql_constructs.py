"""SQL a DBA meets first, through the engine API: CONNECT BY row generation in any SELECT, MERGE INTO,
anonymous blocks, MD5/HASHCODE; each change replays identically on a second database (the standby path)."""

from __future__ import annotations

import hashlib

import pytest
from test_sql_support import Hooks, code, dump, open_db, replay, rows


@pytest.fixture
def s(env):
    db, _ = env
    sess = db.session("SYSDBA")
    yield sess
    sess.close()


def assert_replays(env, tmp_path) -> None:
    db, hooks = env
    other = open_db(tmp_path / "standby.dbf", Hooks())
    try:
        replay(hooks, other)
        assert dump(other) == dump(db)
    finally:
        other.close()


# ---- CONNECT BY LEVEL wherever a SELECT may appear --------------------------------------------------
def test_connect_by_in_a_derived_table(s) -> None:
    assert rows(s, "select count(*) from (select level from dual connect by level <= 500)") == [(500,)]
    assert rows(s, "select max(l), min(l) from (select level l from dual connect by level < 8) x") == [(7, 1)]
    assert rows(s, "select count(*) from dual where 3 in (select level from dual connect by level <= 4)") == [(1,)]
    assert rows(s, "with x as (select level l from dual connect by level <= 3) select count(*) from x") == [(3,)]
    assert rows(s, "select count(*) from (select level from dual connect by level <= 3) a, "
                   "(select level from dual connect by level <= 4) b") == [(12,)]


def test_connect_by_in_each_branch_of_a_set_operation(s) -> None:
    q = ("select count(*), sum(a) from (select level a from dual connect by level <= 10 "
         "union all select level from dual connect by level <= 2)")
    assert rows(s, q) == [(12, 58)]
    q = "select level from dual connect by level <= 5 minus select level from dual connect by level <= 3"
    assert sorted(rows(s, q)) == [(4,), (5,)]


def test_connect_by_feeds_insert_select_and_ctas(env, s, tmp_path) -> None:
    s.execute("create table g as select level id, 'r' || level name from dual connect by level <= 20")
    s.execute("insert into g select * from (select level + 100, 'x' from dual connect by level <= 5)")
    assert rows(s, "select count(*), max(id) from g") == [(25, 105)]
    assert_replays(env, tmp_path)


# ---- MERGE INTO ---------------------------------------------------------------------------------------
@pytest.fixture
def tables(s):
    s.execute("create table tgt (id int primary key, name varchar(20), n int)")
    s.execute("insert into tgt values (1, 'a', 1)")
    s.execute("insert into tgt values (2, 'b', 2)")
    s.execute("create table src (id int, name varchar(20))")
    s.execute("insert into src values (2, 'B')")
    s.execute("insert into src values (3, 'C')")
    return s


def test_merge_updates_matched_and_inserts_the_rest(env, tables, tmp_path) -> None:
    s = tables
    r = s.execute("merge into tgt t using src s on (t.id = s.id) "
                  "when matched then update set t.name = s.name, n = n + 10 "
                  "when not matched then insert (id, name, n) values (s.id, s.name, 0)")
    assert r.rowcount == 2
    assert rows(s, "select * from tgt order by id") == [(1, "a", 1), (2, "B", 12), (3, "C", 0)]
    assert_replays(env, tmp_path)


def test_merge_from_a_subquery_with_parameters_and_clause_filters(env, tables, tmp_path) -> None:
    s = tables
    q = ("merge into tgt using (select ? id, ? name from dual) x on (tgt.id = x.id) "
         "when not matched then insert values (x.id, x.name, 5) where x.id > 0 "
         "when matched then update set name = 'never' where 1 = 0")
    assert s.execute(q, [4, "D"]).rowcount == 1
    assert s.execute(q, [4, "D"]).rowcount == 0                  # matched, but the WHERE filters it
    assert s.execute(q, [-1, "neg"]).rowcount == 0
    assert rows(s, "select * from tgt where id = 4") == [(4, "D", 5)]
    assert_replays(env, tmp_path)


def test_merge_is_one_statement(tables) -> None:
    s = tables
    s.execute("set autocommit off")
    s.execute("insert into src values (1, null)")
    # the UPDATE half succeeds, the INSERT half violates NOT NULL... here: a duplicate key in the source
    s.execute("insert into src values (5, 'E')")
    s.execute("insert into src values (5, 'E2')")
    assert code(s, "merge into tgt t using src s on (t.id = s.id) when matched then update set name = 'M' "
                   "when not matched then insert values (s.id, s.name, 0)") == -6602
    assert rows(s, "select name from tgt where id = 2") == [("b",)]          # the UPDATE half was undone


def test_merge_errors_are_dm_errors(tables) -> None:
    s = tables
    assert code(s, "merge into tgt t using src s on (t.id = s.id) when matched then delete") == -2007
    assert code(s, "merge into tgt t using src s on (t.id = s.id) when matched then update set id = s.id") == -2007
    assert code(s, "merge into tgt t using src s") == -2007
    for cut in ("merge into", "merge into tgt using", "merge into tgt t using src s on (t.id = s.id) when"):
        assert code(s, cut) == -2007, cut
    assert code(s, "merge tgt using src on (tgt.id = src.id) when matched then update set n = 1") == -2007
    assert code(s, "merge into nope t using src s on (t.id = s.id) when matched then update set n = 1") == -2106


def test_merge_on_a_standby_is_refused_like_any_dml(env, tables) -> None:
    _, hooks = env
    hooks.readonly = True
    assert code(tables, "merge into tgt t using src s on (t.id = s.id) "
                        "when matched then update set n = 0") == -2018


# ---- anonymous blocks --------------------------------------------------------------------------------
BLOCK = """declare
  total int := 0;
  nm varchar(20);
begin
  for i in 1..300 loop
    insert into blk values (i, 'n' || i, i * 2);
    total := total + i;
    if mod(i, 100) = 0 then
      commit;
    end if;
  end loop;
  update blk set n = total where id = 1;
  select name into nm from blk where id = 7;
  update blk set name = nm || '!' where id = 8;
  for j in reverse 1..3 loop
    delete from blk where id = 300 - j + 1;
  end loop;
  while total > 0 loop
    total := total - 40000;
  end loop;
  insert into blk values (-1, 'total', total);
  begin
    null;
  end;
end;"""


def test_block_with_loops_variables_and_commit(env, s, tmp_path) -> None:
    _, hooks = env
    s.execute("create table blk (id int primary key, name varchar(20), n int)")
    before = len(hooks.records)
    assert s.execute(BLOCK).kind == "other"
    assert rows(s, "select count(*), max(id) from blk") == [(298, 297)]
    assert rows(s, "select * from blk where id in (-1, 1, 8) order by id") == [
        (-1, "total", 45150 - 40000 * 2), (1, "n1", 45150), (8, "n7!", 16)]
    assert len(hooks.records) - before == 4          # three COMMITs inside, one at the end (autocommit)
    assert_replays(env, tmp_path)


def test_block_exit_when_elsif_and_rowcount(s) -> None:
    s.execute("create table lp (k int)")
    s.execute("""declare k int := 0; c int; begin
      loop k := k + 1; exit when k >= 5; insert into lp values (k); end loop;
      update lp set k = k where k > 2; c := sql%rowcount;
      if c = 0 then insert into lp values (100); elsif c = 2 then insert into lp values (200);
      else insert into lp values (300); end if;
      execute immediate 'insert into lp values (' || c || ')';
      dbms_output.put_line('done');
    end;""")
    assert rows(s, "select k from lp order by k") == [(1,), (2,), (2,), (3,), (4,), (200,)]


def test_failed_block_in_autocommit_leaves_nothing(s) -> None:
    s.execute("create table fb (id int primary key)")
    assert code(s, "begin insert into fb values (1); insert into fb values (1); end;") == -6602
    assert rows(s, "select count(*) from fb") == [(0,)]


def test_unsupported_block_syntax_gives_dm_errors(s) -> None:
    assert code(s, "begin null; exception when others then null; end;") == -2007
    assert code(s, "begin for i in 1..3 loop null; end;") == -2007
    assert code(s, "declare c cursor for select 1 from dual; begin null; end;") == -2007
    assert code(s, "begin select 1 into nope from dual where 1 = 0; end;") == -7065
    assert code(s, "begin undeclared := 1; end;") == -2111
    for cut in ("begin for", "declare x", "begin if 1 = 1 then", "begin for i in 1..", "begin x :="):
        assert code(s, cut) == -2007, cut


# ---- hash functions ----------------------------------------------------------------------------------
def test_md5_and_hashcode(s) -> None:
    got = rows(s, "select md5('abc'), md5(12), md5(null), hashcode('abc'), hashcode(null) from dual")
    assert got == [(hashlib.md5(b"abc").hexdigest(), hashlib.md5(b"12").hexdigest(), None, 96354, None)]
    long = "x" * 100
    (h,) = rows(s, f"select hashcode('{long}') from dual")[0]
    assert -2 ** 31 <= h < 2 ** 31
    s.execute("create table ck (id int, v varchar(10))")
    s.execute("insert into ck select level, 'v' || level from dual connect by level <= 50")
    (a,) = rows(s, "select sum(hashcode(v)) from ck")[0]
    (b,) = rows(s, "select sum(hashcode(v)) from (select v from ck order by id desc)")[0]
    assert a == b
    assert code(s, "select md5('a', 'b') from dual") == -2007
