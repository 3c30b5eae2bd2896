"""ALTER TABLE and DROP: change or remove existing objects (tables are rebuilt, rowids and indexes kept)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..api import Result
from ..errors import err
from . import messages as M
from .catalog import ColMeta, ObjMeta
from .ddl import _check_new, _column_def, _insert_cols, _table_constraint, table_sql
from .ddlcursor import P
from .lexer import emit, quote, split_top

if TYPE_CHECKING:
    pass


def _rebuild(s, t: ObjMeta, cols: list[ColMeta], copy: list[tuple[str, str]], cons: dict) -> None:
    """Recreate a table with new columns; copy = [(new column, source expression)]; keeps rowids and indexes."""
    tmp = t.phys + "$NEW"
    s.x(table_sql(s, tmp, cols, cons))
    dst = ", ".join(quote(a) for a, _ in copy)
    src = ", ".join(b for _, b in copy)
    s.x(f"INSERT INTO {quote(tmp)} (rowid{', ' if copy else ''}{dst}) SELECT rowid{', ' if copy else ''}{src} "
        f"FROM {quote(t.phys)}")
    s.x(f"DROP TABLE {quote(t.phys)}")
    s.x(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(t.phys)}")
    names = {c.name for c in cols}
    for ix in s.db.catalog.indexes_of(t.id):
        icols = [c for c in ix.info.get("cols", [])]
        if all(c.split(" ")[0].strip('"') in names for c in icols):
            s.x(f"CREATE {'UNIQUE ' if ix.info.get('unique') else ''}INDEX {quote(ix.phys)} ON {quote(t.phys)} "
                f"({', '.join(icols)})")
        else:
            s.x("DELETE FROM DM$OBJ WHERE ID = ?", (ix.id,))
    s.x("DELETE FROM DM$COL WHERE TID = ?", (t.id,))
    _insert_cols(s, t.id, cols)
    info = dict(t.info)
    info["cons"] = cons
    s.x("UPDATE DM$OBJ SET INFO = ? WHERE ID = ?", (json.dumps(info), t.id))


def alter_table(s, p: P) -> Result:
    schema, name = p.qname(s.schema)
    t = s.db.catalog.table(schema, name)
    if t is None or t.type != "TABLE":
        raise err(M.NO_TABLE, "-2106", name=name)
    cons = dict(t.info.get("cons", {}))
    with s.ddl(t.phys):
        if p.take("ADD"):
            p.take("COLUMN")
            if p.at("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
                _table_constraint(p, cons)
                _rebuild(s, t, t.columns, [(c.name, quote(c.name)) for c in t.columns], cons)
            else:
                defs = [_column_def(P(x), cons) for x in split_top(p.paren())] if p.at("(") else [_column_def(p, cons)]
                for d in defs:
                    if t.col(d.name):
                        raise err(M.EXISTS, "obj_exists", name=d.name)
                cols = t.columns + defs
                _rebuild(s, t, cols, [(c.name, quote(c.name)) for c in t.columns], cons)
        elif p.take("DROP"):
            if p.take("CONSTRAINT"):
                p.ident()
            else:
                p.take("COLUMN")
                c = p.ident()
                if t.col(c) is None:
                    raise err(M.NO_COLUMN, "no_column", name=c)
                cols = [x for x in t.columns if x.name != c]
                cons["pk"] = [x for x in cons.get("pk", []) if x != c] or None
                if not cons["pk"]:
                    cons.pop("pk")
                cons["unique"] = [u for u in cons.get("unique", []) if c not in u]
                _rebuild(s, t, cols, [(x.name, quote(x.name)) for x in cols], cons)
        elif p.take("MODIFY") or (p.take("ALTER") and p.take("COLUMN")):
            defs = [_column_def(P(x), cons) for x in split_top(p.paren())] if p.at("(") else [_column_def(p, cons)]
            cols = list(t.columns)
            for d in defs:
                idx = next((i for i, c in enumerate(cols) if c.name == d.name), None)
                if idx is None:
                    raise err(M.NO_COLUMN, "no_column", name=d.name)
                cols[idx] = d
            _rebuild(s, t, cols, [(c.name, quote(c.name)) for c in cols], cons)
        elif p.take("RENAME"):
            if p.take("TO"):
                new = p.ident()
                _check_new(s, schema, new)
                s.x(f"ALTER TABLE {quote(t.phys)} RENAME TO {quote(schema + '.' + new)}")
                s.x("UPDATE DM$OBJ SET NAME = ? WHERE ID = ?", (new, t.id))
            else:
                p.take("COLUMN")
                old = p.ident()
                p.need("TO")
                new = p.ident()
                if t.col(old) is None:
                    raise err(M.NO_COLUMN, "no_column", name=old)
                s.x(f"ALTER TABLE {quote(t.phys)} RENAME COLUMN {quote(old)} TO {quote(new)}")
                s.x("UPDATE DM$COL SET NAME = ? WHERE TID = ? AND NAME = ?", (new, t.id, old))
        else:
            raise err(M.SYNTAX, "sql_unsupported", what="ALTER TABLE " + emit(p.rest()[:2]))
    return Result("ddl")


def drop(s, p: P) -> Result:
    what = p.need("TABLE", "VIEW", "INDEX", "SEQUENCE", "USER", "SCHEMA", "TABLESPACE", "ROLE").up
    if_exists = False
    if p.take("IF"):
        p.need("EXISTS")
        if_exists = True
    cat = s.db.catalog
    if what == "USER" or what == "ROLE":
        name = p.ident()
        if what == "ROLE":
            return Result("ddl")
        if name not in cat.users:
            if if_exists:
                return Result("ddl")
            raise err(M.NO_USER, "no_user", name=name)
        owned = [o for o in cat.objs.values() if o.schema == name]
        if owned and not p.take("CASCADE"):
            raise err(M.DEPEND, "dep_objects", name=name)
        with s.ddl(name):
            for o in owned:
                _drop_obj(s, o)
            s.x("DELETE FROM DM$USERS WHERE NAME = ?", (name,))
        return Result("ddl")
    if what == "TABLESPACE":
        name = p.ident()
        o = next((x for x in cat.objs.values() if x.type == "TABLESPACE" and x.name == name), None)
        if o is None:
            return Result("ddl")
        with s.ddl(name):
            s.x("DELETE FROM DM$OBJ WHERE ID = ?", (o.id,))
        return Result("ddl")
    schema, name = p.qname(s.schema)
    if what in ("TABLE", "VIEW"):
        o = cat.table(schema, name)
        if o is not None and o.type != what:
            o = None
        code, key = M.NO_TABLE, "-2106"
    elif what == "INDEX":
        o = cat.index(schema, name)
        code, key = M.NO_INDEX, "no_index"
    elif what == "SEQUENCE":
        o = cat.sequence(schema, name)
        code, key = M.NO_SEQ, "no_seq"
    else:
        o = next((x for x in cat.objs.values() if x.type == "SCHEMA" and x.name == name), None)
        code, key = M.NO_SCHEMA, "no_schema"
    if o is None:
        if if_exists:
            return Result("ddl")
        raise err(code, key, name=name)
    p.take("CASCADE", "RESTRICT")
    with s.ddl(o.phys):
        if what == "SCHEMA":
            for x in cat.objs.values():
                if x.schema == name and x.id != o.id:
                    _drop_obj(s, x)
        _drop_obj(s, o)
    return Result("ddl")


def _drop_obj(s, o: ObjMeta) -> None:
    if o.type == "TABLE":
        s.x(f"DROP TABLE IF EXISTS {quote(o.phys)}")
        s.x("DELETE FROM DM$COL WHERE TID = ?", (o.id,))
        s.x("DELETE FROM DM$OBJ WHERE PARENT = ?", (o.id,))
        s.cap.dropped_table(o.phys)
    elif o.type == "INDEX":
        s.x(f"DROP INDEX IF EXISTS {quote(o.phys)}")
    elif o.type == "SEQUENCE":
        s.x("DELETE FROM DM$SEQ WHERE ID = ?", (o.id,))
        s.db.seq_forget(o.id)
    s.x("DELETE FROM DM$OBJ WHERE ID = ?", (o.id,))
