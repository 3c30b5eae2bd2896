"""disql's result grid: value formatting, byte-counted column widths, 行号/LINEID, header every PAGESIZE rows."""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import TYPE_CHECKING

from ..lang import is_en

if TYPE_CHECKING:
    from .disql import Settings


def fmt_value(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, _dt.datetime):
        return v.isoformat(" ", "microseconds") if v.microsecond else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "0x" + bytes(v).hex().upper()
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _w(s: str) -> int:
    """Column width as DM's disql counts it (bytes of the UTF-8 text)."""
    return len(s.encode("utf-8"))


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _w(s))


def render_grid(names: list[str], widths_hint: list[int | None], rows: list[tuple], st: Settings,
                first_line: int = 1) -> list[str]:
    """The result grid: optional 行号 column, header + dashes every `pagesize` rows, `colsep` between."""
    en = is_en()
    cells = [[fmt_value(v) for v in r] for r in rows]
    widths = []
    for i, n in enumerate(names):
        w = max([_w(n)] + [_w(c[i]) for c in cells])
        if widths_hint[i]:
            w = max(w, widths_hint[i])
        widths.append(w)
    if st.lineshow:
        names = ["LINEID" if en else "行号"] + names
        widths = [10] + widths
        cells = [[str(first_line + k)] + c for k, c in enumerate(cells)]
    sep = st.colsep
    header = [sep.join(_pad(n, w) for n, w in zip(names, widths, strict=True)).rstrip(),
              sep.join("-" * w for w in widths)]
    out: list[str] = []
    page = st.pagesize if st.pagesize > 0 else max(1, len(cells))
    for k, c in enumerate(cells):
        if st.heading and k % page == 0:
            if k:
                out.append("")
            out.extend(header)
        out.append(sep.join(_pad(v, w) for v, w in zip(c, widths, strict=True)).rstrip())
    if not cells and st.heading:
        out.extend(header)
    return out


_NUM_WIDTH = {"INT": 11, "INTEGER": 11, "BIGINT": 20, "SMALLINT": 6, "TINYINT": 4, "BYTE": 4}


def _width_hint(desc: tuple) -> int | None:
    tname = getattr(desc[1], "__name__", str(desc[1])).upper()
    for k, w in _NUM_WIDTH.items():
        if k in tname:
            return w
    if "NUMBER" in tname or "DECIMAL" in tname:
        return 20 if desc[4] in (None, 0) else min(40, int(desc[4]) + 2)
    return None
