"""One engine session (SqlSession): its SQLite connection, current schema, open transaction and redo
capture; dispatches each statement to queries, DML, MERGE, blocks or DDL (see engine.py for the Database)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from itertools import chain

from ..api import Column, Result
from ..errors import DmError, err
from . import functions, views
from . import messages as M
from .engine import Database, _connect
from .errmap import map_error
from .lexer import Tok, quote, tokenize
from .redo import Capture
from .translate import Context, Translated, Translator
from .types import converter, infer_column, int_value, plain

EAGER_ROWS = 100_000      # results up to this size are materialised at execute time

_DDL_HEADS = {"CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "RENAME"}
_NUM_TYPES = {"INT", "BIGINT", "SMALLINT", "TINYINT", "BIT", "DECIMAL", "DOUBLE", "REAL"}


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
                                      [tuple(plain(v) for v in r) for r in rows])
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

    @contextlib.contextmanager
    def ddl(self, name: str) -> Iterator[None]:
        """One DDL transaction: ddl_begin, the body, ddl_end; rolled back when the body raises."""
        self.ddl_begin(name)
        try:
            yield
        except BaseException:
            self.ddl_abort()
            raise
        self.ddl_end()

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
        return plain(data[1][0][0])



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
