"""MERGE INTO (Oracle-style, as DM8 accepts it) rewritten as an UPDATE ... FROM and an INSERT ... SELECT.

    MERGE INTO t [a] USING {src | (subquery)} [s] ON (cond)
      WHEN MATCHED THEN UPDATE SET c = e, ... [WHERE c2]
      WHEN NOT MATCHED THEN INSERT [(c, ...)] VALUES (e, ...) [WHERE c3]

Both halves are ordinary DM statements run through the session's DML path, so their row images reach
redo (and a standby) exactly like any UPDATE and INSERT; the engine runs them as one statement (one
savepoint) in one transaction. The UPDATE runs first and the INSERT only takes source rows that match no
target row, which gives MERGE's "matched rows before the statement" semantics as long as the UPDATE does
not change the ON columns (DM8, like Oracle, refuses that).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api import Result
from ..errors import err
from . import messages as M
from .lexer import Tok, find_top, match_paren, split_top


@dataclass
class MergePlan:
    """The DM statements a MERGE runs, each with the indexes of the caller's parameters it binds."""

    steps: list[tuple[list[Tok], list[int]]]


def _w(text: str, kind: str = "id") -> Tok:
    return Tok(kind, text, " ")


def _syntax(what: str) -> Exception:
    return err(M.SYNTAX, "sql_unsupported", what=f"MERGE: {what}")


def _name_and_alias(toks: list[Tok], i: int, stop: str) -> tuple[list[Tok], list[Tok], int]:
    """[schema.]name or (subquery), then an optional [AS] alias, ending before `stop`."""
    end = find_top(toks, i, (stop,))
    if end == i:
        raise _syntax("missing table")
    if toks[i].text == "(":
        close = match_paren(toks, i)
        ref, rest = toks[i:close + 1], toks[close + 1:end]
    else:
        j = i + 1
        while j + 1 < end and toks[j].text == "." and toks[j + 1].kind in ("id", "qid"):
            j += 2
        ref, rest = toks[i:j], toks[j:end]
    if rest and rest[0].is_("AS"):
        rest = rest[1:]
    if len(rest) > 1 or (rest and rest[0].kind not in ("id", "qid")):
        raise err(M.SYNTAX, "-2007")
    return ref, rest, end


def plan(toks: list[Tok]) -> MergePlan:
    """Parse MERGE tokens into its UPDATE and INSERT steps (DmError -2007 on what DM8 would reject)."""
    if len(toks) < 2 or not toks[1].is_("INTO"):
        raise err(M.SYNTAX, "-2007")
    target, talias, i = _name_and_alias(toks, 2, "USING")
    if i >= len(toks):
        raise err(M.SYNTAX, "-2007")
    source, salias, i = _name_and_alias(toks, i + 1, "ON")
    if i >= len(toks):
        raise err(M.SYNTAX, "-2007")
    end = find_top(toks, i + 1, ("WHEN",))
    on = toks[i + 1:end]
    if not on:
        raise err(M.SYNTAX, "-2007")
    if on[0].text == "(" and match_paren(on, 0) == len(on) - 1:
        on = on[1:-1]
    pnum = {id(t): k for k, t in enumerate(x for x in toks if x.kind == "param")}
    steps: list[list[Tok]] = []
    seen: set[str] = set()
    while end < len(toks):
        nxt = find_top(toks, end + 1, ("WHEN",))
        clause = toks[end:nxt]
        which = _clause_kind(clause)
        if which in seen:
            raise err(M.SYNTAX, "-2007")
        seen.add(which)
        body = clause[4:] if which == "MATCHED" else clause[5:]
        if which == "MATCHED":
            steps.append(_update(body, target, talias, source, salias, on))
        else:
            steps.append(_insert(body, target, talias, source, salias, on))
        end = nxt
    if not steps:
        raise err(M.SYNTAX, "-2007")
    steps.sort(key=lambda st: 0 if st[0].is_("UPDATE") else 1)      # matched rows are those before the INSERT
    return MergePlan([(_spaced(st), [pnum[id(t)] for t in st if id(t) in pnum]) for st in steps])


def _spaced(toks: list[Tok]) -> list[Tok]:
    """Copies of the tokens with a space wherever two words were glued by the reassembly."""
    out: list[Tok] = []
    for t in toks:
        glued = out and not t.ws and t.kind != "op" and out[-1].kind != "op"
        out.append(Tok(t.kind, t.text, " " if glued else t.ws, t.raw))
    return out


