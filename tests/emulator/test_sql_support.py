"""Shared pieces of the SQL engine tests (dmemu.sql, library level, no server): a recording hooks object
and helpers. Also checks the helpers themselves."""

from __future__ import annotations

import pickle
from pathlib import Path

from dmemu.api import Column
from dmemu.sql import Database

V_DATABASE = ([Column("NAME"), Column("ARCH_MODE", "CHAR", 1), Column("STATUS$", "INT", 10),
               Column("ROLE$", "INT", 10)], [("MEMADB", "Y", 4, 0)])
V_TABLESPACE = ([Column("ID", "INT", 10), Column("NAME")],
                [(0, "SYSTEM"), (1, "ROLL"), (3, "TEMP"), (4, "MAIN"), (5, "TS_MEMA")])


class Hooks:
    """Instance stand-in: numbers commits like an LSN counter, records ops and guard calls."""

    def __init__(self) -> None:
        self.lsn = 0
        self.records: list[tuple[int, list]] = []      # (lsn_hi, ops) per committed transaction
        self.after: list[int] = []
        self.guards: list[tuple[str, str]] = []
        self.fail_next = False
        self.readonly = False
        self.views = {"V$DATABASE": V_DATABASE, "V$TABLESPACE": V_TABLESPACE,
                      "PERMANENT_MAGIC": ([Column("PERMANENT_MAGIC", "INT", 10)], [(1234567,)])}

    def before_commit(self, ops) -> int:
        if self.fail_next:
            self.fail_next = False
            from dmemu.errors import DmError
            raise DmError(-8506, "send failed")
        ops = pickle.loads(pickle.dumps(list(ops)))       # what crosses the wire: plain picklable data
        self.lsn += max(1, len(ops))
        self.records.append((self.lsn, ops))
        return self.lsn

    def after_commit(self, lsn_hi: int) -> None:
        self.after.append(lsn_hi)

    def write_guard(self, kind: str, table: str) -> None:
        self.guards.append((kind, table))
        if self.readonly:
            from dmemu.errors import DmError
            raise DmError(-2018 if kind == "dml" else -710, "standby")

    def system_view(self, name: str):
        return self.views.get(name)

    def kinds(self) -> list[str]:
        return [op[0] for _, ops in self.records for op in ops]


def open_db(path: Path, hooks: Hooks | None = None) -> Database:
    return Database(str(path), case_sensitive=False, hooks=hooks)


def replay(hooks: Hooks, db: Database) -> None:
    """Apply every recorded transaction to another database, as a standby would."""
    for lsn, ops in hooks.records:
        db.apply(ops, lsn)


def code(session, sql: str, params=None) -> int:
    """The DM error code the statement fails with (fails the test if it succeeds)."""
    import pytest
    from dmemu.errors import DmError
    with pytest.raises(DmError) as e:
        session.execute(sql, params)
    return e.value.code


def rows(session, sql: str, params=None) -> list[tuple]:
    return list(session.execute(sql, params).rows)


def dump(db: Database, user: str = "SYSDBA") -> dict[str, list[tuple]]:
    """Every user table's rows with rowids, to compare two databases exactly."""
    s = db.session(user)
    try:
        out = {}
        for (owner, name) in rows(s, "select owner, table_name from dba_tables order by 1, 2"):
            out[f"{owner}.{name}"] = s.conn.execute(f'SELECT rowid, * FROM "{owner}.{name}" ORDER BY rowid').fetchall()
        return out
    finally:
        s.close()


def test_hooks_number_commits(tmp_path: Path) -> None:
    h = Hooks()
    db = open_db(tmp_path / "a.db", h)
    s = db.session()
    s.execute("create table t (a int)")
    s.execute("insert into t values (1)")
    assert db.cur_lsn == h.lsn == h.after[-1]
    assert h.kinds() == ["X", "I"]
    db.close()
