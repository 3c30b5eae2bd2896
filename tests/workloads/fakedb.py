"""A fake DB-API connection for the workload clients' tests: canned answers, scripted failures.

`connect(**kw)` is the connector a ClientSpec names ("fakedb:connect"); it runs in spawned children too.
Keyword `fail` picks a failure: "commit" (the commit raises), "execute" (DML raises before the commit),
"refuse" (DML raises DM error -2018), "hang" (DML blocks), "connect" (connecting raises), None (all ok).
"""

from __future__ import annotations

import itertools
import time
from typing import Any


class DmError(Exception):
    """Shaped like a dmPython error: args[0].code is the DM error code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(type("E", (), {"code": code, "__str__": lambda s: text})())


class Cursor:
    def __init__(self, conn: Conn) -> None:
        self.conn, self.rows, self.description, self.rowcount = conn, [], None, 0

    def execute(self, sql: str, params: Any = None) -> None:
        s = " ".join(sql.upper().split())
        self.conn.log.append((s, params))
        self.description, self.rows, self.rowcount = None, [], 1
        if s.startswith("SELECT"):
            self.description = [("C",)]
            self.rows = self._select(s, params)
            return
        fail = self.conn.fail
        if fail == "hang":
            time.sleep(3600)
        if fail == "execute":
            raise DmError(-6602, "unique constraint violated")
        if fail == "refuse":
            raise DmError(-2018, "standby refuses DML")
        regs = self.conn.registers
        if "AND V = ?" in s:
            self.rowcount = int(params[2] == regs.get(params[1], 0))
            if self.rowcount:
                regs[params[1]] = params[0]
        elif s.startswith("UPDATE") and "SET V = ? WHERE K = ?" in s:
            regs[params[1]] = params[0]

    def _select(self, s: str, params: Any) -> list[tuple]:
        if "V$INSTANCE" in s:
            return [("FAKE1",)] if "NAME" in s and "MODE$" not in s else [("PRIMARY", "OPEN")]
        if "V$RLOG" in s:
            return [(100,)]
        if "ID, BAL" in s:
            return [(0, 50), (1, 50)]
        if "SELECT N" in s or "NEXTVAL" in s or "SELECT ID FROM" in s:
            return [(next(self.conn.counter),)]
        if "SELECT V FROM" in s and "REG" in s:
            return [(self.conn.registers.get(params[0], 0),)]
        if "SELECT V FROM" in s:
            return [("1,2",)]
        return [(1,)]

    def fetchall(self) -> list[tuple]:
        return self.rows

    def close(self) -> None:
        pass


class Conn:
    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.registers: dict[int, int] = {}  # register tables: key -> value (one connection's view)
        self.log: list[tuple] = []
        self.counter = itertools.count(1)
        self.commits = self.rollbacks = 0
        self.autocommit = False

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        if self.fail == "commit":
            raise DmError(-70019, "connection lost during commit")
        self.commits += 1

    def rollback(self) -> None:
        self.rollbacks += 1

    def close(self) -> None:
        pass


def connect(fail: str | None = None, **kw: Any) -> Conn:
    if fail == "connect":
        raise DmError(-70028, "cannot connect")
    return Conn(fail)
