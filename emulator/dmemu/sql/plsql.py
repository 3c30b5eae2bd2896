"""Anonymous DMSQL blocks: `[DECLARE ...] BEGIN ... END;` run statement by statement on a session.

Supported inside a block: declarations `v type [:= | DEFAULT expr]`, `v := expr;`, `NULL;`, nested
blocks, `FOR i IN [REVERSE] a..b LOOP ... END LOOP;`, `WHILE c LOOP ... END LOOP;`, `LOOP ... END LOOP;`
with `EXIT [WHEN c];`, `IF c THEN ... [ELSIF c THEN ...] [ELSE ...] END IF;`, any SQL statement (DML,
DDL, COMMIT, ROLLBACK) with variables used in expressions, `SELECT ... INTO v, ... FROM ...`,
`EXECUTE IMMEDIATE expr;`, `SQL%ROWCOUNT`, and `DBMS_OUTPUT.PUT_LINE(...)` (accepted, prints nothing).
A variable is replaced by its value as a literal before the statement is translated, except where a
table the statement names has a column of that name (the column wins, as in DM). Anything else (EXCEPTION handlers,
cursors, procedures) raises DmError -2007 "unsupported".

The block is one client statement: its DML runs in the session's transaction and is committed at the
end when the session autocommits (or by COMMIT inside it); its redo is that of the statements it ran.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from dataclasses import dataclass, field

from .. import lang
from ..api import Result
from ..errors import DmError, err
from . import messages as M
from .errmap import map_error
from .lexer import Tok, emit, find_top, match_paren, sql_literal, tokenize

lang.register({"no_data": ("没有找到数据", "No data found")})
NO_DATA = -7065


@dataclass
class Node:
    """One parsed statement: kind in block/assign/for/while/loop/exit/if/sql/null/exec."""

    kind: str
    toks: list[Tok] = field(default_factory=list)          # SQL text or expression
    name: str = ""
    body: list[Node] = field(default_factory=list)
    extra: list = field(default_factory=list)              # decls / (cond, body) arms / loop bounds


class _Exit(Exception):
    pass


def _unsupported(what: str) -> DmError:
    return err(M.SYNTAX, "sql_unsupported", what=what)


def _depth0(toks: list[Tok], i: int, words: tuple[str, ...] = (), ops: tuple[str, ...] = ()) -> int:
    """find_top, where reaching the end is a syntax error."""
    j = find_top(toks, i, words, ops)
    if j == len(toks):
        raise err(M.SYNTAX, "-2007")
    return j


class Parser:
    """Recursive descent over a block's tokens."""

    def __init__(self, toks: list[Tok]):
        self.t = toks
        self.i = 0

    def _at(self, *words: str) -> bool:
        return self.i < len(self.t) and self.t[self.i].is_(*words)

    def _expect(self, *words: str) -> None:
        if not self._at(*words):
            raise err(M.SYNTAX, "-2007")
        self.i += 1

    def _semi(self) -> None:
        if self.i < len(self.t) and self.t[self.i].text == ";":
            self.i += 1

    def _upto(self, *, words: tuple[str, ...] = (), ops: tuple[str, ...] = (";",)) -> list[Tok]:
        j = _depth0(self.t, self.i, words, ops)
        out = self.t[self.i:j]
        self.i = j
        return out

    def block(self) -> Node:
        decls: list[tuple[str, list[Tok]]] = []
        if self._at("DECLARE"):
            self.i += 1
            while not self._at("BEGIN"):
                decls.append(self._decl())
        self._expect("BEGIN")
        body = self.stmts(("END", "EXCEPTION"))
        if self._at("EXCEPTION"):
            raise _unsupported("EXCEPTION handlers in a block")
        self._expect("END")
        if self.i < len(self.t) and self.t[self.i].kind in ("id", "qid") and self.t[self.i].text != ";":
            self.i += 1                                         # END label
        self._semi()
        return Node("block", body=body, extra=decls)

    def _decl(self) -> tuple[str, list[Tok]]:
        toks = self._upto()
        self._semi()
        if not toks or toks[0].kind not in ("id", "qid"):
            raise err(M.SYNTAX, "-2007")
        if any(t.is_("CURSOR", "EXCEPTION", "TYPE", "PROCEDURE", "FUNCTION") for t in toks[:2]):
            raise _unsupported(f"DECLARE {emit(toks[:2])}")
        for k, t in enumerate(toks):
            if t.text == ":=" or t.is_("DEFAULT"):
                return toks[0].name, toks[k + 1:]
        return toks[0].name, []

    def stmts(self, stops: tuple[str, ...]) -> list[Node]:
        out: list[Node] = []
        while self.i < len(self.t) and not self._at(*stops):
            out.append(self.stmt())
        if self.i >= len(self.t):
            raise err(M.SYNTAX, "-2007")
        return out

    def stmt(self) -> Node:
        t = self.t[self.i]
        if t.is_("BEGIN", "DECLARE"):
            return self.block()
        if t.is_("FOR"):
            return self._for()
        if t.is_("WHILE", "LOOP"):
            cond: list[Tok] = []
            if t.is_("WHILE"):
                self.i += 1
                cond = self._upto(words=("LOOP",), ops=())
            return self._loop("while" if cond else "loop", cond)
        if t.is_("IF"):
            return self._if()
        if t.is_("EXIT"):
            self.i += 1
            cond = []
            if self._at("WHEN"):
                self.i += 1
                cond = self._upto()
            self._semi()
            return Node("exit", cond)
        if t.is_("NULL") and self.i + 1 < len(self.t) and self.t[self.i + 1].text == ";":
            self.i += 2
            return Node("null")
        toks = self._upto()
        self._semi()
        if not toks:
            return Node("null")
        if len(toks) > 2 and toks[0].kind in ("id", "qid") and toks[1].text == ":=":
            return Node("assign", toks[2:], toks[0].name)
        if toks[0].is_("EXECUTE", "EXEC") and len(toks) > 2 and toks[1].is_("IMMEDIATE"):
            return Node("exec", toks[2:])
        return Node("sql", toks)

    def _for(self) -> Node:
        self.i += 1
        var = self.t[self.i]
        self.i += 1
        self._expect("IN")
        rev = self._at("REVERSE")
        if rev:
            self.i += 1
        lo = self._upto(ops=("..",))
        self.i += 1
        hi = self._upto(words=("LOOP",), ops=())
        if not lo or not hi:
            raise err(M.SYNTAX, "-2007")
        node = self._loop("for", [])
        node.name = var.name
        node.extra = [lo, hi, rev]
        return node

    def _loop(self, kind: str, cond: list[Tok]) -> Node:
        self._expect("LOOP")
        body = self.stmts(("END",))
        self._expect("END")
        self._expect("LOOP")
        self._semi()
        return Node(kind, cond, body=body)

    def _if(self) -> Node:
        arms: list[tuple[list[Tok] | None, list[Node]]] = []
        self.i += 1
        while True:
            cond = self._upto(words=("THEN",), ops=())
            self.i += 1
            arms.append((cond, self.stmts(("ELSIF", "ELSEIF", "ELSE", "END"))))
            if self._at("ELSIF", "ELSEIF"):
                self.i += 1
                continue
            if self._at("ELSE"):
                self.i += 1
                arms.append((None, self.stmts(("END",))))
            break
        self._expect("END")
        self._expect("IF")
        self._semi()
        return Node("if", extra=arms)


