"""The SQL engine: DM8 SQL over one SQLite file (see emulator/ARCHITECTURE.md, "sql.engine contract").

- One SQLite connection per session (WAL: readers never block; writers serialise on SQLite's write
  lock, taken with BEGIN IMMEDIATE at a transaction's first write and waited for up to LOCK_WAIT s).
- synchronous=FULL by default: a COMMIT that returned survives kill -9 and power loss. The instance
  opens it with synchronous=NORMAL (WAL: no fsync per commit) because its online redo log, fsynced
  before COMMIT, is the durability point and start-up replays what SQLite lost (see instance.py).
- Writers wait for SQLite's write lock on a condition signalled when a write transaction ends (not in
  SQLite's busy handler, which sleeps up to 100 ms per attempt and starves waiters under load).
- Autocommit by default; DDL commits the open transaction first and then commits itself.
- Every committed write transaction hands its redo ops (format in redo.py) to hooks.before_commit
  inside the SQLite transaction; the returned lsn_hi is stored in DM$META in that same transaction.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from itertools import chain

from ..api import Column, Result
from ..errors import DmError, err
from . import functions, views
from . import messages as M
from .catalog import Catalog, hash_password, init_schema
from .errmap import map_error
from .lexer import Tok, quote, tokenize
from .redo import Capture, apply_ops
from .translate import Context, Translated, Translator
from .types import converter, infer_column, int_value, register_adapters

LOCK_WAIT = 60.0          # seconds a writer waits for another writer's transaction
EAGER_ROWS = 100_000      # results up to this size are materialised at execute time

register_adapters()

_DDL_HEADS = {"CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "RENAME"}
_NUM_TYPES = {"INT", "BIGINT", "SMALLINT", "TINYINT", "BIT", "DECIMAL", "DOUBLE", "REAL"}


def _connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=LOCK_WAIT)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA cache_size=-131072")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on the database's own connection; ROLLBACK if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Database:
    """One DM database held in one SQLite file (SYSTEM.DBF)."""

    def __init__(self, path: str, case_sensitive: bool = False, hooks: object | None = None,
                 synchronous: str = "FULL"):
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = path
        self.case_sensitive = case_sensitive
        self.hooks = hooks
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._seq_lock = threading.Lock()
        self._wcond = threading.Condition()      # signalled when a session's write transaction ends
        self._wgen = 0
        self._conn = _connect(path, synchronous)
        functions.register(self._conn, self)     # apply may evaluate CHECK/DEFAULT expressions using them
        with _immediate(self._conn):
            init_schema(self._conn, _dt.datetime.now().replace(microsecond=0).isoformat(sep=" "))
        self._cur_lsn = int(self._conn.execute("SELECT V FROM DM$META WHERE K='cur_lsn'").fetchone()[0])
        self.catalog = Catalog(self._conn)
        self.version = 0
        self._seqvals: dict[int, int] = dict(self._conn.execute("SELECT ID, VAL FROM DM$SEQ").fetchall())
        self._sessions: set[SqlSession] = set()

    # ---- contract ---------------------------------------------------------------------------
    @property
    def cur_lsn(self) -> int:
        return self._cur_lsn

    def session(self, user: str = "SYSDBA") -> SqlSession:
        s = SqlSession(self, user.upper())
        with self._lock:
            self._sessions.add(s)
        return s

    def apply(self, ops, lsn_hi: int) -> None:
        """Apply redo ops from another database (standby apply / recovery) atomically; idempotent by LSN."""
        with self._lock:
            if int(lsn_hi) <= self._cur_lsn:
                return
            c = self._conn
            with _immediate(c):
                ddl = apply_ops(c, ops, on_seq=self._seq_applied)
                c.execute("UPDATE DM$META SET V=? WHERE K='cur_lsn'", (int(lsn_hi),))
            self._cur_lsn = int(lsn_hi)
            if ddl:
                self.reload_catalog()
                with self._seq_lock:
                    self._seqvals = dict(c.execute("SELECT ID, VAL FROM DM$SEQ").fetchall())

    def create_user(self, name: str, password: str, tablespace: str = "MAIN") -> None:
        """Create (or reset the password of) a user outside any session; not replicated (dminit time)."""
        with self._lock:
            name = name.upper()
            c = self._conn
            with _immediate(c):
                row = c.execute("SELECT NAME FROM DM$USERS WHERE NAME=?", (name,)).fetchone()
                if row:
                    c.execute("UPDATE DM$USERS SET PWD=? WHERE NAME=?", (hash_password(password), name))
                else:
                    uid = c.execute("SELECT MAX(ID) + 1 FROM DM$USERS").fetchone()[0]
                    c.execute("INSERT INTO DM$USERS VALUES (?, ?, ?, ?, ?, 0)",
                              (name, hash_password(password), tablespace.upper(), uid, _now_text()))
            self.reload_catalog()

    set_password = create_user

    def check_password(self, user: str, pwd: str) -> bool:
        u = self.catalog.users.get(user.upper())
        return u is not None and not u.locked and u.pwd == hash_password(pwd)

    def reload_catalog(self) -> None:
        with self._lock:
            self.catalog = Catalog(self._conn)
            self.version += 1

    def close(self) -> None:
        """Close every session, then the database connection.

        Lock order is always session lock -> database lock (SqlSession.close takes them that way),
        so sessions are closed outside the database lock; holding it here deadlocked a shutdown."""
        while True:
            with self._lock:
                sessions = list(self._sessions)
                if not sessions:                  # none left (also those opened meanwhile)
                    self._conn.close()
                    return
            for s in sessions:
                s.close()

    # ---- writer hand-off -----------------------------------------------------------------------
    def begin_write(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE on a session connection, waiting up to LOCK_WAIT s for another writer.

        Each attempt does not wait inside SQLite (busy_timeout 0); a busy attempt waits on `_wcond`
        until a write transaction ends (write_done), so the lock passes on at once."""
        deadline = time.monotonic() + LOCK_WAIT
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                gen = self._wgen
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                with self._wcond:
                    if gen == self._wgen:                # nobody finished since our attempt: wait
                        self._wcond.wait(min(left, 0.05))   # bounded: other processes do not signal
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")

    def write_done(self) -> None:
        """A write transaction ended (COMMIT or ROLLBACK): wake writers waiting in begin_write."""
        with self._wcond:
            self._wgen += 1
            self._wcond.notify_all()

    def sync(self) -> None:
        """fsync the database and its WAL: everything committed so far survives power loss
        (with synchronous=NORMAL, called before the redo that covers it is discarded)."""
        for p in (self.path, self.path + "-wal"):
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # ---- sequences ---------------------------------------------------------------------------
    def seq_next(self, sid: int) -> int:
        o = self.catalog.objs.get(sid)
        if o is None:
            raise err(M.NO_SEQ, "no_seq", name=str(sid))
        info = o.info
        with self._seq_lock:
            cur = self._seqvals.get(sid)
            v = info["start"] if cur is None else cur + info["inc"]
            if (info["inc"] > 0 and v > info["max"]) or (info["inc"] < 0 and v < info["min"]):
                if not info["cycle"]:
                    raise err(-3117, "sql_error", detail=f"sequence {o.name} exceeds MAXVALUE")
                v = info["min"] if info["inc"] > 0 else info["max"]
            self._seqvals[sid] = v
            return v

    # SQL functions on the internal (apply) connection
    def nextval(self, sid: int) -> int:
        return self.seq_next(int(sid))

    def currval(self, sid: int) -> int:
        raise err(-2119, "no_curr", name=str(sid))

    def sysfn(self, name: str):
        fn = getattr(self.hooks, "system_view", None)
        data = fn(str(name)) if fn is not None else None
        if not data or not data[1]:
            raise err(M.NO_FUNC, "no_func", name=name)
        return _plain(data[1][0][0])

    def seq_value(self, sid: int) -> int | None:
        return self._seqvals.get(sid)

    def _seq_applied(self, sid: int, v: int) -> None:
        with self._seq_lock:
            self._seqvals[sid] = v

    def seq_forget(self, sid: int) -> None:
        with self._seq_lock:
            self._seqvals.pop(sid, None)


