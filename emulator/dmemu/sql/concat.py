"""DM's string concatenation: `a || b || c` -> DM_CAT(a, b, c), since DM (like Oracle) treats a NULL
operand as '' while SQLite's || yields NULL. Works on translated tokens, finding each operand's extent."""

from __future__ import annotations

from .lexer import STOP, Tok, match_paren

_OPS = {"+", "-", "*", "/", "%", "(", ")", ",", ".", ";", "=", "<", ">", "<=", ">=", "<>", "!=", "||", "&", "|",
        "~", "!", ":=", "=>", "[", "]", "{", "}", "@", "^"}


def _atom(t: Tok) -> bool:
    return t.kind in ("id", "qid", "num", "str", "param") or (t.kind == "op" and t.text not in _OPS)


def _left_operand(out: list[Tok], k: int) -> int:
    """Start index of the primary expression ending at out[k]."""
    t = out[k]
    if t.text == ")":
        d = 0
        for j in range(k, -1, -1):
            if out[j].text == ")":
                d += 1
            elif out[j].text == "(":
                d -= 1
                if d == 0:
                    return j - 1 if j > 0 and out[j - 1].kind == "id" and out[j - 1].up not in STOP else j
        return 0
    if t.kind == "id" and t.up == "END":
        d = 0
        for j in range(k, -1, -1):
            if out[j].is_("END"):
                d += 1
            elif out[j].is_("CASE"):
                d -= 1
                if d == 0:
                    return j
        return 0
    j = k
    while j >= 2 and out[j - 1].text == "." and _atom(out[j - 2]):
        j -= 2
    return j


def _right_operand(out: list[Tok], k: int) -> int:
    """End index of the primary expression starting at out[k]."""
    j = k
    if out[j].text in ("-", "+") and j + 1 < len(out):
        j += 1
    t = out[j]
    if t.kind == "id" and t.up == "CASE":
        d = 0
        for m in range(j, len(out)):
            if out[m].is_("CASE"):
                d += 1
            elif out[m].is_("END"):
                d -= 1
                if d == 0:
                    return m
        return len(out) - 1
    if t.kind == "id" and j + 1 < len(out) and out[j + 1].text == "(":
        return match_paren(out, j + 1)
    if t.text == "(":
        return match_paren(out, j)
    while j + 2 < len(out) and out[j + 1].text == "." and _atom(out[j + 2]):
        j += 2
    return j


def concat_chains(out: list[Tok]) -> list[Tok]:
    """a || b || c -> DM_CAT(a, b, c): DM (like Oracle) treats a NULL operand as '' (NULL only if all are)."""
    if not any(t.kind == "op" and t.text == "||" for t in out):
        return out
    res = list(out)
    k = 0
    while k < len(res):
        if not (res[k].kind == "op" and res[k].text == "||") or k == 0 or k + 1 >= len(res):
            k += 1
            continue
        start = _left_operand(res, k - 1)
        parts = [res[start:k]]
        pos = k
        while pos < len(res) and res[pos].kind == "op" and res[pos].text == "||" and pos + 1 < len(res):
            end = _right_operand(res, pos + 1)
            parts.append(res[pos + 1:end + 1])
            pos = end + 1
        text = "DM_CAT(" + ", ".join("".join(x.ws + x.text for x in p).strip() for p in parts) + ")"
        res[start:pos] = [Tok("op", text, res[start].ws)]
        k = start + 1
    return res
