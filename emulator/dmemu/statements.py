"""Instance-level SQL (the statements the instance answers before the SQL engine sees them).

ALTER DATABASE ..., SP_SET_OGUID, SP_SET_PARA_VALUE, SELECT PERMANENT_MAGIC, CREATE TABLESPACE,
BACKUP DATABASE, SHUTDOWN. Each handler gets the Instance and the regex match and returns a Result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .api import Column, Result
from .errors import err

if TYPE_CHECKING:
    from .instance import Instance

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def normalize(sql: str) -> str:
    """Strip comments, surrounding blanks, a trailing ';' and an optional leading CALL/EXEC."""
    s = _COMMENTS.sub(" ", sql).strip()
    while s.endswith(";") or s.endswith("/"):
        s = s[:-1].rstrip()
    return s


def _ok(msg: str = "") -> Result:
    return Result(kind="other", message=msg)


def _alter(inst: Instance, m: re.Match) -> Result:
    what = " ".join(m.group(1).split()).upper()
    if what in ("MOUNT", "OPEN", "OPEN FORCE", "SUSPEND", "RESUME"):
        target = {"MOUNT": "MOUNT", "SUSPEND": "SUSPEND"}.get(what, "OPEN")
        inst.set_status(target)
    elif what in ("PRIMARY", "STANDBY", "NORMAL", "PRIMARY FORCE", "STANDBY FORCE"):
        inst.check_alter_mode_allowed()
        inst.set_mode(what.split()[0])
    elif what == "ARCHIVELOG":
        inst.set_archivelog(True)
    elif what == "NOARCHIVELOG":
        inst.set_archivelog(False)
    else:
        am = re.match(r"(ADD|DELETE|MODIFY)\s+ARCHIVELOG\s+'([^']*)'$", m.group(1).strip(), re.I)
        if not am:
            raise err(-2007)
        inst.change_archive(am.group(1).upper(), am.group(2))
    return _ok()


def _oguid(inst: Instance, m: re.Match) -> Result:
    inst.check_alter_mode_allowed()
    inst.set_oguid(int(m.group(1)))
    return _ok()


def _para(inst: Instance, m: re.Match) -> Result:
    scope, name, value = int(m.group(1)), m.group(2).upper(), m.group(3).strip().strip("'")
    inst.set_para(name, value, scope)
    return _ok()


def _alter_system(inst: Instance, m: re.Match) -> Result:
    scope = {"MEMORY": 0, "SPFILE": 2}.get((m.group(3) or "BOTH").upper(), 1)
    inst.set_para(m.group(1).upper(), m.group(2).strip("'"), scope)
    return _ok()


def _get_para(inst: Instance, m: re.Match) -> Result:
    name = m.group(2).upper()
    v = inst.ini.get(name)
    if v is None:
        raise err(-2007, "bad_para", name=name)
    col = f"SF_GET_PARA_VALUE({m.group(1)},'{name}')"
    return Result(kind="select", columns=[Column(col, "BIGINT", 19)], rows=[(int(v) if v.lstrip("-").isdigit() else v,)])


def _permanent_magic(inst: Instance, m: re.Match) -> Result:
    return Result(kind="select", columns=[Column("PERMANENT_MAGIC", "INT", 10)], rows=[(inst.permanent_magic,)])


def _tablespace(inst: Instance, m: re.Match) -> Result:
    name = m.group(1).strip('"').upper()
    files = []
    for fm in re.finditer(r"'([^']+)'\s+SIZE\s+(\d+)", m.group(2), re.I):
        files.append({"path": fm.group(1), "size_mb": int(fm.group(2))})
    if not files:
        raise err(-2007)
    inst.create_tablespace(name, files)
    return Result(kind="ddl")


def _backup(inst: Instance, m: re.Match) -> Result:
    from . import backup
    backup.backup_online(inst, m.group(1))
    return _ok()


def _shutdown(inst: Instance, m: re.Match) -> Result:
    inst.request_shutdown()
    return _ok()


HANDLERS: list[tuple[re.Pattern, Callable[[Instance, re.Match], Result]]] = [
    (re.compile(r"ALTER\s+DATABASE\s+(.+)$", re.I | re.S), _alter),
    (re.compile(r"(?:CALL\s+|EXEC\s+)?SP_SET_OGUID\s*\(\s*(\d+)\s*\)$", re.I), _oguid),
    (re.compile(r"(?:CALL\s+|EXEC\s+)?SP_SET_PARA_(?:DOUBLE_|STRING_)?VALUE\s*\(\s*(\d)\s*,\s*'(\w+)'\s*,"
                r"\s*('?[^')]*'?)\s*\)$", re.I), _para),
    (re.compile(r"ALTER\s+SYSTEM\s+SET\s+'(\w+)'\s*=\s*('[^']*'|[^\s']+)(?:\s+(MEMORY|SPFILE|BOTH))?$", re.I),
     _alter_system),
    (re.compile(r"SELECT\s+SF_GET_PARA_VALUE\s*\(\s*(\d)\s*,\s*'(\w+)'\s*\)(?:\s+FROM\s+DUAL)?$", re.I), _get_para),
    (re.compile(r"SELECT\s+PERMANENT_MAGIC(?:\s*\(\s*\))?(?:\s+FROM\s+DUAL)?$", re.I), _permanent_magic),
    (re.compile(r"CREATE\s+TABLESPACE\s+(\"[^\"]+\"|\w+)\s+DATAFILE\s+(.+)$", re.I | re.S), _tablespace),
    (re.compile(r"BACKUP\s+DATABASE\s+(?:FULL\s+)?BACKUPSET(?:\s+'([^']*)')?$", re.I), _backup),
    (re.compile(r"SHUTDOWN(?:\s+(?:IMMEDIATE|NORMAL|ABORT))?$", re.I), _shutdown),
]


def describe(inst: Instance, sql: str) -> list[Column] | None:
    """Result columns of an instance-answered SELECT (drivers prepare before they execute)."""
    s = normalize(sql)
    if not re.match(r"SELECT\b", s, re.I):
        return None
    r = handle(inst, s)
    return None if r is None else r.columns


def handle(inst: Instance, sql: str) -> Result | None:
    """Answer an instance-level statement, or None to let the SQL engine run it."""
    s = normalize(sql)
    for rx, fn in HANDLERS:
        m = rx.match(s)
        if m:
            return fn(inst, m)
    return None
