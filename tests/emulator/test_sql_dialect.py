"""DM dialect features: DDL, DML, sequences, identity, views, indexes, functions, aggregates, errors."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pytest
from test_sql_support import Hooks, code, open_db, rows


@pytest.fixture
def s(tmp_path: Path):
    db = open_db(tmp_path / "d.db", Hooks())
    sess = db.session("SYSDBA")
    yield sess
    db.close()


def test_types_round_trip(s) -> None:
    s.execute("create table ty (i int, bi bigint, si smallint, ti tinyint, b bit, c char(3), v varchar2(10), "
              "n number(10,2), d decimal(8,3), f double, r real, dd date, tm time, dtm datetime, ts timestamp, "
              "cl clob, bl blob, vb varbinary(8), bo boolean)")
    vals = (1, 2 ** 40, 7, 3, 1, "abc", "xyz", decimal.Decimal("12.34"), decimal.Decimal("1.5"), 2.5, 1.25,
            dt.date(2024, 2, 29), dt.time(13, 14, 15), dt.datetime(2024, 1, 2, 3, 4, 5),
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456), "long text", b"\x00\x01", b"\xff", True)
    s.execute("insert into ty values (" + ",".join("?" * len(vals)) + ")", vals)
    r = s.execute("select * from ty")
    got = list(r.rows)[0]
    assert got[:7] == (1, 2 ** 40, 7, 3, 1, "abc", "xyz")
    assert got[7] == decimal.Decimal("12.34") and got[8] == decimal.Decimal("1.500")
    assert got[9:11] == (2.5, 1.25)
    assert got[11:15] == vals[11:15]
    assert got[15:18] == ("long text", b"\x00\x01", b"\xff") and got[18] == 1
    types = [c.type for c in r.columns]
    assert types == ["INT", "BIGINT", "SMALLINT", "TINYINT", "BIT", "CHAR", "VARCHAR", "DECIMAL", "DECIMAL",
                     "DOUBLE", "REAL", "DATE", "TIME", "DATETIME", "DATETIME", "CLOB", "BLOB", "VARBINARY", "BIT"]
    assert r.columns[7].precision == 10 and r.columns[7].scale == 2
    params, cols = s.describe("insert into ty (i, v) values (?, ?)")
    assert [p.type for p in params] == ["INT", "VARCHAR"]
    params, cols = s.describe("select i, dd from ty where v = ?")
    assert len(params) == 1 and [c.type for c in cols] == ["INT", "DATE"]


def test_error_codes(s) -> None:
    s.execute("create table e (id int primary key, name varchar(5) not null)")
    assert code(s, "select * from nope") == -2106
    assert code(s, "select nope from e") == -2111
    assert code(s, "selec 1") == -2007
    assert code(s, "select * from e where") == -2007
    s.execute("insert into e values (1, 'a')")
    assert code(s, "insert into e values (1, 'b')") == -6602
    assert code(s, "insert into e values (2, null)") == -6609
    assert code(s, "insert into e values (3, 'toolong')") == -6169
    assert code(s, "insert into e values ('x', 'a')") == -6111
    assert code(s, "create table e (x int)") == -2124
    assert code(s, "merge into e using dual on (1=1) when matched then delete") == -2007
    assert code(s, "select nosuchfunc(1) from dual") == -2208
    assert code(s, "select s_missing.nextval from dual") == -2116
    assert rows(s, "select count(*) from e") == [(1,)]       # failed statements changed nothing


def test_sequences_and_identity(s) -> None:
    s.execute("create sequence sq start with 10 increment by 5")
    assert rows(s, "select sq.nextval from dual") == [(10,)]
    assert rows(s, "select sq.nextval, sq.currval from dual") == [(15, 15)]
    s.execute("create table idt (id int identity(1,1), v varchar(10))")
    s.execute("insert into idt (v) values ('a')")
    s.execute("insert into idt (v) values ('b')")
    assert rows(s, "select id, v from idt order by id") == [(1, "a"), (2, "b")]
    s.execute("create table sqt (id int, v int)")
    s.execute("insert into sqt select sq.nextval, level from dual connect by level <= 3")
    assert rows(s, "select id from sqt order by id") == [(20,), (25,), (30,)]
    assert rows(s, "select sequence_name, increment_by from user_sequences") == [("SQ", 5)]


def test_views_indexes_alter(s) -> None:
    s.execute("create table emp (id int, dept int, sal number(10,2))")
    s.execute("insert into emp select level, mod(level, 3), level * 100 from dual connect by level <= 9")
    s.execute("create or replace view v_dept as select dept, count(*) cnt, sum(sal) total from emp group by dept")
    assert rows(s, "select dept, cnt from v_dept order by dept") == [(0, 3), (1, 3), (2, 3)]
    assert rows(s, "select count(*) from v_dept v join emp e on e.dept = v.dept") == [(9,)]
    s.execute("create unique index ix_emp_id on emp (id)")
    assert code(s, "insert into emp values (1, 1, 1)") == -6602
    assert ("IX_EMP_ID", "UNIQUE") in rows(s, "select index_name, uniqueness from user_indexes")
    s.execute("alter table emp add column note varchar(20) default 'n'")
    assert rows(s, "select distinct note from emp") == [("n",)]
    s.execute("alter table emp modify note varchar(40)")
    s.execute("update emp set note = 'abcdefghijklmnopqrstuvwxyz' where id = 1")
    s.execute("alter table emp rename column note to remark")
    assert rows(s, "select remark from emp where id = 1") == [("abcdefghijklmnopqrstuvwxyz",)]
    s.execute("alter table emp drop column remark")
    assert code(s, "select remark from emp") == -2111
    assert code(s, "insert into emp values (1, 1, 1)") == -6602       # index survived the rebuild
    s.execute("alter table emp rename to staff")
    assert rows(s, "select count(*) from staff") == [(9,)]
    s.execute("truncate table staff")
    assert rows(s, "select count(*) from staff") == [(0,)]
    s.execute("drop view v_dept")
    s.execute("drop index ix_emp_id")
    s.execute("drop table staff cascade")
    assert code(s, "select * from staff") == -2106
    s.execute("comment on table x is 'harmless'")


def test_query_features(s) -> None:
    s.execute("create table a (id int, name varchar(10), grp int)")
    s.execute("create table b (id int, val int)")
    for i in range(1, 6):
        s.execute("insert into a values (?, ?, ?)", (i, f"n{i}", i % 2))
        s.execute("insert into b values (?, ?)", (i, i * 10))
    assert rows(s, "select top 2 id from a order by id desc") == [(5,), (4,)]
    assert rows(s, "select id from a where rownum <= 2") == [(1,), (2,)]
    assert rows(s, "select id from a order by id limit 2, 2") == [(3,), (4,)]
    assert rows(s, "select rownum, id from a where id > 3") == [(1, 4), (2, 5)]
    assert rows(s, "select a.grp, sum(b.val), avg(b.val), min(b.val), max(b.val) from a, b where a.id = b.id "
                   "group by a.grp order by a.grp") == [(0, 60, 30.0, 20, 40), (1, 90, 30.0, 10, 50)]
    assert rows(s, "select nvl(null, 1), decode(2, 1, 'one', 2, 'two', 'other'), abs(-3), mod(7, 3), "
                   "upper('x') || lower('Y'), substr('hello', 2, 3), length('abc'), trunc(7.9) from dual") == [
        (1, "two", 3, 1, "Xy", "ell", 3, 7)]
    assert rows(s, "select count(*) from a where id in (select id from b where val > 20)") == [(3,)]
    assert rows(s, "select id from a minus select id from b where val > 20") == [(1,), (2,)]
    assert rows(s, "select to_char(to_date('2024-03-05', 'YYYY-MM-DD'), 'YYYY/MM/DD') from dual") == [
        ("2024/03/05",)]
    r = s.execute("select sysdate, user from dual")
    assert r.columns[0].type == "DATETIME" and isinstance(list(r.rows)[0][0], dt.datetime)
    assert rows(s, "select user from dual") == [("SYSDBA",)]
    assert rows(s, "select level from dual connect by level < 4") == [(1,), (2,), (3,)]
    assert rows(s, "select count(*), coalesce(sum(rn * (id * 7 + length(name))), 0) from "
                   "(select row_number() over (order by id) as rn, t.* from a t) x") == [(5, 415)]
    assert rows(s, 'select "ID" from A where "NAME" = :1', ["n3"]) == [(3,)]
    assert rows(s, "select sysdba.a.id from sysdba.a where id = 1") == [(1,)]


def test_big_sum_does_not_overflow(s) -> None:
    s.execute("create table big (v bigint)")
    for _ in range(3):
        s.execute("insert into big values (?)", (2 ** 62 + 1,))
    assert int(rows(s, "select sum(v) from big")[0][0]) == 3 * (2 ** 62 + 1)


def test_identifiers_are_case_insensitive_quoted_or_not(s) -> None:
    s.execute('create table "Mixed" ("Col" int)')
    s.execute("insert into mixed (col) values (1)")
    assert rows(s, 'select "col" from "MIXED"') == [(1,)]
    assert rows(s, "select table_name from user_tables") == [("MIXED",)]


def test_errors_raised_inside_functions_keep_their_code(s) -> None:
    s.execute("create sequence q1")
    assert code(s, "select q1.currval from dual") == -2119
    s.execute("create sequence q2 maxvalue 1")
    assert rows(s, "select q2.nextval from dual") == [(1,)]
    assert code(s, "select q2.nextval from dual") == -3117


def test_offset_fetch_and_dictionary_queries(s) -> None:
    s.execute("create table o (id int)")
    s.execute("insert into o select level from dual connect by level <= 5")
    assert rows(s, "select id from o order by id offset 1 rows fetch next 2 rows only") == [(2,), (3,)]
    assert rows(s, "select id from o order by id fetch first 1 rows only") == [(1,)]
    assert rows(s, "select column_name, data_type from user_tab_columns where table_name = 'O'") == [("ID", "INT")]
    assert rows(s, "select count(*) from sysobjects where name = 'O' and subtype$ = 'UTAB'") == [(1,)]


def test_sysdate_arithmetic_in_days(s) -> None:
    now, yesterday, later = rows(s, "select sysdate, sysdate - 1, systimestamp + 0.5 from dual")[0]
    assert (now - yesterday).total_seconds() == 86400
    assert 43190 < (later - now).total_seconds() < 43210


def test_concat_operator_treats_null_as_empty(s) -> None:
    s.execute("create table c (id int, a varchar(10), b varchar(10))")
    s.execute("insert into c values (1, 'x', null), (2, null, null)")
    assert rows(s, "select a || b, upper(a) || '-' || c.id from c order by id") == [("x", "X-1"), (None, "-2")]
    assert rows(s, "select 'a' || null || 'b' from dual") == [("ab",)]
