"""Plain values to JSON bytes and back, without an executable encoding.

Used for everything one emulator process hands another (Data Watch frames, redo packages) and for the
redo the instance writes to its online log and archives: decoding never builds anything but plain values
(api.py lists them: int, float, Decimal, str, bytes, bool, date/time/datetime, None, lists and dicts with
string keys). Tuples come back as lists. Non-JSON values travel as one-key objects under TAG; bytes either
inline as base64 or, for frames, as a reference into a binary section the caller keeps (`on_bytes`).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable

TAG = "\u0000t"                       # key of a tagged value; no SQL value or protocol field uses it

_DECODE: dict[str, Callable[[object], object]] = {
    "b64": lambda v: base64.b64decode(_str(v), validate=True),
    "dec": lambda v: decimal.Decimal(_str(v)),
    "dt": lambda v: dt.datetime.fromisoformat(_str(v)),
    "date": lambda v: dt.date.fromisoformat(_str(v)),
    "time": lambda v: dt.time.fromisoformat(_str(v)),
}


class CodecError(ValueError):
    """The bytes are not a value this codec produced (malformed, hostile or truncated input)."""


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise CodecError("tagged value is not a string")
    return v


def _tagged(kind: str, value: object) -> dict:
    return {TAG: [kind, value]}


def dumps(obj: object, on_bytes: Callable[[bytes], object] | None = None) -> bytes:
    """`obj` as UTF-8 JSON; bytes go through `on_bytes` (its result is stored instead) or base64."""

    def default(o: object) -> object:
        if isinstance(o, (bytes, bytearray, memoryview)):
            if on_bytes is not None:
                return _tagged("ref", on_bytes(bytes(o)))
            return _tagged("b64", base64.b64encode(o).decode("ascii"))
        if isinstance(o, decimal.Decimal):
            return _tagged("dec", str(o))
        if isinstance(o, dt.datetime):
            return _tagged("dt", o.isoformat())
        if isinstance(o, dt.date):
            return _tagged("date", o.isoformat())
        if isinstance(o, dt.time):
            return _tagged("time", o.isoformat())
        if isinstance(o, (set, frozenset)) or hasattr(o, "__iter__"):
            return list(o)                          # lazy op sequences (sql.redo.TxnOps), sets
        raise TypeError(f"cannot encode {type(o).__name__}")

    return json.dumps(obj, default=default, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes, on_ref: Callable[[object], object] | None = None) -> object:
    """The value `dumps` encoded; CodecError for anything else (bad UTF-8/JSON, unknown tags, deep nesting)."""

    def hook(d: dict) -> object:
        if TAG not in d:
            return d
        tv = d[TAG]
        if len(d) != 1 or not isinstance(tv, list) or len(tv) != 2 or not isinstance(tv[0], str):
            raise CodecError("malformed tagged value")
        kind, value = tv
        if kind == "ref" and on_ref is not None:
            return on_ref(value)
        fn = _DECODE.get(kind)
        if fn is None:
            raise CodecError(f"unknown tag {kind!r}")
        return fn(value)

    try:
        return json.loads(data.decode("utf-8"), object_hook=hook)
    except CodecError:
        raise
    except (ValueError, TypeError, RecursionError, decimal.InvalidOperation) as e:
        raise CodecError(f"{type(e).__name__}: {str(e)[:120]}") from None
