"""DM data types: parsing DDL type names, SQLite storage, and converting values in and out.

Storage (SQLite STRICT tables): integers/BIT/BOOLEAN -> INTEGER, DOUBLE/FLOAT/REAL/DECIMAL/NUMBER -> REAL
(DECIMAL is returned as decimal.Decimal rounded to its scale), character/CLOB and DATE/TIME/DATETIME
-> TEXT (ISO text, so they sort correctly), binary -> BLOB.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from ..api import Column
from ..errors import err
from . import messages as M

# DM type name -> (api type, default precision, default scale, sqlite storage)
_BASE: dict[str, tuple[str, int, int, str]] = {
    "INT": ("INT", 10, 0, "INTEGER"), "INTEGER": ("INT", 10, 0, "INTEGER"), "PLS_INTEGER": ("INT", 10, 0, "INTEGER"),
    "BIGINT": ("BIGINT", 19, 0, "INTEGER"), "SMALLINT": ("SMALLINT", 5, 0, "INTEGER"),
    "TINYINT": ("TINYINT", 3, 0, "INTEGER"), "BYTE": ("TINYINT", 3, 0, "INTEGER"),
    "BIT": ("BIT", 1, 0, "INTEGER"), "BOOLEAN": ("BIT", 1, 0, "INTEGER"), "BOOL": ("BIT", 1, 0, "INTEGER"),
    "CHAR": ("CHAR", 1, 0, "TEXT"), "CHARACTER": ("CHAR", 1, 0, "TEXT"),
    "VARCHAR": ("VARCHAR", 8188, 0, "TEXT"), "VARCHAR2": ("VARCHAR", 8188, 0, "TEXT"),
    "NVARCHAR": ("VARCHAR", 8188, 0, "TEXT"), "NVARCHAR2": ("VARCHAR", 8188, 0, "TEXT"),
    "NCHAR": ("CHAR", 1, 0, "TEXT"),
    "NUMBER": ("DECIMAL", 38, 0, "REAL"), "NUMERIC": ("DECIMAL", 38, 0, "REAL"),
    "DECIMAL": ("DECIMAL", 38, 0, "REAL"), "DEC": ("DECIMAL", 38, 0, "REAL"),
    "DOUBLE": ("DOUBLE", 53, 0, "REAL"), "FLOAT": ("DOUBLE", 53, 0, "REAL"), "REAL": ("REAL", 24, 0, "REAL"),
    "DATE": ("DATE", 10, 0, "TEXT"), "TIME": ("TIME", 8, 0, "TEXT"),
    "DATETIME": ("DATETIME", 26, 6, "TEXT"), "TIMESTAMP": ("DATETIME", 26, 6, "TEXT"),
    "CLOB": ("CLOB", 2147483647, 0, "TEXT"), "TEXT": ("CLOB", 2147483647, 0, "TEXT"),
    "LONGVARCHAR": ("CLOB", 2147483647, 0, "TEXT"), "LONG": ("CLOB", 2147483647, 0, "TEXT"),
    "BLOB": ("BLOB", 2147483647, 0, "BLOB"), "IMAGE": ("BLOB", 2147483647, 0, "BLOB"),
    "LONGVARBINARY": ("BLOB", 2147483647, 0, "BLOB"),
    "BINARY": ("BINARY", 1, 0, "BLOB"), "VARBINARY": ("VARBINARY", 8188, 0, "BLOB"),
    "RAW": ("VARBINARY", 8188, 0, "BLOB"),
}
_LENGTH_TYPES = {"CHAR", "VARCHAR", "BINARY", "VARBINARY"}


@dataclass(frozen=True)
class DmType:
    """A column's declared DM type."""

    name: str              # one of api.TYPES
    precision: int
    scale: int
    storage: str           # INTEGER | REAL | TEXT | BLOB
    decl: str              # as written in the DDL, upper-cased (shown by the catalog)

    def column(self, name: str, nullable: bool = True) -> Column:
        return Column(name, self.name, self.precision, self.scale, nullable)

    @property
    def max_len(self) -> int | None:
        """Byte length limit checked on write (CHAR/VARCHAR/BINARY/VARBINARY)."""
        return self.precision if self.name in _LENGTH_TYPES else None


def parse_type(words: list[str], args: list[int]) -> DmType:
    """DmType from the type words (upper-case, e.g. ['DOUBLE','PRECISION']) and its (p[, s]) args."""
    base = words[0]
    if base == "CHARACTER" and len(words) > 1 and words[1] == "VARYING":
        base = "VARCHAR"
    if base not in _BASE:
        raise err(M.BAD_TYPE, "bad_type", name=" ".join(words))
    name, prec, scale, storage = _BASE[base]
    if args and name in ("DATETIME", "TIME"):
        scale = args[0]                 # TIMESTAMP(n): fractional-second digits
    elif args:
        prec = args[0]
        if len(args) > 1:
            scale = args[1]
    elif name == "DECIMAL":
        prec, scale = 0, 0              # NUMBER / DECIMAL without precision: any value (DM reports prec 0)
    decl = base + (f"({','.join(str(a) for a in args)})" if args else "")
    return DmType(name, prec, scale, storage, decl)


