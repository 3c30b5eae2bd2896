"""dmemu.wire against both real client drivers (official dmPython and dm-pure), over a SQLite fake."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from dmemu import api
from wire_fake import DRIVERS, FakeServer, connect, error_code, start_wire


@pytest.fixture
def fake(tmp_path) -> FakeServer:
    return FakeServer(str(tmp_path / "fake.sqlite"))


@pytest.fixture
def port(fake):
    ws = start_wire(fake)
    yield ws.port
    ws.close()


@pytest.fixture(params=DRIVERS)
def driver(request) -> str:
    return request.param


@pytest.fixture
def conn(driver, port):
    c = connect(driver, port)
    yield c
    c.close()


def _value(v):
    return v.read() if hasattr(v, "read") else v


def test_login_ok_reports_client_info(driver, port, fake):
    c = connect(driver, port)
    cur = c.cursor()
    cur.execute("SELECT DUMMY FROM DUAL")
    assert [tuple(r) for r in cur.fetchall()] == [("X",)]
    c.close()
    user, client = fake.logins[-1]
    assert user == "SYSDBA"
    assert client["peer"].startswith("127.0.0.1:")
    if driver == "dmPython":                      # the DPI sends its failover settings at login
        assert client["options"]["loginMode"] == 4
        assert client["options"]["switchTimes"] == 1


@pytest.mark.parametrize("lang_env, text", [("cn", "用户名或密码错误"), ("en", "Invalid username or password")])
def test_login_failure_reports_server_code(driver, port, monkeypatch, lang_env, text):
    monkeypatch.setenv("LANGUAGE", lang_env)
    with pytest.raises(Exception) as ei:
        connect(driver, port, password="wrong")
    assert error_code(ei.value) == -2501
    assert text in str(ei.value)


TYPED = [
    ("I", "INT", -2147483648),
    ("BI", "BIGINT", 9223372036854775807),
    ("SI", "SMALLINT", -32768),
    ("TI", "TINYINT", -128),
    ("CH", "CHAR(5)", "ab  c"),
    ("VC", "VARCHAR(50)", "中文 text ✓"),
    ("DB", "DOUBLE", 1.0 / 3),
    ("RL", "REAL", 1.5),
    ("DC", "DECIMAL(20,4)", decimal.Decimal("-12345678.1234")),
    # 28 digits: dm-pure rounds bound decimals to Python's default 28-digit context
    ("NM", "NUMBER(38,0)", decimal.Decimal("-1234567890123456789012345678")),
    ("DA", "DATE", dt.date(2026, 11, 24)),
    ("TM", "TIME", dt.time(13, 14, 15)),
    ("TS", "TIMESTAMP", dt.datetime(2026, 11, 24, 13, 14, 15, 654321)),
    ("BT", "BIT", 1),
    ("BO", "BOOLEAN", True),
    ("CL", "CLOB", "大对象 clob " * 20),
    ("BL", "BLOB", bytes(range(256))),
    ("VB", "VARBINARY(20)", b"\xde\xad\xbe\xef\x00"),
]


def test_types_round_trip_through_parameters(conn):
    cur = conn.cursor()
    defs = ", ".join(f"{n} {t}" for n, t, _ in TYPED)
    cur.execute(f"CREATE TABLE TY ({defs})")
    marks = ", ".join("?" * len(TYPED))
    cur.execute(f"INSERT INTO TY VALUES ({marks})", tuple(v for _, _, v in TYPED))
    assert cur.rowcount == 1
    names = ", ".join(n for n, _, _ in TYPED)
    cur.execute(f"SELECT {names} FROM TY")
    row = [_value(v) for v in cur.fetchall()[0]]
    assert [d[0] for d in cur.description] == [n for n, _, _ in TYPED]
    for (name, _, sent), got in zip(TYPED, row, strict=True):
        assert got == sent, name


def test_literal_values_and_nulls_and_chinese(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE L (ID INT, NAME VARCHAR(20), AMT DECIMAL(10,2), D DATE, TS TIMESTAMP)")
    cur.execute("INSERT INTO L VALUES (1, '达梦数据库', 12.50, '2026-01-31', '2026-01-31 23:59:58.5')")
    cur.execute("INSERT INTO L VALUES (2, NULL, NULL, NULL, NULL)")
    cur.execute("SELECT ID, NAME, AMT, D, TS FROM L ORDER BY ID")
    rows = [tuple(r) for r in cur.fetchall()]
    assert rows == [(1, "达梦数据库", decimal.Decimal("12.5"), dt.date(2026, 1, 31), dt.datetime(2026, 1, 31, 23, 59, 58, 500000)),
                    (2, None, None, None, None)]
    names = [d[0] for d in cur.description]
    assert names == ["ID", "NAME", "AMT", "D", "TS"]


def test_description_is_none_for_dml_and_ddl_and_rowcount(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE R (ID INT, V VARCHAR(10))")
    assert cur.description is None
    cur.execute("INSERT INTO R VALUES (1, 'a')")
    cur.execute("INSERT INTO R VALUES (2, 'b')")
    cur.execute("INSERT INTO R VALUES (3, 'c')")
    cur.execute("UPDATE R SET V = 'z' WHERE ID >= 2")
    assert cur.description is None
    assert cur.rowcount == 2
    cur.execute("DELETE FROM R WHERE ID = ?", (1,))
    assert cur.rowcount == 1


def test_parameterised_select_with_typed_params(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE P (ID INT, NAME VARCHAR(20), AMT DOUBLE)")
    cur.execute("INSERT INTO P VALUES (?, ?, ?)", (7, "seven", 7.5))
    cur.execute("INSERT INTO P VALUES (?, ?, ?)", (8, None, 8.25))
    cur.execute("SELECT ID, NAME, AMT FROM P WHERE ID = ?", (8,))
    assert [tuple(r) for r in cur.fetchall()] == [(8, None, 8.25)]
    cur.execute("SELECT NAME FROM P WHERE AMT < ?", (8.0,))
    assert [tuple(r) for r in cur.fetchall()] == [("seven",)]


def test_executemany_inserts_every_row(conn, fake):
    cur = conn.cursor()
    cur.execute("CREATE TABLE M (ID INT, NAME VARCHAR(20))")
    cur.executemany("INSERT INTO M VALUES (?, ?)", [(i, f"n{i}") for i in range(50)])
    cur.execute("SELECT COUNT(*), SUM(ID) FROM M")
    assert tuple(cur.fetchall()[0]) == (50, sum(range(50)))


def test_commit_and_rollback_with_autocommit_off(driver, port, fake):
    c = connect(driver, port, autocommit=False)
    other = connect(driver, port)
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE TX (ID INT)")
        cur.execute("INSERT INTO TX VALUES (1)")
        ocur = other.cursor()
        ocur.execute("SELECT COUNT(*) FROM TX")
        assert ocur.fetchall()[0][0] == 0          # not visible before commit
        c.commit()
        c.autocommit = False                        # dm-pure turns autocommit back on at commit()
        ocur.execute("SELECT COUNT(*) FROM TX")
        assert ocur.fetchall()[0][0] == 1
        cur.execute("INSERT INTO TX VALUES (2)")
        c.rollback()
        ocur.execute("SELECT COUNT(*) FROM TX")
        assert ocur.fetchall()[0][0] == 1
        assert fake.sessions[0].autocommit is False or driver == "dmpy"
    finally:
        c.close()
        other.close()


def test_server_errors_carry_dm_code_and_message(conn):
    cur = conn.cursor()
    with pytest.raises(Exception) as ei:
        cur.execute("SELECT * FROM NO_SUCH_TABLE")
    assert error_code(ei.value) == -2106
    assert "NO_SUCH_TABLE" in str(ei.value)
    with pytest.raises(Exception) as ei:
        cur.execute("SELEKT 1")
    assert error_code(ei.value) == -2007
    cur.execute("SELECT DUMMY FROM DUAL")                # the session survives errors
    assert cur.fetchall()[0][0] == "X"


def _load_big(fake: FakeServer, n: int) -> None:
    import sqlite3
    con = sqlite3.connect(fake.db.path)
    con.execute('CREATE TABLE BIG ("A", "B", "C", "D", "E")')
    con.executemany("INSERT INTO BIG VALUES (?, ?, ?, ?, ?)", ((i, -i, i * 3, i % 7, 2 * i) for i in range(n)))
    con.commit()
    con.close()
    fake.db.catalog["BIG"] = {n: api.Column(n, "INT", 10) for n in "ABCDE"}


def test_paged_fetch_of_300k_rows_arrives_complete_and_in_order(driver, port, fake):
    n = 300_000
    _load_big(fake, n)
    c = connect(driver, port)
    try:
        cur = c.cursor()
        cur.execute("SELECT A, B, C, D, E FROM BIG ORDER BY A")
        rows = cur.fetchall()
        assert len(rows) == n
        assert [r[0] for r in rows] == list(range(n))
        assert tuple(rows[-1]) == (n - 1, -(n - 1), 3 * (n - 1), (n - 1) % 7, 2 * (n - 1))
        cur.execute("SELECT A FROM BIG WHERE A >= ?", (n - 5,))   # parameterised, small
        assert [r[0] for r in cur.fetchall()] == list(range(n - 5, n))
    finally:
        c.close()


def test_dmpython_fetchmany_pages_lazily(port, fake):
    _load_big(fake, 50_000)
    c = connect("dmPython", port)
    try:
        cur = c.cursor()
        cur.arraysize = 1000
        cur.execute("SELECT A FROM BIG ORDER BY A")
        first = cur.fetchmany(1000)
        assert [r[0] for r in first] == list(range(1000))
        rest = cur.fetchall()
        assert [r[0] for r in rest] == list(range(1000, 50_000))
    finally:
        c.close()


@pytest.mark.parametrize("size", [100, 20_000, 300_000])
def test_lobs_of_any_size_round_trip(conn, size):
    """Small LOBs travel in the row; long ones as off-row locators read back with LOB_LEN/LOB_READ."""
    cur = conn.cursor()
    cur.execute("CREATE TABLE LB (ID INT, C CLOB, B BLOB)")
    text = ("达梦 LOB " * size)[:size]
    blob = bytes(i % 251 for i in range(size))
    cur.execute("INSERT INTO LB VALUES (?, ?, ?)", (1, text, blob))
    cur.execute("SELECT C, B FROM LB WHERE ID = ?", (1,))
    got = [_value(v) for v in cur.fetchall()[0]]
    assert got == [text, blob]


def test_long_error_messages_are_cut_not_garbled(conn, fake, monkeypatch):
    from dmemu.errors import DmError

    def boom(sql, params=None):
        raise DmError(-2007, "错" * 5000)
    monkeypatch.setattr(fake.sessions[-1], "execute", boom)
    cur = conn.cursor()
    with pytest.raises(Exception) as ei:
        cur.execute("SELECT 1 FROM DUAL")
    assert error_code(ei.value) == -2007
    assert "错错错" in str(ei.value)


def test_print_text_of_a_statement_does_not_disturb_the_session(conn, fake, monkeypatch):
    session = fake.sessions[-1]
    real = session.execute

    def execute(sql, params=None):
        if sql.startswith("CALL"):
            return api.Result("other", rowcount=0, message="PRINT 你好")
        return real(sql, params)
    monkeypatch.setattr(session, "execute", execute)
    cur = conn.cursor()
    cur.execute("CALL SP_SOMETHING()")
    assert cur.description is None
    cur.execute("SELECT DUMMY FROM DUAL")
    assert cur.fetchall()[0][0] == "X"
