"""DM built-in functions that SQLite lacks, registered on every connection as SQLite functions.

Hot-path functions (dbms_random.value, trunc) are rewritten by the translator into native SQLite
expressions instead; only dbms_random.string stays a Python function, made cheap by slicing a pool of
random letters.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import sqlite3
import uuid

from .. import hostfaults

# DM/Oracle date format elements -> strftime
_FMT = [("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("MON", "%b"), ("DD", "%d"), ("HH24", "%H"),
        ("HH12", "%I"), ("HH", "%H"), ("MI", "%M"), ("SS", "%S"), ("FF6", "%f"), ("FF", "%f"), ("AM", "%p"),
        ("PM", "%p"), ("DAY", "%A"), ("DY", "%a")]
_FMT_RE = re.compile("|".join(sorted((k for k, _ in _FMT), key=len, reverse=True)), re.I)
_FMT_MAP = dict(_FMT)


def _strf(fmt: str) -> str:
    return _FMT_RE.sub(lambda m: _FMT_MAP[m.group().upper()], fmt.replace("%", "%%"))


def _parse_dt(v) -> _dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return None
    s = str(v)
    try:
        return _dt.datetime.fromisoformat(s if len(s) > 10 else s[:10] + " 00:00:00")
    except ValueError:
        return None


_CHARSETS = {"U": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "L": "abcdefghijklmnopqrstuvwxyz",
             "A": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
             "X": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
             "P": "".join(chr(c) for c in range(32, 127))}
_TABLES = {k: bytes(ord(v[i % len(v)]) for i in range(256)) for k, v in _CHARSETS.items()}
_POOL = 1 << 18


def _fill(opt, n: int) -> list:
    """[pool, pos] for an option: random characters of its set (Oracle: unknown option = 'U')."""
    k = str(opt or "U")[:1].upper()
    table = _TABLES.get(k, _TABLES["U"])
    return [os.urandom(max(_POOL, n)).translate(table).decode("ascii"), 0, table]


def _make_rstr():
    """dbms_random.string(opt, len): the hot path of the seed's bulk insert, kept minimal."""
    pools: dict = {}

    def rstr(opt, n):
        if n is None or n < 1:
            return None
        n = int(n)
        p = pools.get(opt)
        if p is None:
            p = pools[opt] = _fill(opt, n)
        pos = p[1]
        end = pos + n
        if end > len(p[0]):
            p[0] = os.urandom(max(_POOL, n)).translate(p[2]).decode("ascii")
            pos, end = 0, n
        p[1] = end
        return p[0][pos:end]
    return rstr





def _decode(*args):
    if not args:
        return None
    v = args[0]
    rest = args[1:]
    for i in range(0, len(rest) - 1, 2):
        if rest[i] == v or (rest[i] is None and v is None):
            return rest[i + 1]
    return rest[-1] if len(rest) % 2 == 1 else None


def _to_char(v, fmt=None):
    if v is None:
        return None
    if fmt is not None:
        d = _parse_dt(v)
        if d is not None:
            return d.strftime(_strf(str(fmt)))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _to_date(v, fmt=None):
    if v is None:
        return None
    s = str(v)
    if fmt is not None:
        try:
            return _dt.datetime.strptime(s, _strf(str(fmt))).isoformat(sep=" ")
        except ValueError:
            pass
    d = _parse_dt(s)
    if d is None:
        raise ValueError(f"bad date {s!r}")
    return d.isoformat(sep=" ")


def _to_number(v, fmt=None):
    if v is None or isinstance(v, (int, float)):
        return v
    s = str(v).strip()
    try:
        return int(s)
    except ValueError:
        return float(s)


