"""Hierarchical row generation: `... FROM DUAL CONNECT BY LEVEL <= n` as a recursive CTE yielding LEVEL.

The translator asks `find` for a statement level's CONNECT BY clause and puts `row_source` in place of
DUAL; a subquery or a set-operation branch with its own CONNECT BY is translated as its own level
(`has_connect_by`, `set_branches`), so row generation works wherever a SELECT may appear.
"""

from __future__ import annotations

from collections.abc import Callable

from .lexer import Tok


def row_source(cb: dict, translate: Callable[[list[Tok]], str]) -> str:
    """Row source of DUAL CONNECT BY LEVEL <= n: column LEVEL = 1..n in order (n >= 1 rows, as DM);
    `translate` turns a bound expression into SQLite text."""
    ex = cb["expr"]
    if len(ex) == 1 and ex[0].kind == "num" and float(ex[0].text).is_integer():
        # literal bound: cross join of 0..999 blocks (CROSS JOIN fixes the loop order) is ~2.5x faster
        n = int(float(ex[0].text)) - (1 if cb["op"] == "<" else 0)
        n = max(n, 1)
        k = 1
        while 1000 ** k < n:
            k += 1
        terms = " + ".join(f'"$K{j}"."X" * {1000 ** (k - 1 - j)}' for j in range(k))
        joins = " CROSS JOIN ".join(f'"$K" AS "$K{j}"' for j in range(k))
        return ('(WITH RECURSIVE "$K"("X") AS (SELECT 0 UNION ALL SELECT "X" + 1 FROM "$K" WHERE "X" < 999) '
                f'SELECT {terms} + 1 AS "LEVEL" FROM {joins} LIMIT {n})')
    expr = translate(ex)
    cond = '"L" < (' + expr + ")" if cb["op"] == "<=" else '"L" + 1 < (' + expr + ")"
    return ('(WITH RECURSIVE "$CB"("L") AS (SELECT 1 UNION ALL SELECT "L" + 1 FROM "$CB" WHERE '
            + cond + ') SELECT "L" AS "LEVEL" FROM "$CB")')


def find(toks: list[Tok]) -> dict | None:
    """The top-level CONNECT BY LEVEL|ROWNUM <|<= bound clause: token span, operator and bound."""
    depth = 0
    for i, t in enumerate(toks):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif (depth == 0 and t.is_("CONNECT") and i + 3 < len(toks) and toks[i + 1].is_("BY")
              and toks[i + 2].is_("LEVEL", "ROWNUM") and toks[i + 3].text in ("<=", "<")):
            j, d = i + 4, 0
            while j < len(toks):
                u = toks[j]
                if u.text == "(":
                    d += 1
                elif u.text == ")":
                    if d == 0:
                        break
                    d -= 1
                elif d == 0 and u.is_("ORDER", "GROUP", "UNION", "MINUS", "EXCEPT", "INTERSECT", "WHERE",
                                      "HAVING", "LIMIT", "START"):
                    break
                j += 1
            return {"start": i, "end": j, "op": toks[i + 3].text, "expr": toks[i + 4:j], "used": False}
    return None


_SET_OPS = ("UNION", "INTERSECT", "MINUS", "EXCEPT")


def has_connect_by(toks: list[Tok]) -> bool:
    """True when CONNECT BY appears at the top level of these tokens (not inside parentheses)."""
    depth = 0
    for i, t in enumerate(toks[:-1]):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.is_("CONNECT") and toks[i + 1].is_("BY"):
            return True
    return False


def set_branches(toks: list[Tok]) -> list[list[Tok]]:
    """Split at top-level set operators: [branch, [op tokens], branch, ...]."""
    parts: list[list[Tok]] = [[]]
    depth, i = 0, 0
    while i < len(toks):
        t = toks[i]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.is_(*_SET_OPS) and parts[-1]:
            op = [t]
            if i + 1 < len(toks) and toks[i + 1].is_("ALL", "DISTINCT"):
                i += 1
                op.append(toks[i])
            parts += [op, []]
            i += 1
            continue
        parts[-1].append(t)
        i += 1
    return parts
