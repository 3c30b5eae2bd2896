"""disql's input: lines collected into complete statements (';', '/' after PL blocks, one-line commands)."""

from __future__ import annotations

import re

_PL = re.compile(r"(?is)^\s*(begin|declare|create\s+(or\s+replace\s+)?(procedure|function|trigger|package))\b")
_NO_SEMI = re.compile(r"(?i)^\s*(exit|quit|conn|connect|disconn|disconnect|host|set|show|start|`|@|!|login|logout)\b")


def statement_complete(buf: list[str]) -> bool:
    """True when the lines in `buf` form a complete statement (';' or a disql command; PL blocks need '/')."""
    if not buf:
        return False
    first, last = buf[0], buf[-1].rstrip()
    if _PL.match(first):
        return last.strip() == "/"
    if len(buf) == 1 and (_NO_SEMI.match(first) or first.lstrip().startswith("`")):
        return True
    return last.endswith(";") or last.strip() == "/"


def _segments(line: str) -> list[str]:
    """Split a line after each ';' outside quotes ("select 1; select 2;" is two statements)."""
    out, cur, quote = [], "", ""
    for ch in line:
        cur += ch
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            out.append(cur)
            cur = ""
    if cur.strip() or not out:
        out.append(cur)
    return [seg.strip() if i else seg.rstrip() for i, seg in enumerate(out)]


class StatementBuffer:
    """Collects input lines into complete statements (shared by scripts, -e and the prompt)."""

    def __init__(self):
        self.buf: list[str] = []

    def feed(self, line: str) -> list[str]:
        pl = bool(self.buf and _PL.match(self.buf[0])) or (not self.buf and _PL.match(line))
        parts = [line] if pl or _NO_SEMI.match(line) and not self.buf else _segments(line)
        done = []
        for part in parts:
            if not self.buf and not part.strip():
                continue
            self.buf.append(part)
            if statement_complete(self.buf):
                done.append(_join(self.buf))
                self.buf = []
        return done

    def rest(self) -> str | None:
        text = _join(self.buf) if self.buf and "".join(self.buf).strip() else None
        self.buf = []
        return text


def split_statements(lines: list[str]) -> list[str]:
    sb = StatementBuffer()
    out = [stmt for line in lines for stmt in sb.feed(line)]
    rest = sb.rest()
    return out + ([rest] if rest else [])


def _join(buf: list[str]) -> str:
    text = "\n".join(buf).rstrip()
    if text.endswith("\n/") or text == "/":
        text = text[:-1].rstrip()
    return text
