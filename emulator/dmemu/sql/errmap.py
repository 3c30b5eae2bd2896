"""SQLite exceptions -> DmError with the code and wording DM8 gives for the same fault."""

from __future__ import annotations

import re
import sqlite3

from ..errors import DmError, err
from . import messages as M


def map_error(e: sqlite3.Error) -> DmError:
    """SQLite exception -> DmError with DM8's code."""
    if isinstance(e, DmError):
        return e
    text = str(e)
    low = text.lower()
    m = re.search(r"no such table: (?:temp\.|main\.)?\"?([^\"]+)\"?", text)
    if m:
        return err(M.NO_TABLE, "-2106", name=m.group(1))
    m = re.search(r"no such column: (.+)", text)
    if m:
        return err(M.NO_COLUMN, "no_column", name=m.group(1).split(".")[-1].strip('"').upper())
    m = re.search(r"UNIQUE constraint failed: (.+)", text)
    if m:
        return err(M.UNIQUE, "unique", name=m.group(1))
    m = re.search(r"NOT NULL constraint failed: (.+)", text)
    if m:
        return err(M.NOT_NULL, "not_null", name=m.group(1).split(".")[-1])
    m = re.search(r"CHECK constraint failed: LEN\$(.+)", text)
    if m:
        return err(M.TOO_LONG, "too_long", name=m.group(1))
    if "cannot store" in low or "datatype mismatch" in low:
        return err(M.BAD_VALUE, "bad_value")
    m = re.search(r"no such function: (\w+)", text)
    if m:
        return err(M.NO_FUNC, "no_func", name=m.group(1).upper())
    if "syntax error" in low or "incomplete input" in low or "unrecognized token" in low:
        return err(M.SYNTAX, "-2007")
    if "already exists" in low:
        return err(M.EXISTS, "obj_exists", name=text.split(" ")[1] if " " in text else text)
    if ("has" in low and "columns but" in low) or "values for" in low:
        return err(M.COL_COUNT, "col_count")
    if "database is locked" in low:
        return err(M.LOCK_TIMEOUT, "lock_timeout")
    if "user-defined function raised exception" in low:
        return err(M.BAD_VALUE, "bad_value")
    return err(-6001 if "constraint" in low else M.SYNTAX, "sql_error", detail=text)
