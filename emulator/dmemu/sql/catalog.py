"""The typed catalog: users, schemas, tables, views, indexes, sequences, privileges.

Everything lives in ordinary SQLite tables named DM$... inside the database file, so catalog changes are
part of the same transactions (and the same redo) as the data. User table SCHEMA.NAME is stored as the
SQLite table "SCHEMA.NAME" (one file, one transaction scope, atomic commits).

`Catalog` is an immutable in-memory snapshot loaded from those tables; the Database swaps in a fresh one
after every committed DDL or applied redo.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ..api import Column
from .types import DmType, type_from_decl

SYSTEM_USERS = ("SYS", "SYSDBA", "SYSAUDITOR", "SYSSSO")
DEFAULT_PASSWORDS = {"SYSDBA": "SYSDBA", "SYSAUDITOR": "SYSAUDITOR", "SYSSSO": "SYSSSO", "SYS": "SYS"}
FIRST_USER_OBJ = 1000        # user object ids start here (below: system schemas/users)

META_DDL = [
    "CREATE TABLE IF NOT EXISTS DM$META (K TEXT PRIMARY KEY, V)",
    "CREATE TABLE IF NOT EXISTS DM$USERS (NAME TEXT PRIMARY KEY, PWD TEXT, TS TEXT, ID INTEGER, "
    "CREATED TEXT, LOCKED INTEGER DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS DM$OBJ (ID INTEGER PRIMARY KEY, SCH TEXT, NAME TEXT, TYPE TEXT, "
    "PARENT INTEGER, INFO TEXT, CREATED TEXT)",
    "CREATE TABLE IF NOT EXISTS DM$COL (TID INTEGER, NO INTEGER, NAME TEXT, DECL TEXT, NULLABLE INTEGER, "
    "DFLT TEXT, IDENT INTEGER, PRIMARY KEY (TID, NO))",
    "CREATE TABLE IF NOT EXISTS DM$SEQ (ID INTEGER PRIMARY KEY, VAL INTEGER)",
    "CREATE TABLE IF NOT EXISTS DM$PRIV (GRANTEE TEXT, PRIV TEXT, OBJ TEXT)",
]


def hash_password(pwd: str) -> str:
    return hashlib.sha256(("dmemu:" + pwd).encode()).hexdigest()


@dataclass(frozen=True)
class ColMeta:
    name: str
    type: DmType
    nullable: bool = True
    default: str | None = None          # DM default expression text
    identity: bool = False

    def column(self) -> Column:
        return self.type.column(self.name, self.nullable)


@dataclass
class ObjMeta:
    """A table, view, index or sequence."""

    id: int
    schema: str
    name: str
    type: str                           # TABLE | VIEW | INDEX | SEQUENCE | TABLESPACE | SCHEMA
    parent: int | None = None
    info: dict = field(default_factory=dict)
    created: str = ""
    columns: list[ColMeta] = field(default_factory=list)

    @property
    def phys(self) -> str:
        """SQLite object name."""
        return f"{self.schema}.{self.name}"

    @property
    def identity(self) -> ColMeta | None:
        return next((c for c in self.columns if c.identity), None)

    def col(self, name: str) -> ColMeta | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class UserMeta:
    name: str
    pwd: str
    ts: str
    id: int
    created: str
    locked: bool = False


class Catalog:
    """Snapshot of the DM$ tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.users: dict[str, UserMeta] = {}
        for r in conn.execute("SELECT NAME, PWD, TS, ID, CREATED, LOCKED FROM DM$USERS"):
            self.users[r[0]] = UserMeta(r[0], r[1], r[2] or "MAIN", r[3], r[4] or "", bool(r[5]))
        self.objs: dict[int, ObjMeta] = {}
        self.by_name: dict[tuple[str, str, str], ObjMeta] = {}   # (schema, name, class) class: T (table/view) I S
        for r in conn.execute("SELECT ID, SCH, NAME, TYPE, PARENT, INFO, CREATED FROM DM$OBJ ORDER BY ID"):
            o = ObjMeta(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6] or "")
            self.objs[o.id] = o
            self.by_name[(o.schema, o.name, _cls(o.type))] = o
        for r in conn.execute("SELECT TID, NAME, DECL, NULLABLE, DFLT, IDENT FROM DM$COL ORDER BY TID, NO"):
            o = self.objs.get(r[0])
            if o is not None:
                o.columns.append(ColMeta(r[1], type_from_decl(r[2]), bool(r[3]), r[4], bool(r[5])))
        self.privs: list[tuple[str, str, str]] = [(r[0], r[1], r[2] or "") for r in conn.execute(
            "SELECT GRANTEE, PRIV, OBJ FROM DM$PRIV ORDER BY ROWID")]        # (grantee, priv|role, object)
        meta = dict(conn.execute("SELECT K, V FROM DM$META").fetchall())
        self.created = str(meta.get("created", "2026-01-01 00:00:00"))

    def schemas(self) -> set[str]:
        return set(self.users) | {o.name for o in self.objs.values() if o.type == "SCHEMA"}

    def table(self, schema: str, name: str) -> ObjMeta | None:
        """Table or view SCHEMA.NAME."""
        return self.by_name.get((schema, name, "T"))

    def index(self, schema: str, name: str) -> ObjMeta | None:
        return self.by_name.get((schema, name, "I"))

    def sequence(self, schema: str, name: str) -> ObjMeta | None:
        return self.by_name.get((schema, name, "S"))

    def indexes_of(self, tid: int) -> list[ObjMeta]:
        return [o for o in self.objs.values() if o.type == "INDEX" and o.parent == tid]

    def tables(self) -> list[ObjMeta]:
        return [o for o in self.objs.values() if o.type in ("TABLE", "VIEW")]

    def next_id(self) -> int:
        return max([FIRST_USER_OBJ, *self.objs]) + 1


def _cls(objtype: str) -> str:
    return {"TABLE": "T", "VIEW": "T", "INDEX": "I", "SEQUENCE": "S"}.get(objtype, objtype[:2])


def init_schema(conn: sqlite3.Connection, created: str) -> None:
    """Create the DM$ tables and the built-in users on a new database file."""
    for s in META_DDL:
        conn.execute(s)
    if conn.execute("SELECT COUNT(*) FROM DM$USERS").fetchone()[0]:
        return
    conn.execute("INSERT OR REPLACE INTO DM$META VALUES ('cur_lsn', 0)")
    conn.execute("INSERT OR REPLACE INTO DM$META VALUES ('created', ?)", (created,))
    for i, u in enumerate(SYSTEM_USERS):
        conn.execute("INSERT INTO DM$USERS VALUES (?, ?, ?, ?, ?, 0)",
                     (u, hash_password(DEFAULT_PASSWORDS[u]), "SYSTEM" if u != "SYSDBA" else "MAIN",
                      50331648 + i, created))


# ---- rows written by DDL (inside the session's recorded DDL transaction) --------------------------
def now() -> str:
    """Creation time as DM stores it (seconds)."""
    return _dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


def insert_obj(s: Any, oid: int, schema: str, name: str, typ: str, parent: int | None, info: dict) -> None:
    s.x("INSERT INTO DM$OBJ (ID, SCH, NAME, TYPE, PARENT, INFO, CREATED) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (oid, schema, name, typ, parent, json.dumps(info), now()))


def next_id(s: Any) -> int:
    row = s.conn.execute("SELECT MAX(ID) FROM DM$OBJ").fetchone()
    return max(int(row[0] or 0), 1000) + 1