def _now_text() -> str:
    return _dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


class SqlSession:
    """One session: its own SQLite connection, current schema, open transaction and redo capture."""

    def __init__(self, db: Database, user: str):
        self.db = db
        self.user = user
        self.schema = user
        self.autocommit = True
        self._lock = threading.RLock()
        self.conn = _connect(db.path, db.synchronous)
        functions.register(self.conn, self)
        self.in_txn = False
        self.cap = Capture()
        self._ddl = False
        self._currval: dict[int, int] = {}
        self._seq_dirty: set[int] = set()
        self._virt_version: dict[str, int] = {}
        self._virt_cols: dict[str, list[Column]] = {}
        self._udf_error: DmError | None = None
        self._closed = False
        self._temp_delete: set[str] = set()      # temporary tables with ON COMMIT DELETE ROWS copied here

    # ---- contract -----------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence | None = None) -> Result:
        with self._lock:
            if self._closed:
                raise DmError(-6001, "session closed")
            h = getattr(self.db.hooks, "statement", None)
            if h is not None:
                r = h(sql, self)
                if r is not None:
                    return r
            toks = tokenize(sql, not self.db.case_sensitive)
            while toks and toks[-1].text in (";", "/"):
                toks.pop()
            if not toks:
                raise err(M.SYNTAX, "-2007")
            head = toks[0].up
            self._udf_error = None
            try:
                return self._dispatch(head, toks, params, sql)
            except sqlite3.Error as e:
                if self._udf_error is not None:
                    raise self._udf_error from None
                raise map_error(e) from None

    def describe(self, sql: str) -> tuple[list[Column], list[Column]]:
        """(parameter columns, result columns) without running DML."""
        with self._lock:
            toks = tokenize(sql, not self.db.case_sensitive)
            while toks and toks[-1].text == ";":
                toks.pop()
            if not toks:
                raise err(M.SYNTAX, "-2007")
            head = toks[0].up
            if head not in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
                return [], []
            tr = self._translate(toks, name_columns=head in ("SELECT", "WITH"))
            pcols = self._param_columns(toks, tr)
            if head not in ("SELECT", "WITH"):
                return pcols, []
            self._materialize(tr.virtuals)
            try:
                cur = self.conn.execute(f"SELECT * FROM ({tr.sql}) LIMIT 0", [None] * tr.nparams)
            except sqlite3.Error as e:
                raise map_error(e) from None
            names = [d[0] for d in cur.description]
            return pcols, self._columns(names, tr.sources, [])

    def commit(self) -> None:
        with self._lock:
            self._commit()

    def _rollback_txn(self) -> bool:
        """Roll back the open SQLite transaction (if any), hand the writer slot back, drop its capture."""
        if not self.in_txn:
            return False
        try:
            self.conn.execute("ROLLBACK")
        finally:
            self.in_txn = False                   # the writer slot goes back whatever ROLLBACK did
            self.db.write_done()
        self.cap = Capture()
        self._clear_temp_rows()
        return True

    def rollback(self) -> None:
        with self._lock:
            if self._rollback_txn():
                self._virt_version.clear()
            if self._seq_dirty:                   # sequences are not transactional in DM
                self._commit()

    def close(self) -> None:
        """Roll back any open transaction and close; takes the session lock, then (released
        first) the database lock — never the other way round (see Database.close)."""
        with self._lock:
            if self._closed:
                return
            try:
                self._rollback_txn()
            finally:
                self._closed = True
                self.conn.close()
        with self.db._lock:
            self.db._sessions.discard(self)

    # ---- dispatch -------------------------------------------------------------------------
    def _dispatch(self, head: str, toks: list[Tok], params, sql: str) -> Result:
        if head in ("SELECT", "WITH") or (head == "(" and len(toks) > 1 and toks[1].is_("SELECT")):
            return self._query(toks, params)
        if head in ("INSERT", "UPDATE", "DELETE"):
            return self._dml(head, toks, params)
        if head == "DECLARE" or (head == "BEGIN" and len(toks) > 1 and not toks[1].is_("TRAN", "TRANSACTION", "WORK")):
            from .plsql import execute as run_block
            return run_block(self, toks)
        if head == "MERGE":
            from .merge import execute as merge
            return merge(self, toks, params)
        if head == "COMMIT":
            self._commit()
            return Result("other")
        if head == "ROLLBACK":
            self.rollback()
            return Result("other")
        if head in _DDL_HEADS:
            from .ddl import execute_ddl
            return execute_ddl(self, toks, sql)
        if head == "SET" and len(toks) >= 3 and toks[1].is_("SCHEMA"):
            name = toks[2].name
            if name not in self.db.catalog.schemas():
                raise err(M.NO_SCHEMA, "no_schema", name=name)
            self.schema = name
            return Result("other")
        if head == "SET" and len(toks) >= 2 and toks[1].is_("TRANSACTION", "AUTOCOMMIT", "IDENTITY_INSERT"):
            if toks[1].is_("AUTOCOMMIT") and len(toks) > 2:
                self.autocommit = toks[2].is_("ON", "TRUE") or toks[2].text == "1"
            return Result("other")
        if head == "BEGIN" and len(toks) == 1:
            return Result("other")
        raise err(M.SYNTAX, "sql_unsupported", what=" ".join(t.text for t in toks[:3]))

    # ---- translation & typing -----------------------------------------------------------------
    def _ctx(self) -> Context:
        return Context(self.db.catalog, self.schema, self.user, self._is_virtual, not self.db.case_sensitive)

    def _is_virtual(self, name: str) -> bool:
        if name in views.PROVIDERS:
            return True
        if name.startswith("V$"):
            return self._system_view(name) is not None
        return False

    def _system_view(self, name: str):
        fn = getattr(self.db.hooks, "system_view", None)
        return fn(name) if fn is not None else None

    def _translate(self, toks: list[Tok], name_columns: bool = True) -> Translated:
        return Translator(self._ctx()).run(toks, name_columns=name_columns)

    def _virtual_data(self, name: str) -> tuple[list[Column], list[tuple]]:
        if name in views.PROVIDERS:
            return views.PROVIDERS[name](self.db.catalog, self.user)
        data = self._system_view(name)
        if data is None:
            raise err(M.NO_TABLE, "-2106", name=name)
        cols, rows = data
        return list(cols), list(rows)

    def _materialize(self, names: set[str]) -> None:
        """Load dictionary / V$ views into this session's TEMP tables (V$ every time, others per catalog version)."""
        for name in names:
            if not name.startswith("V$") and self._virt_version.get(name) == self.db.version:
                continue
            cols, rows = self._virtual_data(name)
            q = "temp." + quote(name)
            self.conn.execute(f"DROP TABLE IF EXISTS {q}")
            self.conn.execute(f"CREATE TEMP TABLE {quote(name)} ({', '.join(quote(c.name) for c in cols)})")
            if rows:
                self.conn.executemany(f"INSERT INTO {q} VALUES ({', '.join('?' * len(cols))})",
                                      [tuple(_plain(v) for v in r) for r in rows])
            self._virt_version[name] = self.db.version
            self._virt_cols[name] = cols

    def _columns(self, names: list[str], sources, rows: list[tuple]) -> list[Column]:
        known: dict[str, Column] = {}
        vcols = self._virt_cols
        for _, cols in sources:
            for c in cols:
                if c.name.startswith("$VIRTUAL:"):
                    for vc in vcols.get(c.name[9:], []):
                        known.setdefault(vc.name.upper(), vc)
                else:
                    known.setdefault(c.name.upper(), c)
        out = []
        for i, n in enumerate(names):
            sample = next((r[i] for r in rows if r[i] is not None), None)
            c = known.get(n.upper())
            if c is not None and _compatible(c, sample):
                out.append(Column(n, c.type, c.precision, c.scale, c.nullable))
            elif n.upper().startswith("COUNT("):
                out.append(Column(n, "BIGINT", 19))
            else:
                out.append(infer_column(n, sample))
        return out

    def _param_columns(self, toks: list[Tok], tr: Translated) -> list[Column]:
        cols = [Column(f"P{i + 1}", "VARCHAR", 8188) for i in range(tr.nparams)]
        if tr.target is not None and toks[0].is_("INSERT"):
            # INSERT INTO t [(c1, ...)] VALUES (?, ...): type parameters after the target columns
            names = [c.name for c in tr.target.columns]
            k = next((i for i, t in enumerate(toks) if t.is_("VALUES")), None)
            lp = next((i for i, t in enumerate(toks) if t.text == "("), None)
            if lp is not None and k is not None and lp < k:
                names = [t.name for t in toks[lp + 1:k] if t.kind in ("id", "qid")]
            if k is not None:
                vals = [t for t in toks[k:] if t.kind in ("param", "num", "str") or t.is_("NULL")]
                p = 0
                for idx, t in enumerate(vals):
                    if t.kind == "param" and idx < len(names) and p < len(cols):
                        mc = tr.target.col(names[idx])
                        if mc is not None:
                            cols[p] = mc.type.column(f"P{p + 1}", mc.nullable)
                    if t.kind == "param":
                        p += 1
        return cols

    # ---- queries ---------------------------------------------------------------------------------
    def _params(self, params, n: int) -> list:
        p = list(params) if params is not None else []
        if len(p) != n:
            raise DmError(-70010 if p else -2007, f"bind count mismatch: {n} parameters, {len(p)} values")
        return p

    def _query(self, toks: list[Tok], params) -> Result:
        tr = self._translate(toks)
        self._materialize(tr.virtuals)
        try:
            cur = self.conn.execute(tr.sql, self._params(params, tr.nparams))
            first = cur.fetchmany(EAGER_ROWS)
        except sqlite3.OperationalError as e:
            if "integer overflow" not in str(e):
                raise
            tr = Translator(self._ctx(), big_sum=True).run(toks)
            cur = self.conn.execute(tr.sql, self._params(params, tr.nparams))
            first = cur.fetchmany(EAGER_ROWS)
        names = [d[0] for d in cur.description]
        cols = self._columns(names, tr.sources, first[:200])
        convs = [converter(c) for c in cols]
        if any(convs):
            first = _conv_batch(first, convs)
        if self._seq_dirty and not self.in_txn:
            self._commit()
        if len(first) < EAGER_ROWS:
            return Result("select", cols, first, rowcount=len(first))
        return Result("select", cols, chain(first, _rest(cur, convs)), rowcount=-1)

    # ---- DML -----------------------------------------------------------------------------------
    def _begin(self) -> None:
        if not self.in_txn:
            self.db.begin_write(self.conn)
            self.in_txn = True
            self.cap = Capture()

    def _guard(self, kind: str, name: str) -> None:
        g = getattr(self.db.hooks, "write_guard", None)
        if g is not None:
            g(kind, name)

    def _dml(self, head: str, toks: list[Tok], params) -> Result:
        tr = self._translate(toks, name_columns=False)
        t = tr.target
        if t is None:
            raise err(M.SYNTAX, "-2007")
        temp = t.info.get("temp") is not None
        self._guard("temp" if temp else "dml", t.phys)
        self._materialize(tr.virtuals)
        p = self._params(params, tr.nparams)
        if temp:
            return self._temp_dml(t, tr.sql, p)
        cols = tuple(c.name for c in t.columns)
        self._begin()
        c = self.conn
        with self._statement():
            if head == "INSERT" and t.identity is None:
                before = c.execute(f"SELECT max(rowid) FROM {quote(t.phys)}").fetchone()[0] or 0
                n = c.execute(tr.sql, p).rowcount
                after = c.execute(f"SELECT max(rowid) FROM {quote(t.phys)}").fetchone()[0] or 0
                self.cap.inserted_range(t.phys, cols, before + 1, after)
            elif head == "DELETE" and not any(x.is_("WHERE") for x in toks):
                n = c.execute(tr.sql, p).rowcount
                self.cap.cleared_table(t.phys, cols)
            elif head == "UPDATE" and not any(x.is_("WHERE") for x in toks):
                # every row changes: ship the table as "delete all + all images" (no rowid list in memory)
                n = c.execute(tr.sql, p).rowcount
                lo, hi = c.execute(f"SELECT min(rowid), max(rowid) FROM {quote(t.phys)}").fetchone()
                self.cap.cleared_table(t.phys, cols)
                if lo is not None:
                    self.cap.inserted_range(t.phys, cols, lo, hi)
            else:
                ids = [r[0] for r in c.execute(tr.sql + " RETURNING rowid", p).fetchall()]
                n = len(ids)
                if head == "INSERT":
                    self.cap.inserted_rowids(t.phys, cols, ids)
                else:
                    self.cap.touched_rowids(t.phys, cols, ids)
        if self.autocommit:
            self._commit()
        return Result("dml", rowcount=max(n, 0))

    @contextlib.contextmanager
    def _statement(self) -> Iterator[None]:
        """Statement-level atomicity inside the transaction: a failing statement is undone alone."""
        c = self.conn
        c.execute("SAVEPOINT dm_stmt")
        try:
            yield
        except BaseException:
            c.execute("ROLLBACK TO dm_stmt")
            c.execute("RELEASE dm_stmt")
            raise
        c.execute("RELEASE dm_stmt")

    def _temp_dml(self, t, sql: str, params: list) -> Result:
        """DML on a global temporary table. Its rows live in this session's SQLite TEMP copy of the table
        (same name, so unqualified references resolve to it): private to the session, no redo, no writer
        lock (DM: temp tablespace changes generate no redo, which is why a STANDBY allows them)."""
        c = self.conn
        if c.execute("SELECT 1 FROM temp.sqlite_master WHERE type='table' AND name=?", (t.phys,)).fetchone() is None:
            ddl = c.execute("SELECT sql FROM main.sqlite_master WHERE type='table' AND name=?", (t.phys,)).fetchone()
            if ddl is None:
                raise err(M.NO_TABLE, "-2106", name=t.name)
            c.execute(re.sub(r"^\s*CREATE\s+TABLE", "CREATE TEMP TABLE", ddl[0], count=1, flags=re.I))
            if t.info["temp"] == "DELETE":
                self._temp_delete.add(t.phys)
        if not self.in_txn:
            c.execute("BEGIN")                   # deferred: touches only the TEMP schema
            self.in_txn = True
            self.cap = Capture()
        with self._statement():
            n = c.execute(sql, params).rowcount
        if self.autocommit:
            self._commit()
        return Result("dml", rowcount=max(n, 0))

    def _clear_temp_rows(self) -> None:
        """ON COMMIT DELETE ROWS: a transaction's end empties this session's copies of such tables."""
        for phys in list(self._temp_delete):
            try:
                self.conn.execute(f"DELETE FROM temp.{quote(phys)}")
            except sqlite3.OperationalError:
                self._temp_delete.discard(phys)  # the copy went with a rolled-back transaction or a DDL

    # ---- DDL support (used by ddl.py) ----------------------------------------------------------
    def ddl_begin(self, name: str) -> None:
        """Commit open work (DM: DDL commits), check the write guard, start the DDL transaction.
        A session's TEMP copy of a temporary table is dropped first, so the DDL acts on the table itself."""
        self._commit()
        self._guard("ddl", name)
        if "." in name:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{quote(name)}")
        self._begin()
        self._ddl = True

    def x(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        """Run one physical DDL/catalog statement and record it for redo."""
        cur = self.conn.execute(sql, tuple(params))
        self.cap.add_ddl(sql, tuple(params))
        return cur

    def ddl_end(self) -> None:
        self._commit()

    def ddl_abort(self) -> None:
        self._rollback_txn()
        self._ddl = False

    def run_insert_select(self, target, select_sql: str, params: list) -> int:
        """INSERT INTO target SELECT ... inside the open transaction, captured like _dml."""
        cols = tuple(c.name for c in target.columns)
        names = ", ".join(quote(c) for c in cols)
        before = self.conn.execute(f"SELECT max(rowid) FROM {quote(target.phys)}").fetchone()[0] or 0
        n = self.conn.execute(f"INSERT INTO {quote(target.phys)} ({names}) {select_sql}", params).rowcount
        after = self.conn.execute(f"SELECT max(rowid) FROM {quote(target.phys)}").fetchone()[0] or 0
        self.cap.inserted_range(target.phys, cols, before + 1, after)
        return n

    # ---- commit ---------------------------------------------------------------------------------
    def _commit(self) -> None:
        if self._seq_dirty:
            if not self.in_txn:
                self.db.begin_write(self.conn)
                self.in_txn = True
                self.cap = Capture()
            for sid in sorted(self._seq_dirty):
                v = self.db.seq_value(sid)
                if v is not None:
                    self.conn.execute("INSERT OR REPLACE INTO DM$SEQ (ID, VAL) VALUES (?, ?)", (sid, v))
                    self.cap.seqs[sid] = v
            self._seq_dirty.clear()
        if not self.in_txn:
            return
        ddl = self._ddl
        lsn = None
        try:
            if self.cap:
                ops = self.cap.ops(self.conn)
                hook = getattr(self.db.hooks, "before_commit", None)
                lsn = int(hook(ops)) if hook is not None else self.db.cur_lsn + 1
                self.conn.execute("UPDATE DM$META SET V=? WHERE K='cur_lsn'", (lsn,))
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self.in_txn = False
            self.cap = Capture()
            self._ddl = False
            self.db.write_done()
        self._clear_temp_rows()
        if lsn is not None:
            self.db._cur_lsn = max(self.db._cur_lsn, lsn)
            after = getattr(self.db.hooks, "after_commit", None)
            if after is not None:
                after(lsn)
        if ddl:
            self.db.reload_catalog()

    # ---- functions called from SQL ------------------------------------------------------------------
    def _udf_fail(self, e: DmError) -> DmError:
        """Remember a DmError raised inside an SQL function (SQLite only reports a generic failure)."""
        self._udf_error = e
        return e

    def nextval(self, sid: int) -> int:
        try:
            v = self.db.seq_next(int(sid))
        except DmError as e:
            raise self._udf_fail(e) from None
        self._currval[int(sid)] = v
        self._seq_dirty.add(int(sid))
        return v

    def currval(self, sid: int) -> int:
        sid = int(sid)
        if sid not in self._currval:
            o = self.db.catalog.objs.get(sid)
            raise self._udf_fail(err(-2119, "no_curr", name=o.name if o else str(sid)))
        return self._currval[sid]

    def sysfn(self, name: str):
        data = self._system_view(str(name))
        if not data or not data[1]:
            raise self._udf_fail(err(M.NO_FUNC, "no_func", name=name))
        return _plain(data[1][0][0])


def _plain(v):
    if isinstance(v, (_dt.datetime,)):
        return v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    if v is not None and not isinstance(v, (int, float, str, bytes)):
        return str(v)
    return v


def _compatible(c: Column, sample) -> bool:
    if sample is None:
        return True
    if c.type in _NUM_TYPES:
        return isinstance(sample, (int, float))
    if c.type in ("BLOB", "BINARY", "VARBINARY"):
        return isinstance(sample, bytes)
    return isinstance(sample, str)


def _conv_batch(rows: list[tuple], convs) -> list[tuple]:
    """Convert a batch of SQLite rows column by column (C-level map/zip instead of per-value Python).

    Integer columns only change when SQLite returned a float, so they are converted only then."""
    if not rows:
        return rows
    cols = list(zip(*rows, strict=True))
    changed = False
    for i, f in enumerate(convs):
        if f is None:
            continue
        if f is int_value and float not in set(map(type, cols[i])):
            continue
        cols[i] = tuple(map(f, cols[i]))              # every converter passes None through
        changed = True
    return list(zip(*cols, strict=True)) if changed else rows


def _rest(cur: sqlite3.Cursor, convs) -> Iterator[tuple]:
    conv = any(convs)
    while True:
        batch = cur.fetchmany(10_000)
        if not batch:
            return
        yield from (_conv_batch(batch, convs) if conv else batch)