def literal(v, ws: str) -> Tok:
    """A value as a SQL literal token (negative numbers in parentheses: `x-(-1)`, never `x--1`)."""
    if v is None:
        return Tok("id", "NULL", ws)
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, (int, float)) or type(v).__name__ == "Decimal":
        text = repr(v) if isinstance(v, float) else str(v)
        return Tok("op", f"({text})" if text.startswith("-") else text, ws)
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return Tok("str", sql_literal(v.isoformat(sep=" ") if isinstance(v, _dt.datetime) else v.isoformat()), ws)
    if isinstance(v, bytes):
        return Tok("op", f"X'{v.hex()}'", ws)
    return Tok("str", sql_literal(str(v)), ws)


class Runner:
    """Executes parsed nodes on an engine session with a stack of variable scopes."""

    def __init__(self, sess):
        self.sess = sess
        self.scopes: list[dict[str, object]] = []
        self.rowcount = 0

    def _lookup(self, name: str) -> tuple[bool, object]:
        for sc in reversed(self.scopes):
            if name in sc:
                return True, sc[name]
        return False, None

    def _columns(self, toks: list[Tok]) -> set[str]:
        """Column names in scope in a statement (a column wins over a variable of its name): those of
        the tables after FROM/JOIN/UPDATE (and MERGE INTO); an INSERT's VALUES sees none."""
        sess = self.sess
        cols: set[str] = set()
        scoped = ("FROM", "JOIN", "UPDATE", "INTO") if toks and toks[0].is_("MERGE") else ("FROM", "JOIN", "UPDATE")
        for i, t in enumerate(toks[:-1]):
            if t.is_(*scoped) and toks[i + 1].kind in ("id", "qid"):
                schema, name = sess.schema, toks[i + 1].name
                if i + 3 < len(toks) and toks[i + 2].text == "." and toks[i + 3].kind in ("id", "qid"):
                    schema, name = name, toks[i + 3].name
                o = sess.db.catalog.table(schema, name)
                if o is not None:
                    cols.update(c.name for c in o.columns)
        return cols

    def subst(self, toks: list[Tok]) -> list[Tok]:
        cols = self._columns(toks)
        out: list[Tok] = []
        n = len(toks)
        i = 0
        while i < n:
            t = toks[i]
            if t.is_("INTO") and i + 2 < n and toks[i + 1].kind in ("id", "qid"):
                j = i + 2                               # INSERT INTO t [(c1, ...)]: names, not values
                while j + 1 < n and toks[j].text == "." and toks[j + 1].kind in ("id", "qid"):
                    j += 2
                if j < n and toks[j].text == "(" and not (j + 1 < n and toks[j + 1].is_("SELECT")):
                    j = match_paren(toks, j) + 1
                out.extend(toks[i:j])
                i = j
                continue
            nxt = toks[i + 1] if i + 1 < n else None
            if t.is_("SQL") and nxt is not None and nxt.text == "%" and i + 2 < n and toks[i + 2].is_("ROWCOUNT"):
                out.append(literal(self.rowcount, t.ws))
                i += 3
                continue
            if (t.kind in ("id", "qid") and t.name not in cols and not (i and toks[i - 1].text == ".")
                    and not (nxt is not None and nxt.text in (".", "("))):
                found, v = self._lookup(t.name)
                if found:
                    out.append(literal(v, t.ws))
                    i += 1
                    continue
            out.append(t)
            i += 1
        return out

    def run_sql(self, toks: list[Tok]) -> Result:
        sess = self.sess
        sess._udf_error = None
        try:
            return sess._dispatch(toks[0].up, toks, None, emit(toks))
        except sqlite3.Error as e:
            if sess._udf_error is not None:
                raise sess._udf_error from None
            raise map_error(e) from None

    def value(self, expr: list[Tok]):
        expr = self.subst(expr)
        head = Tok(expr[0].kind, expr[0].text, " ", expr[0].raw)
        q = [Tok("id", "SELECT"), head, *expr[1:], Tok("id", "FROM", " "), Tok("id", "DUAL", " ")]
        return next(iter(self.run_sql(q).rows))[0]

    def truth(self, cond: list[Tok]) -> bool:
        q = [Tok("id", "CASE"), Tok("id", "WHEN", " "), Tok("op", "(", " "), *cond, Tok("op", ")", " "),
             Tok("id", "THEN", " "), Tok("num", "1", " "),
             Tok("id", "ELSE", " "), Tok("num", "0", " "), Tok("id", "END", " ")]
        return bool(self.value(q))

    def block(self, node: Node) -> None:
        self.scopes.append({})
        try:
            for name, expr in node.extra:
                self.scopes[-1][name] = self.value(expr) if expr else None
            self.run(node.body)
        finally:
            self.scopes.pop()

    def assign(self, name: str, v) -> None:
        for sc in reversed(self.scopes):
            if name in sc:
                sc[name] = v
                return
        raise err(M.NO_COLUMN, "no_column", name=name)

    def run(self, nodes: list[Node]) -> None:
        for node in nodes:
            getattr(self, "_" + node.kind)(node)

    def _block(self, node: Node) -> None:
        self.block(node)

    def _null(self, node: Node) -> None:
        pass

    def _assign(self, node: Node) -> None:
        self.assign(node.name, self.value(node.toks))

    def _exit(self, node: Node) -> None:
        if not node.toks or self.truth(node.toks):
            raise _Exit()

    def _if(self, node: Node) -> None:
        for cond, body in node.extra:
            if cond is None or self.truth(cond):
                self.run(body)
                return

    def _loop(self, node: Node) -> None:
        try:
            while node.kind == "loop" or self.truth(node.toks):
                self.run(node.body)
        except _Exit:
            pass

    _while = _loop

    def _for(self, node: Node) -> None:
        lo, hi, rev = node.extra
        a, b = int(self.value(lo)), int(self.value(hi))
        self.scopes.append({node.name: None})
        try:
            for k in (range(b, a - 1, -1) if rev else range(a, b + 1)):
                self.scopes[-1][node.name] = k
                self.run(node.body)
        except _Exit:
            pass
        finally:
            self.scopes.pop()

    def _exec(self, node: Node) -> None:
        text = self.value(node.toks)
        toks = tokenize(str(text), not self.sess.db.case_sensitive)
        while toks and toks[-1].text == ";":
            toks.pop()
        self._sql(Node("sql", toks), substitute=False)

    def _sql(self, node: Node, substitute: bool = True) -> None:
        raw = node.toks
        if raw[0].is_("DBMS_OUTPUT"):
            return
        if raw[0].is_("SELECT"):
            into = next((k for k, t in enumerate(raw) if t.is_("INTO")), None)
            if into is not None:
                end = _depth0(raw, into, ("FROM",))
                names = [t.name for t in raw[into + 1:end] if t.kind in ("id", "qid")]
                rows = iter(self.run_sql(self.subst(raw[:into] + raw[end:])).rows)
                row = next(rows, None)
                if row is None:
                    raise err(NO_DATA, "no_data")
                for name, v in zip(names, row, strict=False):
                    self.assign(name, v)
                self.rowcount = 1
                return
        r = self.run_sql(self.subst(raw) if substitute else raw)
        self.rowcount = max(r.rowcount, 0) if r.kind == "dml" else 0


def execute(sess, toks: list[Tok]) -> Result:
    """Run one anonymous block as a single client statement."""
    p = Parser(toks)
    try:
        root = p.block()
    except IndexError:                       # the text ended inside a construct
        raise err(M.SYNTAX, "-2007") from None
    if p.i != len(toks):
        raise err(M.SYNTAX, "-2007")
    auto = sess.autocommit
    sess.autocommit = False
    try:
        Runner(sess).block(root)
    except BaseException:
        if auto:
            sess._rollback_txn()
        raise
    finally:
        sess.autocommit = auto
    if auto:
        sess._commit()
    return Result("other")
