"""DDL statements: parse DM syntax, change SQLite objects and the DM$ catalog in one recorded transaction.

Every physical statement goes through SqlSession.x() so the redo "X" op replays it exactly (object ids,
creation times and passwords are literal parameters, never re-evaluated on the standby).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api import Result
from ..errors import err
from . import accounts
from . import messages as M
from .catalog import ColMeta, ObjMeta, insert_obj, next_id
from .ddlcursor import P
from .lexer import Tok, emit, quote, split_top, unquote_str
from .translate import Context, Translator, name_select_items
from .types import DmType, parse_type

if TYPE_CHECKING:
    from .session import SqlSession

_BIG = 9223372036854775807


def execute_ddl(s: SqlSession, toks: list[Tok], sql: str) -> Result:
    """Entry point from SqlSession for CREATE/ALTER/DROP/TRUNCATE/GRANT/REVOKE/COMMENT."""
    p = P(toks)
    head = p.peek().up
    if head == "COMMENT":
        return Result("ddl")
    if head in ("GRANT", "REVOKE"):
        return accounts.grant(s, p, head == "GRANT")
    if head == "TRUNCATE":
        p.need("TRUNCATE")
        p.need("TABLE")
        return _truncate(s, p)
    if head == "CREATE":
        p.need("CREATE")
        if p.take("OR"):
            p.need("REPLACE")
            replace = True
        else:
            replace = False
        temp = p.take("GLOBAL", "LOCAL")
        if temp:
            p.need("TEMPORARY")
        p.take("HUGE")
        if p.take("TABLE"):
            return _create_table(s, p, temp)
        if p.at("UNIQUE", "INDEX", "BITMAP", "CLUSTER"):
            return _create_index(s, p)
        if p.take("VIEW"):
            return _create_view(s, p, replace)
        if p.take("SEQUENCE"):
            return _create_sequence(s, p)
        if p.take("USER"):
            return accounts.create_user(s, p)
        if p.take("SCHEMA"):
            return accounts.create_schema(s, p)
        if p.take("TABLESPACE"):
            return _create_tablespace(s, p)
        if p.take("ROLE"):
            return Result("ddl")
    if head == "ALTER":
        p.need("ALTER")
        if p.take("TABLE"):
            from .alter import alter_table
            return alter_table(s, p)
        if p.take("USER"):
            return accounts.alter_user(s, p)
        if p.take("SEQUENCE", "INDEX", "SESSION", "SYSTEM", "VIEW", "TABLESPACE"):
            return Result("ddl")
    if head == "DROP":
        p.need("DROP")
        from .alter import drop
        return drop(s, p)
    raise err(M.SYNTAX, "sql_unsupported", what=" ".join(t.text for t in toks[:3]))


# ---- tables ------------------------------------------------------------------------------------
def _parse_type(p: P) -> DmType:
    words = [p.ident()]
    while p.at("PRECISION", "VARYING"):
        words.append(p.ident())
    args: list[int] = []
    if p.at("("):
        inner = p.paren()
        for part in split_top(inner):
            txt = emit(part)
            if txt.upper() in ("CHAR", "BYTE") or not txt:
                continue
            try:
                args.append(int(txt.split()[0]))
            except ValueError:
                if txt.split()[0] != "*":
                    raise err(M.SYNTAX, "-2007") from None
    if words[0] == "TIMESTAMP" or words[0] == "TIME":
        while p.at("WITH", "WITHOUT", "LOCAL", "TIME", "ZONE"):
            p.i += 1
    return parse_type(words, args)


def _expr_tokens(p: P) -> list[Tok]:
    """Tokens of a default expression up to the next column constraint keyword or top-level comma."""
    out = []
    while not p.done() and not p.at("NOT", "NULL", "PRIMARY", "UNIQUE", "CHECK", "CONSTRAINT", "REFERENCES",
                                     "IDENTITY", "AUTO_INCREMENT", ","):
        if p.at("("):
            start = p.i
            p.paren()
            out.extend(p.t[start:p.i])
        else:
            out.append(p.peek())
            p.i += 1
    return out


def _column_def(p: P, cons: dict) -> ColMeta:
    name = p.ident()
    typ = _parse_type(p)
    nullable, default, ident = True, None, False
    while not p.done():
        if p.take("CONSTRAINT"):
            p.ident()
            continue
        if p.take("NOT"):
            p.need("NULL")
            nullable = False
        elif p.take("NULL"):
            pass
        elif p.take("DEFAULT"):
            default = emit(_expr_tokens(p))
        elif p.take("IDENTITY"):
            ident = True
            if p.at("("):
                args = [int(emit(a)) for a in split_top(p.paren())]
                cons["ident_seed"] = args[0] if args else 1
        elif p.take("AUTO_INCREMENT"):
            ident = True
        elif p.take("PRIMARY"):
            p.need("KEY")
            cons.setdefault("pk", [name])
            nullable = False
        elif p.take("UNIQUE"):
            cons.setdefault("unique", []).append([name])
        elif p.take("CHECK"):
            cons.setdefault("checks", []).append(emit(p.paren()))
        elif p.take("REFERENCES"):
            p.qname("")
            if p.at("("):
                p.paren()
            while p.take("ON"):
                p.take("DELETE", "UPDATE")
                p.take("CASCADE", "RESTRICT", "NO", "SET")
                p.take("ACTION", "NULL", "DEFAULT")
        else:
            raise err(M.SYNTAX, "-2007")
    if ident:
        nullable = False
    return ColMeta(name, typ, nullable, default, ident)


def _table_constraint(p: P, cons: dict) -> None:
    if p.take("CONSTRAINT"):
        p.ident()
    if p.take("PRIMARY"):
        p.need("KEY")
        cons["pk"] = [t.name for t in p.paren() if t.kind in ("id", "qid")]
    elif p.take("UNIQUE"):
        cons.setdefault("unique", []).append([t.name for t in p.paren() if t.kind in ("id", "qid")])
    elif p.take("CHECK"):
        cons.setdefault("checks", []).append(emit(p.paren()))
    elif p.take("FOREIGN"):
        p.need("KEY")
        p.paren()
        p.need("REFERENCES")
        p.qname("")
        if p.at("("):
            p.paren()
        p.rest()
    else:
        raise err(M.SYNTAX, "-2007")


def _expr_sql(s, text: str) -> str:
    from .lexer import tokenize
    return emit(Translator(s._ctx()).tr(tokenize(text, not s.db.case_sensitive)))


def table_sql(s: SqlSession, phys: str, cols: list[ColMeta], cons: dict) -> str:
    """CREATE TABLE statement (SQLite STRICT) for a DM table definition."""
    parts = []
    for c in cols:
        q = quote(c.name)
        if c.identity:
            parts.append(f"{q} INTEGER PRIMARY KEY AUTOINCREMENT")
            continue
        st = {"INTEGER": "INT", "REAL": "REAL", "TEXT": "TEXT", "BLOB": "BLOB"}[c.type.storage]
        d = f"{q} {st}"
        if not c.nullable:
            d += " NOT NULL"
        if c.default is not None:
            d += f" DEFAULT ({_expr_sql(s, c.default)})"
        if c.type.max_len:
            ln = f"length(CAST({q} AS BLOB))" if st == "TEXT" else f"length({q})"
            d += f" CONSTRAINT {quote('LEN$' + c.name)} CHECK ({ln} <= {c.type.max_len})"
        parts.append(d)
    ident = next((c.name for c in cols if c.identity), None)
    if cons.get("pk") and cons["pk"] != [ident]:
        parts.append(f"PRIMARY KEY ({', '.join(quote(c) for c in cons['pk'])})")
    for u in cons.get("unique", []):
        parts.append(f"UNIQUE ({', '.join(quote(c) for c in u)})")
    for chk in cons.get("checks", []):
        parts.append(f"CHECK ({_expr_sql(s, chk)})")
    return f"CREATE TABLE {quote(phys)} ({', '.join(parts)}) STRICT"


def _tail_options(p: P) -> str | None:
    """Skip storage clauses after a table/index definition; returns TABLESPACE name if given."""
    ts = None
    while not p.done():
        if p.take("TABLESPACE"):
            ts = p.ident()
        elif p.take("STORAGE"):
            for part in split_top(p.paren()):
                words = [t.up for t in part]
                if words and words[0] == "ON" and len(words) > 1:
                    ts = part[1].name
        elif p.at("AS"):
            return ts
        else:
            p.i += 1
    return ts


def _check_new(s, schema: str, name: str) -> None:
    cat = s.db.catalog
    if schema not in cat.schemas():
        raise err(M.NO_SCHEMA, "no_schema", name=schema)
    if cat.table(schema, name) or cat.sequence(schema, name) or cat.index(schema, name):
        raise err(M.EXISTS, "obj_exists", name=f"{schema}.{name}" if schema != s.schema else name)


def _insert_cols(s, tid: int, cols: list[ColMeta]) -> None:
    for i, c in enumerate(cols):
        s.x("INSERT INTO DM$COL (TID, NO, NAME, DECL, NULLABLE, DFLT, IDENT) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tid, i, c.name, c.type.decl, int(c.nullable), c.default, int(c.identity)))


def _on_commit(p: P) -> str:
    """A temporary table's ON COMMIT DELETE|PRESERVE ROWS (DM default DELETE); tokens are not consumed."""
    words = [t.up for t in p.t[p.i:]]
    for i in range(len(words) - 2):
        if words[i:i + 2] == ["ON", "COMMIT"]:
            return "PRESERVE" if words[i + 2] == "PRESERVE" else "DELETE"
    return "DELETE"


