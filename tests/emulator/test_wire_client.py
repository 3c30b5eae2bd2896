"""dmemu.wire.client against a real dmserver (started by the conftest fixtures): login, typed
selects, bound parameters, paging, errors with codes, transactions."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from dmemu.wire.client import DmError, connect
from emu_helpers import PWD


def _conn(db, autocommit: bool = False):
    return connect("127.0.0.1", db.port, "SYSDBA", PWD, autocommit=autocommit)


def test_login_ok_and_refused(running_db) -> None:
    with _conn(running_db) as c:
        assert c.SvrStat == 4 and c.SvrMode in (0, 1, 2)
        assert c.execute("select 1").fetchall() == [(1,)]
    with pytest.raises(DmError) as e:
        connect("127.0.0.1", running_db.port, "SYSDBA", "wrong-password")
    assert e.value.code == -2501
    with pytest.raises(DmError) as e:
        connect("127.0.0.1", 1, "SYSDBA", PWD, timeout=2)
    assert e.value.code == -70028


def test_typed_columns_params_errors_and_transactions(running_db) -> None:
    with _conn(running_db) as c:
        cur = c.cursor()
        cur.execute("create table T1 (I INT, B BIGINT, D DECIMAL(10,2), V VARCHAR(20), DT DATETIME, "
                    "DA DATE, F DOUBLE)")
        c.commit()
        row = (7, 2**40, decimal.Decimal("12.34"), "héllo", dt.datetime(2024, 5, 6, 7, 8, 9),
               dt.date(2023, 1, 2), 1.5)
        cur.execute("insert into T1 values (?, ?, ?, ?, ?, ?, ?)", row)
        assert cur.rowcount == 1
        cur.execute("insert into T1 values (?, ?, ?, ?, ?, ?, ?)", (None,) * 7)
        c.commit()
        cur.execute("select I, B, D, V, DT, DA, F from T1 order by I nulls last")
        assert [d[0] for d in cur.description] == ["I", "B", "D", "V", "DT", "DA", "F"]
        assert [d[1].__name__ for d in cur.description] == ["INT", "BIGINT", "DECIMAL", "VARCHAR",
                                                            "DATETIME", "DATE", "DOUBLE"]
        assert cur.fetchall() == [row, (None,) * 7]
        cur.execute("select V from T1 where I = ? and V = ?", (7, "héllo"))
        assert cur.fetchone() == ("héllo",) and cur.fetchone() is None

        with pytest.raises(DmError) as e:
            cur.execute("select * from NO_SUCH_TABLE")
        assert e.value.code == -2106 and e.value.message
        with pytest.raises(DmError) as e:
            cur.execute("selec 1")
        assert e.value.code < 0

        cur.execute("delete from T1")                  # autocommit off: rollback undoes it
        assert cur.rowcount == 2
        c.rollback()
        assert c.execute("select count(*) from T1").fetchone() == (2,)
        cur.execute("delete from T1 where I is null")
        c.commit()
    with _conn(running_db, autocommit=True) as c2:     # committed work is seen by a new session
        assert c2.execute("select count(*) from T1").fetchone() == (1,)
        c2.execute("insert into T1 (I) values (8)")     # autocommit: survives close without commit
    with _conn(running_db) as c3:
        assert c3.execute("select count(*) from T1").fetchone() == (2,)
        c3.execute("insert into T1 (I) values (9)")     # not committed: lost at close
    with _conn(running_db) as c4:
        assert c4.execute("select count(*) from T1").fetchone() == (2,)


def test_paging_over_100k_rows(running_db) -> None:
    n = 100_000
    with _conn(running_db) as c:
        cur = c.execute(f"select level, 'row' || level from dual connect by level <= {n}")
        first = cur.fetchmany(3)
        assert first == [(1, "row1"), (2, "row2"), (3, "row3")]
        rest = cur.fetchall()
        assert len(rest) == n - 3 and rest[-1] == (n, f"row{n}") and cur.rowcount == n
        assert [r[0] for r in rest] == list(range(4, n + 1))
        cur.close()
