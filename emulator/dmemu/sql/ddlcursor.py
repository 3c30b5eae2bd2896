"""The token cursor DDL statements are parsed with (DM syntax, errors as DM's -2007)."""

from __future__ import annotations

from ..errors import err
from . import messages as M
from .lexer import Tok, match_paren


class P:
    """Token cursor."""

    def __init__(self, toks: list[Tok]):
        self.t = toks
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at(self, *words: str) -> bool:
        p = self.peek()
        return p is not None and (p.is_(*words) or (p.kind == "op" and p.text in words))

    def take(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def need(self, *words: str) -> Tok:
        p = self.peek()
        if p is None or not (p.is_(*words) or (p.kind == "op" and p.text in words)):
            raise err(M.SYNTAX, "-2007")
        self.i += 1
        return p

    def ident(self) -> str:
        p = self.peek()
        if p is None or p.kind not in ("id", "qid"):
            raise err(M.SYNTAX, "-2007")
        self.i += 1
        return p.name

    def qname(self, default_schema: str) -> tuple[str, str]:
        a = self.ident()
        if self.at(".") and self.peek(1) is not None and self.peek(1).kind in ("id", "qid"):
            self.i += 1
            return a, self.ident()
        return default_schema, a

    def number(self) -> int:
        neg = self.take("-")
        p = self.peek()
        if p is None or p.kind != "num":
            raise err(M.SYNTAX, "-2007")
        self.i += 1
        v = int(float(p.text))
        return -v if neg else v

    def rest(self) -> list[Tok]:
        r = self.t[self.i:]
        self.i = len(self.t)
        return r

    def paren(self) -> list[Tok]:
        """Tokens inside the parenthesis at the cursor (consumed)."""
        if not self.at("("):
            raise err(M.SYNTAX, "-2007")
        close = match_paren(self.t, self.i)
        inner = self.t[self.i + 1:close]
        self.i = close + 1
        return inner

    def done(self) -> bool:
        return self.i >= len(self.t)