def _create_table(s, p: P, temp: bool = False) -> Result:
    if_not = False
    if p.take("IF"):
        p.need("NOT")
        p.need("EXISTS")
        if_not = True
    schema, name = p.qname(s.schema)
    cat = s.db.catalog
    if if_not and cat.table(schema, name):
        return Result("ddl")
    _check_new(s, schema, name)
    cols: list[ColMeta] = []
    cons: dict = {}
    col_names: list[str] | None = None
    if p.at("("):
        inner = p.paren()
        parts = split_top(inner)
        if p.at("AS"):
            col_names = [x[0].name for x in parts]
        else:
            for part in parts:
                q = P(part)
                if q.at("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
                    _table_constraint(q, cons)
                else:
                    cols.append(_column_def(q, cons))
    on_commit = _on_commit(p) if temp else None
    ts = _tail_options(p)
    if p.take("AS"):
        return _ctas(s, schema, name, col_names, p.rest(), ts)
    if not cols:
        raise err(M.SYNTAX, "-2007")
    with s.ddl(f"{schema}.{name}"):
        _make_table(s, schema, name, cols, cons, ts, on_commit)
    return Result("ddl")


def _make_table(s, schema: str, name: str, cols: list[ColMeta], cons: dict, ts: str | None,
                temp: str | None = None) -> ObjMeta:
    """Create the table and its catalog rows; `temp` ("DELETE"|"PRESERVE") makes it a global temporary
    table (definition shared and replicated, rows private to each session: see SqlSession._temp_dml)."""
    oid = next_id(s)
    phys = f"{schema}.{name}"
    s.x(table_sql(s, phys, cols, cons))
    owner = s.db.catalog.users.get(schema)
    info = {"cons": cons, "ts": ts or (owner.ts if owner is not None else "MAIN")}
    if temp:
        info["temp"] = temp
    insert_obj(s, oid, schema, name, "TABLE", None, info)
    _insert_cols(s, oid, cols)
    seed = cons.get("ident_seed")
    if seed is not None and seed > 1:
        s.x("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (phys, seed - 1))
    return ObjMeta(oid, schema, name, "TABLE", None, info, "", cols)


def _ctas(s, schema: str, name: str, col_names: list[str] | None, sel: list[Tok], ts: str | None) -> Result:
    tr = Translator(s._ctx())
    res = tr.run(sel, name_columns=True)
    s._materialize(res.virtuals)
    cur = s.conn.execute(f"SELECT * FROM ({res.sql}) LIMIT 1")
    names = [d[0] for d in cur.description]
    sample = cur.fetchall()
    rcols = s._columns(names, res.sources, sample)
    if col_names:
        if len(col_names) != len(rcols):
            raise err(M.COL_COUNT, "col_count")
        names = col_names
    cols = []
    for n, c in zip(names, rcols, strict=False):
        decl_args = [c.precision] if c.type in ("CHAR", "VARCHAR", "BINARY", "VARBINARY") else []
        if c.type == "DECIMAL":
            decl_args = [c.precision, c.scale] if c.precision else []
        word = {"DECIMAL": "DECIMAL"}.get(c.type, c.type)
        cols.append(ColMeta(n.upper() if n == n.lower() else n, parse_type([word], decl_args), True))
    with s.ddl(f"{schema}.{name}"):
        t = _make_table(s, schema, name, cols, {}, ts)
        n = s.run_insert_select(t, res.sql, [])
    return Result("ddl", rowcount=n)


def _truncate(s, p: P) -> Result:
    schema, name = p.qname(s.schema)
    t = s.db.catalog.table(schema, name)
    if t is None or t.type != "TABLE":
        raise err(M.NO_TABLE, "-2106", name=name)
    with s.ddl(t.phys):
        s.x(f"DELETE FROM {quote(t.phys)}")
    return Result("ddl")


# ---- indexes, views, sequences -----------------------------------------------------------------
def _create_index(s, p: P) -> Result:
    unique = p.take("UNIQUE")
    p.take("BITMAP", "CLUSTER")
    p.need("INDEX")
    schema, name = p.qname(s.schema)
    p.need("ON")
    tschema, tname = p.qname(schema)
    t = s.db.catalog.table(tschema, tname)
    if t is None or t.type != "TABLE":
        raise err(M.NO_TABLE, "-2106", name=tname)
    if s.db.catalog.index(schema, name):
        raise err(M.EXISTS, "obj_exists", name=name)
    cols = []
    for part in split_top(p.paren()):
        c = part[0].name
        if t.col(c) is None:
            raise err(M.NO_COLUMN, "no_column", name=c)
        d = " DESC" if any(x.is_("DESC") for x in part) else ""
        cols.append(quote(c) + d)
    _tail_options(p)
    with s.ddl(t.phys):
        s.x(f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote(schema + '.' + name)} ON {quote(t.phys)} "
            f"({', '.join(cols)})")
        insert_obj(s, next_id(s), schema, name, "INDEX", t.id, {"unique": unique, "cols": cols})
    return Result("ddl")


def _create_view(s, p: P, replace: bool) -> Result:
    schema, name = p.qname(s.schema)
    cols = None
    if p.at("("):
        cols = [t.name for t in p.paren() if t.kind in ("id", "qid")]
    p.need("AS")
    body = p.rest()
    while body and body[-1].is_("READ", "ONLY", "CHECK", "OPTION", "WITH"):
        body.pop()
    text = emit(body)
    old = s.db.catalog.table(schema, name)
    if old is not None and not (replace and old.type == "VIEW"):
        raise err(M.EXISTS, "obj_exists", name=name)
    if old is None:
        _check_new(s, schema, name)
    # validate now (DM compiles views at creation)
    sub = Translator(Context(s.db.catalog, schema, s.user, s._is_virtual, not s.db.case_sensitive))
    res = sub.run(name_select_items(body), name_columns=False)
    s._materialize(res.virtuals)
    s.conn.execute(f"SELECT * FROM ({res.sql}) LIMIT 0")
    with s.ddl(f"{schema}.{name}"):
        if old is not None:
            s.x("DELETE FROM DM$OBJ WHERE ID = ?", (old.id,))
        info = {"sql": text, "cols": cols}
        insert_obj(s, old.id if old else next_id(s), schema, name, "VIEW", None, info)
    return Result("ddl")


def _create_sequence(s, p: P) -> Result:
    schema, name = p.qname(s.schema)
    _check_new(s, schema, name)
    info = {"start": None, "inc": 1, "min": None, "max": None, "cycle": False, "cache": 20}
    while not p.done():
        if p.take("START"):
            p.need("WITH")
            info["start"] = p.number()
        elif p.take("INCREMENT"):
            p.need("BY")
            info["inc"] = p.number()
        elif p.take("MINVALUE"):
            info["min"] = p.number()
        elif p.take("MAXVALUE"):
            info["max"] = p.number()
        elif p.take("CACHE"):
            info["cache"] = p.number()
        elif p.take("CYCLE"):
            info["cycle"] = True
        elif p.take("NOCYCLE", "NOCACHE", "NOMINVALUE", "NOMAXVALUE", "ORDER", "NOORDER"):
            pass
        else:
            raise err(M.SYNTAX, "-2007")
    asc = info["inc"] > 0
    if info["min"] is None:
        info["min"] = 1 if asc else -_BIG
    if info["max"] is None:
        info["max"] = _BIG if asc else -1
    if info["start"] is None:
        info["start"] = info["min"] if asc else info["max"]
    with s.ddl(f"{schema}.{name}"):
        oid = next_id(s)
        insert_obj(s, oid, schema, name, "SEQUENCE", None, info)
        s.x("DELETE FROM DM$SEQ WHERE ID = ?", (oid,))
        s.db.seq_forget(oid)
    return Result("ddl")


# ---- tablespaces ------------------------------------------------------------------------------
def _create_tablespace(s, p: P) -> Result:
    """Recorded only when the instance did not take CREATE TABLESPACE itself (library use)."""
    name = p.ident()
    files = []
    if p.take("DATAFILE"):
        for part in split_top(p.rest()):
            q = P(part)
            path = unquote_str(q.peek().text)
            q.i += 1
            size = 0
            if q.take("SIZE"):
                size = q.number()
            files.append({"path": path, "size_mb": size})
    if any(o.type == "TABLESPACE" and o.name == name for o in s.db.catalog.objs.values()):
        raise err(M.EXISTS, "obj_exists", name=name)
    with s.ddl(name):
        insert_obj(s, next_id(s), "SYS", name, "TABLESPACE", None, {"files": files})
    return Result("ddl")
