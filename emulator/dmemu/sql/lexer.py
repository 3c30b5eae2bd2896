"""Tokenizer for DM8 SQL text (shared by the translator and the DDL parser).

Tokens keep the whitespace that preceded them so a translated statement can be re-emitted with its
original spacing (SQLite names expression columns after their text, and DM shows e.g. `COUNT(*)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DmError, err

_TOKEN = re.compile(r"""
    (?P<ws>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<str>[Nn]?'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")*")
  | (?P<num>(?:\d+\.(?!\.)\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<param>\?|:[A-Za-z0-9_]+)
  | (?P<id>[A-Za-z_\u0080-\uffff][A-Za-z0-9_$#\u0080-\uffff]*)
  | (?P<op>\.\.|\|\||<=|>=|<>|!=|:=|=>|[-+*/%(),.;=<>!&|~\[\]{}@^])
""", re.S | re.X)

# clause keywords: they end a table reference (no alias) and are never a function name before '('
STOP = {
    "WHERE", "GROUP", "ORDER", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "ON", "USING", "UNION",
    "INTERSECT", "MINUS", "EXCEPT", "CONNECT", "START", "HAVING", "LIMIT", "SET", "VALUES", "SELECT",
    "WINDOW", "FOR", "TOP", "WITH", "OFFSET", "NATURAL", "OUTER", "RETURNING", "AS", "FETCH", "PARTITION",
    "DEFAULT", "INDEXED", "NOT",
}


@dataclass
class Tok:
    """One token: kind in id/qid/str/num/param/op; `ws` is the whitespace before it."""

    kind: str
    text: str
    ws: str = ""
    raw: str = ""                 # the source text when `text` was case-folded (quoted identifiers)

    @property
    def verbatim(self) -> str:
        """A quoted identifier's content exactly as written (passwords keep their case)."""
        return (self.raw or self.text)[1:-1].replace('""', '"') if self.kind == "qid" else self.text

    @property
    def up(self) -> str:
        """Upper-cased text for unquoted identifiers and keywords, the text itself otherwise."""
        return self.text.upper() if self.kind == "id" else self.text

    @property
    def name(self) -> str:
        """The identifier this token names: unquoted upper-cased (CASE_SENSITIVE=0), quoted verbatim."""
        if self.kind == "qid":
            return self.text[1:-1].replace('""', '"')
        return self.text.upper()

    def is_(self, *words: str) -> bool:
        return self.kind == "id" and self.text.upper() in words


def tokenize(sql: str, fold_quoted: bool = True) -> list[Tok]:
    """Split SQL into tokens; raises DmError(-2007) on a character that starts no token.

    fold_quoted: CASE_SENSITIVE=0 databases compare every identifier case-insensitively, so quoted
    identifiers are upper-cased too (DM stores names upper-case there).
    """
    out: list[Tok] = []
    pos, ws = 0, ""
    n = len(sql)
    while pos < n:
        m = _TOKEN.match(sql, pos)
        if m is None:
            if sql[pos] == "'":
                raise DmError(-2007, _lit_msg())
            raise err(-2007)
        kind = m.lastgroup or ""
        if kind == "ws":
            ws += " " if m.group().startswith(("--", "/*")) else m.group()
        else:
            text = raw = m.group()
            if kind == "qid" and fold_quoted:
                text = text.upper()
            out.append(Tok(kind, text, ws, raw if text != raw else ""))
            ws = ""
        pos = m.end()
    return out


def _lit_msg() -> str:
    from ..lang import msg
    return msg("-2007")


def emit(toks: list[Tok]) -> str:
    """Join tokens back into text with their original spacing."""
    return "".join(t.ws + t.text for t in toks).strip()


def match_paren(toks: list[Tok], i: int) -> int:
    """Index of the ')' closing the '(' at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind == "op":
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
                if depth == 0:
                    return j
    raise err(-2007)


def find_top(toks: list[Tok], i: int, words: tuple[str, ...] = (), ops: tuple[str, ...] = ()) -> int:
    """Index of the first token at or after i, outside parentheses, that is one of the keywords `words`
    or operators `ops`; len(toks) when there is none."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if depth == 0 and (t.is_(*words) or (t.kind == "op" and t.text in ops)):
            return j                      # ops=(")",) finds the ')' closing the enclosing scope
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
    return len(toks)


def split_top(toks: list[Tok], sep: str = ",") -> list[list[Tok]]:
    """Split a token list at depth-0 separators (commas by default)."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == sep:
            parts.append([])
            continue
        parts[-1].append(t)
    return parts


def quote(name: str) -> str:
    """SQLite-quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def unquote_str(text: str) -> str:
    """Value of a string literal token ('..' or N'..')."""
    if text[:1] in "Nn":
        text = text[1:]
    return text[1:-1].replace("''", "'")
