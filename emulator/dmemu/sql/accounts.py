"""Users, schemas and privileges: CREATE/ALTER USER, CREATE SCHEMA, GRANT/REVOKE in the DM$ catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api import Result
from ..errors import err
from . import messages as M
from .catalog import hash_password, insert_obj, next_id, now
from .ddlcursor import P
from .lexer import emit, split_top, unquote_str

if TYPE_CHECKING:
    pass


def _password(p: P) -> str:
    """The password after IDENTIFIED BY: a string literal, a quoted or a plain word, its case kept
    (DM8 passwords are case-sensitive; only identifiers are upper-cased)."""
    p.need("BY")
    pt = p.peek()
    if pt is None:
        raise err(M.SYNTAX, "-2007")
    p.i += 1
    return unquote_str(pt.text) if pt.kind == "str" else pt.verbatim


def create_user(s, p: P) -> Result:
    name = p.ident()
    p.need("IDENTIFIED")
    pwd = _password(p)
    ts = "MAIN"
    while not p.done():
        if p.take("DEFAULT"):
            if p.take("TABLESPACE"):
                ts = p.ident()
            elif p.take("INDEX"):
                p.take("TABLESPACE")
                p.ident()
        else:
            p.i += 1
    cat = s.db.catalog
    if name in cat.users or name in cat.schemas():
        raise err(M.EXISTS, "obj_exists", name=name)
    with s.ddl(name):
        uid = int(s.conn.execute("SELECT MAX(ID) FROM DM$USERS").fetchone()[0]) + 1
        s.x("INSERT INTO DM$USERS (NAME, PWD, TS, ID, CREATED, LOCKED) VALUES (?, ?, ?, ?, ?, 0)",
            (name, hash_password(pwd), ts, uid, now()))
    return Result("ddl")


def alter_user(s, p: P) -> Result:
    name = p.ident()
    if name not in s.db.catalog.users:
        raise err(M.NO_USER, "no_user", name=name)
    sets: list[tuple[str, object]] = []
    while not p.done():
        if p.take("IDENTIFIED"):
            sets.append(("PWD", hash_password(_password(p))))
        elif p.take("ACCOUNT"):
            sets.append(("LOCKED", 1 if p.need("LOCK", "UNLOCK").is_("LOCK") else 0))
        elif p.take("DEFAULT"):
            p.need("TABLESPACE")
            sets.append(("TS", p.ident()))
        else:
            p.i += 1
    with s.ddl(name):
        for col, v in sets:
            s.x(f"UPDATE DM$USERS SET {col} = ? WHERE NAME = ?", (v, name))
    return Result("ddl")


def create_schema(s, p: P) -> Result:
    name = p.ident()
    if name in s.db.catalog.schemas():
        raise err(M.EXISTS, "obj_exists", name=name)
    owner = s.user
    if p.take("AUTHORIZATION"):
        owner = p.ident()
    with s.ddl(name):
        insert_obj(s, next_id(s), name, name, "SCHEMA", None, {"owner": owner})
    return Result("ddl")


def grant(s, p: P, grant: bool) -> Result:
    p.i += 1
    toks = p.rest()
    kw = "TO" if grant else "FROM"
    k = next((i for i, t in enumerate(toks) if t.is_(kw)), None)
    if k is None:
        raise err(M.SYNTAX, "-2007")
    left, right = toks[:k], toks[k + 1:]
    on = next((i for i, t in enumerate(left) if t.is_("ON")), None)
    privs = [emit(x).upper() for x in split_top(left[:on] if on is not None else left)]
    obj = emit(left[on + 1:]).upper() if on is not None else ""
    grantees = []
    for part in split_top(right):
        if part and part[0].is_("WITH"):
            break
        cut = next((i for i, t in enumerate(part) if t.is_("WITH")), len(part))
        g = part[0].name if part else ""
        grantees.append(g)
        if cut < len(part):
            break
    cat = s.db.catalog
    for g in grantees:
        if g not in cat.users and g != "PUBLIC" and g not in ("DBA", "RESOURCE", "PUBLIC", "SOI", "VTI", "SVI"):
            raise err(M.NO_USER, "no_user", name=g)
    with s.ddl(",".join(grantees)):
        for g in grantees:
            for pr in privs:
                if grant:
                    s.x("INSERT INTO DM$PRIV (GRANTEE, PRIV, OBJ) VALUES (?, ?, ?)", (g, pr, obj))
                else:
                    s.x("DELETE FROM DM$PRIV WHERE GRANTEE = ? AND PRIV = ? AND OBJ = ?", (g, pr, obj))
    return Result("ddl")