def _clause_kind(clause: list[Tok]) -> str:
    if len(clause) >= 4 and clause[1].is_("MATCHED") and clause[2].is_("THEN") and clause[3].is_("UPDATE"):
        return "MATCHED"
    if (len(clause) >= 5 and clause[1].is_("NOT") and clause[2].is_("MATCHED") and clause[3].is_("THEN")
            and clause[4].is_("INSERT")):
        return "NOT MATCHED"
    if len(clause) >= 4 and clause[1].is_("MATCHED") and clause[3].is_("DELETE"):
        raise _syntax("WHEN MATCHED THEN DELETE")
    raise err(M.SYNTAX, "-2007")


def _paren(toks: list[Tok]) -> list[Tok]:
    return [_w("(", "op"), *toks, Tok("op", ")", "")]


def _from(source: list[Tok], salias: list[Tok]) -> list[Tok]:
    return [_w("FROM"), *source, *salias]


def _update(body: list[Tok], target, talias, source, salias, on) -> list[Tok]:
    if not body or not body[0].is_("SET"):
        raise err(M.SYNTAX, "-2007")
    where_at = find_top(body, 1, ("WHERE", "DELETE"))
    if where_at < len(body) and body[where_at].is_("DELETE"):
        raise _syntax("UPDATE ... DELETE WHERE")
    sets = []
    for item in split_top(body[1:where_at]):
        eq = next((k for k, t in enumerate(item) if t.text == "="), None)
        if eq is None or eq == 0:
            raise err(M.SYNTAX, "-2007")
        col = item[eq - 1]                      # a.col = ... -> col = ... (SQLite: unqualified targets)
        if any(t.name == col.name for t in _on_columns(on)):
            raise _syntax(f"ON column {col.name} updated")
        sets.append([Tok(col.kind, col.text, " "), *item[eq:]])
    out = [_w("UPDATE"), *target, *talias, _w("SET")]
    for n, s in enumerate(sets):
        if n:
            out.append(Tok("op", ",", ""))
        out.extend(s)
    out += _from(source, salias) + [_w("WHERE")] + _paren(on)
    if where_at < len(body):
        out += [_w("AND")] + _paren(body[where_at + 1:])
    return out


def _on_columns(on: list[Tok]) -> list[Tok]:
    """Identifiers on the left of '=' in the ON condition (the target's key columns, by convention)."""
    return [on[k - 1] for k, t in enumerate(on) if t.text == "=" and k > 0 and on[k - 1].kind in ("id", "qid")]


def _insert(body: list[Tok], target, talias, source, salias, on) -> list[Tok]:
    k = 0
    cols: list[Tok] = []
    if body and body[0].text == "(":
        close = match_paren(body, 0)
        cols = body[:close + 1]
        k = close + 1
    if k >= len(body) or not body[k].is_("VALUES") or k + 1 >= len(body) or body[k + 1].text != "(":
        raise err(M.SYNTAX, "-2007")
    close = match_paren(body, k + 1)
    vals = body[k + 2:close]
    rest = body[close + 1:]
    if rest and not rest[0].is_("WHERE"):
        raise err(M.SYNTAX, "-2007")
    probe = [_w("SELECT"), _w("1", "num"), _w("FROM"), *target, *talias, _w("WHERE"), *on]
    out = [_w("INSERT"), _w("INTO"), *target, *cols, _w("SELECT"), *vals, *_from(source, salias),
           _w("WHERE"), _w("NOT"), _w("EXISTS"), *_paren(probe)]
    if rest:
        out += [_w("AND")] + _paren(rest[1:])
    return out


def execute(sess, toks: list[Tok], params) -> Result:
    """Run a MERGE on an engine session: both steps in one transaction and one statement savepoint."""
    try:
        mp = plan(toks)
    except IndexError:
        raise err(M.SYNTAX, "-2007") from None
    nparams = sum(1 for t in toks if t.kind == "param")
    p = sess._params(params, nparams)
    first = sess._translate(mp.steps[0][0], name_columns=False).target
    if first is None:
        raise err(M.SYNTAX, "-2007")
    sess._guard("temp" if first.info.get("temp") is not None else "dml", first.phys)
    auto = sess.autocommit
    sess.autocommit = False
    try:
        sess._begin()
        with sess._statement():
            n = sum(sess._dml(st[0].up, st, [p[k] for k in idx]).rowcount for st, idx in mp.steps)
    finally:
        sess.autocommit = auto
    if auto:
        sess._commit()
    return Result("dml", rowcount=n)