def type_from_decl(decl: str) -> DmType:
    """Rebuild a DmType from its catalog text, e.g. 'VARCHAR(20)' or 'NUMBER(10,2)'."""
    if "(" in decl:
        head, rest = decl.split("(", 1)
        args = [int(a) for a in rest.rstrip(")").split(",") if a.strip()]
    else:
        head, args = decl, []
    return parse_type(head.split(), args)


# ---- values in -------------------------------------------------------------------------------
def _adapt_dt(v: _dt.datetime) -> str:
    return v.isoformat(sep=" ")


def _adapt_decimal(v: decimal.Decimal) -> int | float:
    return int(v) if v == v.to_integral_value() and abs(v) < 2 ** 63 else float(v)


def register_adapters() -> None:
    """Python -> SQLite for the value types api.py allows."""
    sqlite3.register_adapter(decimal.Decimal, _adapt_decimal)
    sqlite3.register_adapter(_dt.datetime, _adapt_dt)
    sqlite3.register_adapter(_dt.date, lambda v: v.isoformat())
    sqlite3.register_adapter(_dt.time, lambda v: v.isoformat())
    sqlite3.register_adapter(bool, int)


# ---- values out ------------------------------------------------------------------------------
def _to_date(v):
    if isinstance(v, str):
        try:
            return _dt.date.fromisoformat(v[:10])
        except ValueError:
            return v
    return v


def _to_datetime(v):
    if isinstance(v, str):
        try:
            return _dt.datetime.fromisoformat(v if len(v) > 10 else v + " 00:00:00")
        except ValueError:
            return v
    return v


def _to_time(v):
    if isinstance(v, str):
        try:
            return _dt.time.fromisoformat(v)
        except ValueError:
            return v
    return v


def _decimal(scale: int) -> Callable:
    q = decimal.Decimal(1).scaleb(-scale) if scale > 0 else None

    def conv(v):
        if v is None or isinstance(v, (str, bytes)):
            return v
        d = decimal.Decimal(v) if isinstance(v, int) else decimal.Decimal(repr(v))
        if scale == 0:
            return d.to_integral_value()
        if q is not None:
            return d.quantize(q, rounding=decimal.ROUND_HALF_UP)
        return d.to_integral_value() if d == d.to_integral_value() else d   # free scale (NUMBER)
    return conv


def int_value(v):
    """Integer column value out: SQLite may hand back an integral float (e.g. from arithmetic)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def converter(col: Column) -> Callable | None:
    """Function turning a stored SQLite value into the Python value for this column (None = as is)."""
    t = col.type
    if t == "DATE":
        return _to_date
    if t == "DATETIME":
        return _to_datetime
    if t == "TIME":
        return _to_time
    if t == "DECIMAL":
        return _decimal(col.scale if col.precision else -1)     # precision 0 = NUMBER without (p,s)
    if t in ("INT", "BIGINT", "SMALLINT", "TINYINT", "BIT"):
        return int_value
    return None


def infer_column(name: str, value: object) -> Column:
    """Column for an expression result, from its first non-null value."""
    if isinstance(value, bool):
        return Column(name, "BIT", 1)
    if isinstance(value, int):
        return Column(name, "BIGINT", 19) if abs(value) >= 2 ** 31 else Column(name, "INT", 10)
    if isinstance(value, float):
        return Column(name, "DOUBLE", 53)
    if isinstance(value, decimal.Decimal):
        return Column(name, "DECIMAL", 38, 0)
    if isinstance(value, bytes):
        return Column(name, "VARBINARY", 8188)
    if isinstance(value, _dt.datetime):
        return Column(name, "DATETIME", 26, 6)
    if isinstance(value, _dt.date):
        return Column(name, "DATE", 10)
    if isinstance(value, str) and not name.upper().startswith(("TO_CHAR(", "CAST(")) or (
            isinstance(value, str) and name.upper().replace(" ", "").endswith(("ASDATE)", "ASDATETIME)",
                                                                             "ASTIMESTAMP)"))):
        if _DT_TEXT.match(value):
            return Column(name, "DATETIME", 26, 6)
        if _D_TEXT.match(value):
            return Column(name, "DATE", 10)
    return Column(name, "VARCHAR", 8188)


_DT_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$")
_D_TEXT = re.compile(r"^\d{4}-\d\d-\d\d$")


def plain(v):
    """A Python value as SQLite stores it (dates as ISO text, bools as 0/1, anything else exotic as str)."""
    if isinstance(v, (_dt.datetime,)):
        return v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    if v is not None and not isinstance(v, (int, float, str, bytes)):
        return str(v)
    return v