def _mod(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return a
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _trunc(v, n=0):
    if v is None:
        return None
    d = _parse_dt(v) if isinstance(v, str) else None
    if d is not None:
        return d.date().isoformat() + " 00:00:00"
    n = int(n or 0)
    f = 10 ** n
    r = int(float(v) * f) / f
    return int(r) if n <= 0 else r


def _pad(left: bool):
    def pad(s, n, fill=" "):
        if s is None or n is None:
            return None
        s, n = str(s), int(n)
        if len(s) >= n:
            return s[:n]
        fill = str(fill) or " "
        p = (fill * n)[: n - len(s)]
        return p + s if left else s + p
    return pad


def _cat(*args):
    """The || operator: NULL operands count as '' unless all are NULL."""
    if all(a is None for a in args):
        return None
    return "".join(_text(a) for a in args if a is not None)


def _text(v) -> str:
    """A value as DM shows it in a string context (integers without '.0', bytes as hex)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bytes):
        return v.hex().upper()
    return str(v)


def _concat(*args):
    return "".join(str(a) for a in args if a is not None)


def _now() -> str:
    return _dt.datetime.fromtimestamp(hostfaults.now()).isoformat(sep=" ", timespec="microseconds")


def _ts_shift(v, modifier):
    """DM_TS(ts, '+N seconds'): timestamp arithmetic keeping microseconds."""
    d = _parse_dt(v)
    if d is None:
        return None
    secs = float(str(modifier).split()[0])
    return (d + _dt.timedelta(seconds=secs)).isoformat(sep=" ", timespec="microseconds")


def _lengthb(s):
    if s is None:
        return None
    return len(s) if isinstance(s, bytes) else len(str(s).encode())


def _nvl2(a, b, c):
    return b if a is not None else c


class _BigSum:
    """SUM with unbounded integers (used when SQLite's 64-bit SUM overflows, as DM's exact sum does not)."""

    def __init__(self):
        self.total = None

    def step(self, v):
        if v is None:
            return
        if isinstance(v, str):
            v = float(v) if "." in v else int(v)
        self.total = v if self.total is None else self.total + v

    def finalize(self):
        t = self.total
        if isinstance(t, int) and not -2 ** 63 <= t < 2 ** 63:
            return str(t)
        return t


def _md5(v):
    """MD5 of the value's UTF-8 text as 32 hex digits (lower case: unverified against DM8, see README)."""
    return None if v is None else hashlib.md5(_text(v).encode("utf-8")).hexdigest()


def _hashcode(v):
    """HASHCODE(str): a 32-bit signed hash of the text. DM8's own algorithm is not documented; this is
    the h = 31*h + code unit recurrence over UTF-16 (unverified, see README)."""
    if v is None:
        return None
    h = 0
    data = _text(v).encode("utf-16-be")
    for k in range(0, len(data), 2):
        h = (31 * h + (data[k] << 8 | data[k + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def register(conn: sqlite3.Connection, session) -> None:
    """Register DM functions on a connection; `session` supplies sequences and system values."""
    det = {"deterministic": True}
    conn.create_function("DM_RSTR", 2, _make_rstr())
    conn.create_function("DECODE", -1, _decode, **det)
    conn.create_function("TO_CHAR", -1, _to_char, **det)
    conn.create_function("TO_DATE", -1, _to_date, **det)
    conn.create_function("TO_TIMESTAMP", -1, _to_date, **det)
    conn.create_function("TO_NUMBER", -1, _to_number, **det)
    conn.create_function("MOD", 2, _mod, **det)
    conn.create_function("DM_TRUNC", -1, _trunc, **det)
    conn.create_function("LPAD", -1, _pad(True), **det)
    conn.create_function("RPAD", -1, _pad(False), **det)
    conn.create_function("CONCAT", -1, _concat, **det)
    conn.create_function("LENGTHB", 1, _lengthb, **det)
    conn.create_function("NVL2", 3, _nvl2, **det)
    conn.create_function("DM_NOW", 0, _now)
    conn.create_function("DM_CAT", -1, _cat, **det)
    conn.create_function("DM_TS", 2, _ts_shift, **det)
    conn.create_aggregate("DM_SUM", 1, _BigSum)
    conn.create_function("MD5", 1, _md5, **det)
    conn.create_function("HASHCODE", 1, _hashcode, **det)
    conn.create_function("SYS_GUID", 0, lambda: uuid.uuid4().hex.upper())
    conn.create_function("DM_NEXTVAL", 1, session.nextval)
    conn.create_function("DM_CURRVAL", 1, session.currval)
    conn.create_function("DM_SYSFN", 1, session.sysfn)
