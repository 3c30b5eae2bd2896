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
                    r"|\[CODE\s*:\s*(?P<code>-\d+)\]"
                    r"|^\s*\[(?P<bare>-\d+)\]", re.I | re.M)
_SERVER = re.compile(r"(?:服务器|Server)\s*\[(?P<server>[^\]]+)\]\s*[:：]\s*(?P<status>[^\r\n]*)", re.I)
_DASHES = re.compile(r"^\s*-{2,}(?:\s+-{2,})*\s*$")


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


def disql_login(text: str) -> DisqlLogin:
    """disql logged in when it names the server it reached and printed no DM error before that."""
    m = _SERVER.search(text)
    err = dm_error(text)
    if m is None or (err is not None and text.find(err.text) < m.start()):
        return DisqlLogin(False)
    return DisqlLogin(True, m.group("server").strip(), m.group("status").strip())


@dataclasses.dataclass
class Grid:
    """A result grid: column names and rows of cell texts (blank cells kept blank)."""

    columns: list[str]
    rows: list[list[str]]


def grids(text: str) -> list[Grid]:
    """Every result grid in disql's output, columns located from the dash line under the header."""
    lines = text.splitlines()
    out: list[Grid] = []
    for i, line in enumerate(lines):
        if i == 0 or not _DASHES.match(line) or not lines[i - 1].strip():
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"-+", line)]
        starts = [s for s, _ in spans] + [10 ** 6]

        def cut(row: str, starts: list[int] = starts) -> list[str]:
            return [row[a:b].strip() for a, b in zip(starts, starts[1:], strict=False)]

        head = lines[i - 1]
        cols = cut(head)
        if len([c for c in cols if c]) != len(spans):
            cols = head.split()
        rows = []
        for row in lines[i + 1:]:
            if not row.strip():
                break
            cells = cut(row)
            if len(row.split()) == len(spans) and any(c == "" for c in cells):
                cells = row.split()  # whitespace collapsed
            rows.append(cells)
        out.append(Grid(cols, rows))
    return out
