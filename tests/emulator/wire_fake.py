"""A small fake api.Server / api.Session over SQLite, used to test dmemu.wire without the real instance.

Tables are created from DM-style DDL: the fake records each column's DM type in its own catalog and
creates the SQLite table with untyped columns, so values are stored exactly as sent (decimals and
datetimes as ISO text) and converted back to DM-typed Python values when selected.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence

from dmemu import SERVER_VERSION, api, lang
from dmemu.errors import DmError

_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(\w+)\s*\((.*)\)\s*$", re.I | re.S)
_COLDEF = re.compile(r"^\s*(\w+)\s+([A-Za-z]+(?:\s+PRECISION)?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\))?(.*)$", re.S)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*(?:\(([^)]*)\))?\s*VALUES", re.I)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)
_WHERE_PARAM = re.compile(r"(\w+)\s*(?:=|<|>|<=|>=|<>|!=)\s*\?", re.I)
_ALIASES = {"INTEGER": "INT", "NUMBER": "DECIMAL", "NUMERIC": "DECIMAL", "TIMESTAMP": "DATETIME",
            "VARCHAR2": "VARCHAR", "TEXT": "CLOB", "FLOAT": "DOUBLE", "DOUBLE PRECISION": "DOUBLE"}


def _to_sqlite(v: object) -> object:
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (dt.date, dt.time)):          # datetime is a date
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def _from_sqlite(col: api.Column):
    t = col.type
    if t == "DECIMAL":
        return lambda v: decimal.Decimal(str(v))
    if t == "DATE":
        return lambda v: dt.date.fromisoformat(v) if isinstance(v, str) else v
    if t == "TIME":
        return lambda v: dt.time.fromisoformat(v) if isinstance(v, str) else v
    if t == "DATETIME":
        return lambda v: dt.datetime.fromisoformat(v) if isinstance(v, str) else v
    if t in ("BIT", "BOOLEAN"):
        return lambda v: bool(v)
    return None


def _py_type(v: object) -> api.Column:
    if isinstance(v, bool):
        return api.Column("", "BIT", 1)
    if isinstance(v, int):
        return api.Column("", "BIGINT", 8)
    if isinstance(v, float):
        return api.Column("", "DOUBLE", 8)
    if isinstance(v, bytes):
        return api.Column("", "VARBINARY", 8188)
    return api.Column("", "VARCHAR", 8188)


class FakeDb:
    """One SQLite file plus the DM type catalog, shared by all sessions of a FakeServer."""

    def __init__(self, path: str):
        self.path = path
        self.catalog: dict[str, dict[str, api.Column]] = {}
        self.lock = threading.Lock()
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS DUAL(DUMMY)")
        con.execute("INSERT INTO DUAL SELECT 'X' WHERE NOT EXISTS (SELECT 1 FROM DUAL)")
        con.commit()
        con.close()
        self.catalog["DUAL"] = {"DUMMY": api.Column("DUMMY", "VARCHAR", 1)}

    def table(self, name: str) -> dict[str, api.Column]:
        return self.catalog.get(name.upper(), {})


class FakeSession:
    """api.Session over one SQLite connection (autocommit handled like DM: per statement flag)."""

    def __init__(self, db: FakeDb, user: str):
        self.db = db
        self.user = user
        self.autocommit = True
        self.con = sqlite3.connect(db.path, isolation_level=None, check_same_thread=False, timeout=10)
        self.executed: list[tuple[str, tuple]] = []

    # ------------------------------------------------------------------ api.Session
    def execute(self, sql: str, params: Sequence | None = None) -> api.Result:
        params = tuple(_to_sqlite(p) for p in (params or ()))
        self.executed.append((sql, params))
        m = _CREATE.match(sql)
        if m:
            return self._create(m.group(1), m.group(2))
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        is_query = head in ("SELECT", "WITH")
        if not is_query and not self.autocommit and not self.con.in_transaction:
            self.con.execute("BEGIN")
        cur = self._run(sql, params)
        if is_query:
            columns, first = self._typed(sql, cur)
            rows = itertools.chain([first], cur) if first is not None else iter(())
            return api.Result("select", columns, self._rows(rows, columns))
        rowcount = max(cur.rowcount, 0)
        if self.autocommit and self.con.in_transaction:
            self.con.execute("COMMIT")
        return api.Result("dml" if head in ("INSERT", "UPDATE", "DELETE", "MERGE") else "ddl", rowcount=rowcount)

    def describe(self, sql: str) -> tuple[list[api.Column], list[api.Column]]:
        nparams = _count_params(sql)
        params = self._param_columns(sql, nparams)
        if sql.lstrip().split(None, 1)[0].upper() not in ("SELECT", "WITH"):
            return params, []
        cur = self._run(sql, (None,) * nparams)
        cols, _ = self._typed(sql, cur)
        cur.close()
        return params, cols

    def commit(self) -> None:
        if self.con.in_transaction:
            self.con.execute("COMMIT")

    def rollback(self) -> None:
        if self.con.in_transaction:
            self.con.execute("ROLLBACK")

    def close(self) -> None:
        self.rollback()
        self.con.close()

    # ------------------------------------------------------------------ helpers
    def _run(self, sql: str, params: tuple) -> sqlite3.Cursor:
        try:
            return self.con.execute(sql, params)
        except sqlite3.Error as e:
            text = str(e)
            if "no such table" in text:
                name = text.rsplit(":", 1)[-1].strip().upper()
                raise DmError(-2106, lang.msg("-2106", name=name)) from None
            if "UNIQUE" in text or "constraint" in text:
                raise DmError(-6602, f"违反唯一性约束: {text}") from None
            raise DmError(-2007, f"{lang.msg('-2007')}: {text}") from None

    def _create(self, name: str, body: str) -> api.Result:
        cols: dict[str, api.Column] = {}
        for part in _split_defs(body):
            m = _COLDEF.match(part)
            if not m or m.group(1).upper() in ("PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK", "FOREIGN"):
                continue
            cname, tname = m.group(1).upper(), " ".join(m.group(2).upper().split())
            tname = _ALIASES.get(tname, tname)
            prec = int(m.group(3)) if m.group(3) else {"VARCHAR": 8188, "CHAR": 1, "DECIMAL": 0}.get(tname, 0)
            scale = int(m.group(4)) if m.group(4) else (6 if tname in ("DATETIME", "TIME") else 0)
            cols[cname] = api.Column(cname, tname, prec, scale, "NOT NULL" not in m.group(5).upper())
        tail = ", ".join(f'"{c}"' for c in cols)
        try:
            self.con.execute(f"CREATE TABLE {name} ({tail})")
        except sqlite3.Error as e:
            raise DmError(-2124, f"对象[{name.upper()}]已存在: {e}") from None
        self.db.catalog[name.upper()] = cols
        return api.Result("ddl")

    def _param_columns(self, sql: str, n: int) -> list[api.Column]:
        out = [api.Column("", "VARCHAR", 8188)] * n
        m = _INSERT.match(sql)
        if m:
            table = self.db.table(m.group(1))
            names = [c.strip().upper() for c in m.group(2).split(",")] if m.group(2) else list(table)
            typed = [table.get(c, api.Column("", "VARCHAR", 8188)) for c in names]
            return (typed + out)[:n]
        tables = [self.db.table(t) for t in _FROM.findall(sql)] or [{}]
        found = []
        for col in _WHERE_PARAM.findall(sql):
            found.append(next((t[col.upper()] for t in tables if col.upper() in t), api.Column("", "VARCHAR", 8188)))
        return (found + out)[:n]

    def _columns(self, sql: str, cur: sqlite3.Cursor) -> list[api.Column]:
        tables = [self.db.table(t) for t in _FROM.findall(sql)]
        cols = []
        for d in cur.description or ():
            name = d[0].upper()
            col = next((t[name] for t in tables if name in t), None)
            cols.append(api.Column(name, col.type, col.precision, col.scale, col.nullable) if col
                        else api.Column(name, "VARCHAR", -1))      # -1: type it from the data
        return cols

    def _typed(self, sql: str, cur: sqlite3.Cursor) -> tuple[list[api.Column], tuple | None]:
        """Columns typed from the catalog; expressions typed from the first row's values."""
        columns = self._columns(sql, cur)
        first = cur.fetchone()
        if first is not None:
            for i, c in enumerate(columns):
                if c.precision == -1 and first[i] is not None:
                    t = _py_type(first[i])
                    columns[i] = api.Column(c.name, t.type, t.precision)
        columns = [api.Column(c.name, c.type, 8188) if c.precision == -1 else c for c in columns]
        return columns, first

    def _rows(self, rows: Iterator[tuple], columns: list[api.Column]) -> Iterator[tuple]:
        convs = [_from_sqlite(c) for c in columns]
        if not any(convs):
            return rows
        return self._convert(rows, convs)

    def _convert(self, rows: Iterator[tuple], convs: list) -> Iterator[tuple]:
        for row in rows:
            yield tuple(None if v is None else (f(v) if f else v) for f, v in zip(convs, row, strict=True))


