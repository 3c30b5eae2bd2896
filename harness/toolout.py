"""Readers of the plain output of DM's command-line tools (disql, dmrman, dminit, dmserver).

Decisions rest on exit status and DM error codes, never on a success sentence. disql prints an error as
`第1 行附近出现错误[-2007]:...` (Chinese), `line 1, has error[-2018]: ...` (English) or a bare
`[-70028]:...`; dmrman and dminit print `[-N]:...` or `[CODE:-N]`. Query results come as a grid: a header
line, a line of dashes per column, rows up to a blank line.
"""

from __future__ import annotations

import dataclasses
import re

_ERROR = re.compile(r"第\s*(?P<cn_line>\d+)\s*行附近出现错误\s*\[(?P<cn>-\d+)\]"
                    r"|line\s+(?P<en_line>\d+),\s*has error\s*\[(?P<en>-\d+)\]"
                    r"|\[CODE\s*:\s*(?P<code>-\d+)\]|\bcode\s*(?:=\s*|\()(?P<eq>-\d+)"
                    r"|^\s*\[(?P<bare>-\d+)\]", re.I | re.M)
_SERVER = re.compile(r"(?:服务器|Server)\s*\[(?P<server>[^\]]+)\]\s*[:：]\s*(?P<status>[^\r\n]*)", re.I)
_DASHES = re.compile(r"^\s*-{2,}(?:\s+-{2,})*\s*$")
_LOGIN_TIME = re.compile(r"(?:登录使用时间|login used time)\s*[:：]\s*([\d.]+)", re.I)
_ELAPSED = re.compile(r"(?:已用时间|used time)\s*[:：]\s*([\d.]+).*?(?:执行号|Execute id is)\s*[:：]?\s*(\d+)",
                      re.I | re.S)


@dataclasses.dataclass
class DmError:
    """An explicit DM error a tool printed: its code, the script line when given, the text."""

    code: int
    line: int | None
    text: str


def dm_error(text: str) -> DmError | None:
    """The first DM error in a tool's output, or None."""
    m = _ERROR.search(text)
    if m is None:
        return None
    code = next(int(v) for k, v in m.groupdict().items() if v and not k.endswith("line"))
    line = m.group("cn_line") or m.group("en_line")
    end = text.find("\n", m.end())
    return DmError(code, int(line) if line else None, text[m.start():end if end >= 0 else None].strip())


@dataclasses.dataclass
class DisqlLogin:
    """What disql's banner says about its login."""

    ok: bool
    server: str = ""
    status: str = ""
    login_time_ms: float | None = None


def disql_login(text: str) -> DisqlLogin:
    """disql logged in when it names the server it reached and printed no DM error before that."""
    m = _SERVER.search(text)
    err = dm_error(text)
    if m is None or (err is not None and text.find(err.text) < m.start()):
        return DisqlLogin(False)
    status = m.group("status").strip()
    t = _LOGIN_TIME.search(text)
    return DisqlLogin(True, m.group("server").strip(), status[2:] if status.startswith("处于") else status,
                      float(t.group(1)) if t else None)


@dataclasses.dataclass
class Grid:
    """A result grid: column names and rows of cell texts (blank cells kept blank)."""

    columns: list[str]
    rows: list[list[str]]
    elapsed_ms: float | None = None
    exec_id: int | None = None
    wrapped: bool = False  # disql printed each row over several lines


def _cutter(dash: str) -> list[int]:
    return [m.start() for m in re.finditer(r"-+", dash)] + [10 ** 6]


def _cut(row: str, starts: list[int]) -> list[str]:
    """Cells by the dash line's offsets, which disql counts in bytes of the UTF-8 text (行号 is 6 wide)."""
    raw = row.encode("utf-8")
    return [raw[a:b].decode("utf-8", errors="replace").strip() for a, b in zip(starts, starts[1:], strict=False)]


def grids(text: str) -> list[Grid]:
    """Every result grid in disql's output, columns located from the dash line under each header. A wide
    row disql wraps comes as several header/dash pairs, then each row as that many lines."""
    lines = text.splitlines()
    out: list[Grid] = []
    i = 1
    while i < len(lines):
        if not _DASHES.match(lines[i]) or not lines[i - 1].strip() or _DASHES.match(lines[i - 1]):
            i += 1
            continue
        segs = [(lines[i - 1], _cutter(lines[i]))]
        j = i + 1
        while j + 1 < len(lines) and _DASHES.match(lines[j + 1]) and lines[j].strip():
            segs.append((lines[j], _cutter(lines[j + 1])))
            j += 2
        cols = [c for head, starts in segs for c in _cut(head, starts)]
        rows: list[list[str]] = []
        while j < len(lines) and lines[j].strip():
            row = [c for k, (_, starts) in enumerate(segs) if j + k < len(lines)
                   for c in _cut(lines[j + k], starts)]
            rows.append(row)
            j += len(segs)
        grid = Grid(cols, rows, wrapped=len(segs) > 1)
        tail = "\n".join(lines[j:j + 3])
        if (m := _ELAPSED.search(tail)) is not None:
            grid.elapsed_ms, grid.exec_id = float(m.group(1)), int(m.group(2))
        out.append(grid)
        i = j
    return out