def _count_params(sql: str) -> int:
    return len(re.findall(r"\?", re.sub(r"'(?:[^']|'')*'", "", sql)))


def _split_defs(body: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


class FakeServer:
    """api.Server over FakeDb; `mode`/`stat` are what wire_status() reports (names from api)."""

    server_version = SERVER_VERSION
    instance_name = "DMEMU"
    db_name = "DAMENG"

    def __init__(self, path: str, users: dict[str, str] | None = None, mode: str = "NORMAL", stat: str = "OPEN"):
        self.db = FakeDb(path)
        self.users = users or {"SYSDBA": "Dmsys_123"}
        self.mode = mode
        self.stat = stat
        self.logins: list[tuple[str, dict]] = []
        self.sessions: list[FakeSession] = []

    def login(self, user: str, password: str, client: dict) -> FakeSession:
        self.logins.append((user, client))
        if self.users.get(user.upper()) != password:
            raise DmError(-2501, lang.msg("-2501"))
        s = FakeSession(self.db, user.upper())
        self.sessions.append(s)
        return s

    def wire_status(self) -> tuple[int, int]:
        return api.SVR_MODE[self.mode], api.SVR_STAT[self.stat]


# ---------------------------------------------------------------------- pytest helpers

DRIVERS = ("dmPython", "dmpy")
PASSWORD = "Dmsys_123"


def start_wire(fake: FakeServer):
    """serve() a FakeServer on a free loopback port (caller closes it)."""
    from dmemu import wire
    return wire.serve(fake, "127.0.0.1", 0)


def connect(driver: str, port: int, user: str = "SYSDBA", password: str = PASSWORD, autocommit: bool = True):
    """Open a DB-API connection with the named driver (official dmPython or dm-pure)."""
    if driver == "dmPython":
        import dmPython
        return dmPython.connect(user=user, password=password, server="127.0.0.1", port=port,
                                autoCommit=autocommit)
    import dmpy
    conn = dmpy.connect(host="127.0.0.1", port=port, user=user, password=password)
    conn.autocommit = autocommit
    return conn


def error_code(exc: BaseException) -> int:
    """The DM error code carried by either driver's exception."""
    if exc.args and hasattr(exc.args[0], "code"):          # dmPython: DatabaseError(DmError)
        return exc.args[0].code
    m = re.search(r"CODE:(-?\d+)", str(exc))
    if m:
        return int(m.group(1))
    raise AssertionError(f"no DM code in {exc!r}")
