"""DM8 dialect -> SQLite translation of queries and DML (token level).

What it rewrites:
- table references (after FROM/JOIN/INTO/UPDATE/DELETE): SCHEMA.NAME -> "SCHEMA.NAME" AS NAME, views expanded
  inline, dictionary and V$ views -> session TEMP tables, DUAL -> a one-row subquery;
- `CONNECT BY LEVEL <= n` over DUAL -> a recursive CTE yielding LEVEL (ROWNUM = LEVEL there);
- ROWNUM <= n / TOP n -> LIMIT; ROWNUM in a select list -> row_number() OVER ();
- dbms_random.value -> native random() arithmetic, dbms_random.string -> DM_RSTR; trunc(x) -> CAST;
- sequences seq.NEXTVAL / CURRVAL, SYSDATE & co., USER, MINUS, DATE '...', :name parameters.
Unknown names raise DmError (-2106 table, -2116 sequence); anything SQLite rejects is mapped by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api import Column
from ..errors import err
from . import connectby
from . import messages as M
from .catalog import Catalog, ObjMeta
from .concat import concat_chains
from .lexer import STOP, Tok, find_top, match_paren, quote, split_top, sql_literal, tokenize

RANDOM01 = "(random() / 18446744073709551616.0 + 0.5)"
PSEUDO = {
    "SYSDATE": "datetime('now','localtime')",
    "SYSTIMESTAMP": "DM_NOW()", "CURRENT_TIMESTAMP": "DM_NOW()", "LOCALTIMESTAMP": "DM_NOW()",
    "CURRENT_DATE": "date('now','localtime')", "CURRENT_TIME": "time('now','localtime')",
    "PERMANENT_MAGIC": "DM_SYSFN('PERMANENT_MAGIC')",
}
DATE_PSEUDO = {"SYSDATE", "SYSTIMESTAMP", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "CURRENT_DATE"}
USER_WORDS = {"USER", "CURRENT_USER", "SESSION_USER", "UID"}
RENAME = {"NVL": "IFNULL", "ISNULL": "IFNULL", "GREATEST": "MAX", "LEAST": "MIN", "SUBSTRING": "SUBSTR",
          "LEN": "LENGTH", "CHAR_LENGTH": "LENGTH", "CHARACTER_LENGTH": "LENGTH", "CEILING": "CEIL",
          "NOW": "DM_NOW", "GETDATE": "DM_NOW", "LCASE": "LOWER", "UCASE": "UPPER", "SUBSTRB": "SUBSTR",
          "INSTRB": "INSTR", "LISTAGG": "GROUP_CONCAT", "WM_CONCAT": "GROUP_CONCAT"}
DATE_TYPES = {"DATE", "DATETIME", "TIMESTAMP", "TIME"}


@dataclass
class Context:
    """What translation needs from the session."""

    catalog: Catalog
    schema: str
    user: str
    is_virtual: object            # callable(name) -> bool (dictionary view or V$ view exists)
    fold: bool = True             # CASE_SENSITIVE=0: quoted identifiers are case-insensitive too


@dataclass
class Translated:
    sql: str
    sources: list[tuple[str, list[Column]]] = field(default_factory=list)
    virtuals: set[str] = field(default_factory=set)
    target: ObjMeta | None = None
    nparams: int = 0


def T(kind: str, text: str, ws: str = " ") -> Tok:
    return Tok(kind, text, ws)


class Translator:
    """Translate one statement's tokens; collects referenced sources, virtual views and the DML target."""

    def __init__(self, ctx: Context, big_sum: bool = False):
        self.ctx = ctx
        self.big_sum = big_sum
        self.sources: list[tuple[str, list[Column]]] = []
        self.virtuals: set[str] = set()
        self.target: ObjMeta | None = None
        self.nparams = 0
        self.ctes: set[str] = set()

    def run(self, toks: list[Tok], name_columns: bool = True) -> Translated:
        self._scan_ctes(toks)
        if name_columns:
            toks = name_select_items(toks)
        out = self.tr(toks)
        sql = "".join(t.ws + t.text for t in out).strip()
        return Translated(sql, self.sources, self.virtuals, self.target, self.nparams)

    # ---- helpers -------------------------------------------------------------------------
    def _scan_ctes(self, toks: list[Tok]) -> None:
        for i, t in enumerate(toks[:-2]):
            if t.kind in ("id", "qid") and toks[i + 1].is_("AS") and toks[i + 2].text == "(":
                if i > 0 and (toks[i - 1].is_("WITH", "RECURSIVE") or toks[i - 1].text in (",", ")")):
                    self.ctes.add(t.name)

    def resolve(self, parts: list[Tok]) -> tuple:
        """('table'|'view', ObjMeta) | ('virtual', NAME) | ('dual',) | ('cte', NAME)."""
        cat = self.ctx.catalog
        names = [p.name for p in parts]
        if len(names) == 1:
            n = names[0]
            if n in self.ctes:
                return ("cte", n)
            if n == "DUAL":
                return ("dual",)
            o = cat.table(self.ctx.schema, n)
            if o is not None:
                return (o.type.lower(), o)
            if self.ctx.is_virtual(n):
                return ("virtual", n)
            raise err(M.NO_TABLE, "-2106", name=n)
        if len(names) == 2:
            s, n = names
            o = cat.table(s, n)
            if o is not None:
                return (o.type.lower(), o)
            if n == "DUAL" and s in ("SYS", "SYSDBA"):
                return ("dual",)
            if s in ("SYS", "SYSDBA", "PUBLIC", self.ctx.schema) and self.ctx.is_virtual(n):
                return ("virtual", n)
            raise err(M.NO_TABLE, "-2106", name=f"{s}.{n}")
        raise err(M.NO_TABLE, "-2106", name=".".join(names))

    def _name_parts(self, toks: list[Tok], j: int) -> tuple[list[Tok], int]:
        parts = [toks[j]]
        j += 1
        while j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind in ("id", "qid"):
            parts.append(toks[j + 1])
            j += 2
        return parts, j

    def _alias(self, toks: list[Tok], j: int) -> tuple[Tok | None, int]:
        if j < len(toks) and toks[j].is_("AS") and j + 1 < len(toks):
            return toks[j + 1], j + 2
        if j < len(toks) and (toks[j].kind == "qid" or (toks[j].kind == "id" and toks[j].up not in STOP)):
            return toks[j], j + 1
        return None, j

    def _ref(self, toks: list[Tok], j: int, out: list[Tok], mode: str, cb: dict | None) -> int:
        """Translate one table reference at toks[j]; mode: 'from' | 'into' | 'update'."""
        ws = toks[j].ws or " "
        parts, j = self._name_parts(toks, j)
        kind = self.resolve(parts)
        alias, j = self._alias(toks, j) if mode != "into" else (None, j)
        aname = alias.name if alias is not None else parts[-1].name
        atext = quote(aname)
        if kind[0] == "cte":
            out.append(T("qid", quote(kind[1]), ws))
            if alias is not None:
                out.append(T("qid", atext))
            return j
        if kind[0] == "dual":
            if cb is not None:
                gen = connectby.row_source(cb, self._text)
                out.append(T("op", gen, ws))
                cb["used"] = True
            else:
                out.append(T("op", "(SELECT 'X' AS \"DUMMY\")", ws))
            out.append(T("id", "AS"))
            out.append(T("qid", atext))
            self.sources.append((aname, [Column("DUMMY", "VARCHAR", 1)]))
            return j
        if kind[0] == "virtual":
            self.virtuals.add(kind[1])
            out.append(T("op", "temp." + quote(kind[1]), ws))
            out.append(T("id", "AS"))
            out.append(T("qid", atext))
            self.sources.append((aname, [Column("$VIRTUAL:" + kind[1])]))   # typed by the engine
            return j
        o: ObjMeta = kind[1]
        if kind[0] == "view":
            if mode != "from":
                raise err(M.SYNTAX, "sql_unsupported", what=f"DML on view {o.name}")
            sub = Translator(Context(self.ctx.catalog, o.schema, self.ctx.user, self.ctx.is_virtual,
                                     self.ctx.fold))
            res = sub.run(tokenize(o.info["sql"], self.ctx.fold), name_columns=True)
            self.virtuals |= res.virtuals
            cols = o.info.get("cols")
            if cols:
                names = ", ".join(quote(c) for c in cols)
                out.append(T("op", f'(WITH "$V"({names}) AS ({res.sql}) SELECT * FROM "$V")', ws))
            else:
                out.append(T("op", "(" + res.sql + ")", ws))
            out.append(T("id", "AS"))
            out.append(T("qid", atext))
            vcols = [c for _, cs in res.sources for c in cs]
            self.sources.append((aname, vcols))
            return j
        if mode == "into":
            self.target = o
            out.append(T("qid", quote(o.phys), ws))
            return j
        if mode == "update":
            self.target = o
        out.append(T("qid", quote(o.phys), ws))
        out.append(T("id", "AS"))
        out.append(T("qid", atext))
        self.sources.append((aname, [c.column() for c in o.columns]))
        return j

    # ---- main loop -----------------------------------------------------------------------
    def tr(self, toks: list[Tok]) -> list[Tok]:
        parts = connectby.set_branches(toks)
        if len(parts) > 1 and any(connectby.has_connect_by(p) for p in parts[::2]):
            # each branch of UNION/MINUS/... gets its own CONNECT BY row source
            ops = [[T("id", "EXCEPT", x.ws) if x.is_("MINUS") else x for x in p] for p in parts[1::2]]
            return [t for k, p in enumerate(parts) for t in (self.tr(p) if k % 2 == 0 else ops[k // 2])]
        out: list[Tok] = []
        limits: dict[int, str] = {}
        cb = connectby.find(toks)
        n = len(toks)
        i = 0
        first = True
        while i <= n:
            if i in limits:
                out.append(T("id", "LIMIT " + limits.pop(i)))
            if i == n:
                break
            if cb is not None and i == cb["start"]:
                i = cb["end"]
                continue
            t = toks[i]
            prev = toks[i - 1] if i > 0 else None
            nxt = toks[i + 1] if i + 1 < n else None
            after_dot = prev is not None and prev.text == "."
            if t.kind == "param":
                self.nparams += 1
                out.append(T("param", "?", t.ws))
                i += 1
                continue
            if t.text == "(" and nxt is not None and nxt.is_("SELECT", "WITH"):
                close = match_paren(toks, i)
                if connectby.has_connect_by(toks[i + 1:close]):
                    # a subquery with its own CONNECT BY (derived table, IN (...), INSERT ... SELECT)
                    out.append(t)
                    out.extend(self.tr(toks[i + 1:close]))
                    out.append(toks[close])
                    i = close + 1
                    first = False
                    continue
            if t.kind != "id":
                out.append(t)
                i += 1
                first = False
                continue
            u = t.text.upper()
            stmt_start = first
            first = False
            if after_dot:
                out.append(T("id", u, t.ws))
                i += 1
                continue
            if u in ("FROM", "JOIN") and nxt is not None and nxt.kind in ("id", "qid"):
                out.append(T("id", u, t.ws))
                j = self._ref(toks, i + 1, out, "from", cb)
                while (u == "FROM" and j + 1 < n and toks[j].text == "," and toks[j + 1].kind in ("id", "qid")
                       and not toks[j + 1].is_("SELECT")):
                    out.append(toks[j])
                    j = self._ref(toks, j + 1, out, "from", cb)
                i = j
                continue
            if u == "INTO" and nxt is not None and nxt.kind in ("id", "qid"):
                out.append(T("id", u, t.ws))
                i = self._ref(toks, i + 1, out, "into", cb)
                continue
            if u == "UPDATE" and stmt_start and nxt is not None:
                out.append(T("id", u, t.ws))
                i = self._ref(toks, i + 1, out, "update", cb)
                continue
            if u == "DELETE" and stmt_start and nxt is not None:
                out.append(T("id", "DELETE FROM", t.ws))
                j = i + 2 if nxt.is_("FROM") else i + 1
                i = self._ref(toks, j, out, "update", cb)
                continue
            if u == "FOR" and nxt is not None and nxt.is_("UPDATE"):
                i = find_top(toks, i, ops=(")",))
                continue
            if u == "TOP" and prev is not None and prev.is_("SELECT", "DISTINCT", "ALL") and nxt is not None:
                end = find_top(toks, i, ops=(")",))
                limits[end] = nxt.text
                i += 2
                continue
            if u == "OFFSET" and nxt is not None and nxt.kind in ("num", "param") and i + 2 < n \
                    and toks[i + 2].is_("ROW", "ROWS"):
                off = nxt.text if nxt.kind == "num" else "?"
                if nxt.kind == "param":
                    self.nparams += 1
                j = i + 3
                if j < n and toks[j].is_("FETCH"):
                    i = self._fetch(toks, j, out, off)
                else:
                    out.append(T("id", f"LIMIT -1 OFFSET {off}", t.ws))
                    i = j
                continue
            if u == "FETCH" and nxt is not None and nxt.is_("FIRST", "NEXT"):
                i = self._fetch(toks, i, out, None)
                continue
            if u == "MINUS":
                out.append(T("id", "EXCEPT", t.ws))
                i += 1
                continue
            if u in ("DATE", "TIMESTAMP", "TIME") and nxt is not None and nxt.kind == "str":
                i += 1
                nxt.ws = t.ws
                continue
            if u in DATE_TYPES and prev is not None and prev.is_("AS") and nxt is not None and nxt.text in (")", "("):
                out.append(T("id", "TEXT", t.ws))
                i += 1
                if nxt.text == "(":
                    i = match_paren(toks, i) + 1
                continue
            if u == "DBMS_RANDOM" and nxt is not None and nxt.text == "." and i + 2 < n:
                i = self._dbms_random(toks, i, out)
                continue
            # sequences: [schema.]seq.NEXTVAL / CURRVAL
            if nxt is not None and nxt.text == "." and i + 2 < n:
                if toks[i + 2].is_("NEXTVAL", "CURRVAL"):
                    out.append(T("op", self._seq(None, t, toks[i + 2]), t.ws))
                    i += 3
                    continue
                if i + 4 < n and toks[i + 3].text == "." and toks[i + 4].is_("NEXTVAL", "CURRVAL"):
                    out.append(T("op", self._seq(t, toks[i + 2], toks[i + 4]), t.ws))
                    i += 5
                    continue
                # SCHEMA.TABLE.COLUMN -> TABLE.COLUMN
                if (i + 4 < n and toks[i + 3].text == "." and toks[i + 2].kind in ("id", "qid")
                        and self.ctx.catalog.table(t.name, toks[i + 2].name) is not None):
                    i += 2
                    toks[i].ws = t.ws
                    continue
            if nxt is not None and nxt.text == "(":
                i = self._func(toks, i, out)
                continue
            if u == "ROWNUM":
                i = self._rownum(toks, i, out, limits, cb)
                continue
            if u in PSEUDO:
                if (u in DATE_PSEUDO and i + 2 < n and toks[i + 1].text in ("+", "-") and toks[i + 2].kind == "num"
                        and not (i + 3 < n and toks[i + 3].text in ("*", "/", "%"))):
                    # SYSDATE +/- n: n days (DM datetime arithmetic)
                    secs = float(toks[i + 2].text) * 86400 * (1 if toks[i + 1].text == "+" else -1)
                    fn = "datetime" if u in ("SYSDATE", "CURRENT_DATE") else "DM_TS"
                    out.append(T("op", f"{fn}({PSEUDO[u]}, '{secs:+.6f} seconds')", t.ws))
                    i += 3
                    continue
                out.append(T("op", PSEUDO[u], t.ws))
                i += 1
                continue
            if u in USER_WORDS and not (prev is not None and prev.is_("AS")):
                out.append(T("str", sql_literal(self.ctx.user), t.ws))
                i += 1
                continue
            out.append(T("id", u, t.ws))
            i += 1
        return concat_chains(out)

    def _text(self, toks: list[Tok]) -> str:
        """Translated SQL text of an expression."""
        return "".join(t.ws + t.text for t in self.tr(toks)).strip()

    def _fetch(self, toks: list[Tok], i: int, out: list[Tok], offset: str | None) -> int:
        """FETCH FIRST|NEXT n ROW[S] ONLY [after OFFSET m ROWS] -> LIMIT n [OFFSET m]."""
        j = i + 2
        cnt = toks[j] if j < len(toks) else None
        if cnt is None or cnt.kind not in ("num", "param") or j + 2 >= len(toks) or not toks[j + 2].is_("ONLY"):
            raise err(M.SYNTAX, "-2007")
        if cnt.kind == "param":
            if offset == "?":
                raise err(M.SYNTAX, "sql_unsupported", what="OFFSET ? FETCH ?")
            self.nparams += 1
        text = f"LIMIT {'?' if cnt.kind == 'param' else cnt.text}"
        if offset is not None:
            text += f" OFFSET {offset}"
        out.append(T("id", text, toks[i].ws))
        return j + 3

    def _seq(self, schema: Tok | None, name: Tok, which: Tok) -> str:
        s = schema.name if schema is not None else self.ctx.schema
        o = self.ctx.catalog.sequence(s, name.name)
        if o is None:
            raise err(M.NO_SEQ, "no_seq", name=f"{s}.{name.name}")
        fn = "DM_NEXTVAL" if which.is_("NEXTVAL") else "DM_CURRVAL"
        return f"{fn}({o.id})"

    def _args(self, toks: list[Tok], open_i: int) -> tuple[list[str], int]:
        close = match_paren(toks, open_i)
        inner = toks[open_i + 1:close]
        args = [] if not inner else split_top(inner)
        texts = ["".join(x.ws + x.text for x in self.tr(a)).strip() for a in args]
        return texts, close + 1

    def _dbms_random(self, toks: list[Tok], i: int, out: list[Tok]) -> int:
        fn = toks[i + 2].up
        ws = toks[i].ws
        j = i + 3
        args: list[str] = []
        if j < len(toks) and toks[j].text == "(":
            args, j = self._args(toks, j)
        if fn == "VALUE":
            if not args:
                text = RANDOM01
            elif len(args) == 2:
                lo, hi = args
                text = f"(({lo}) + {RANDOM01} * (({hi}) - ({lo})))"
            else:
                raise err(M.NO_FUNC, "no_func", name="DBMS_RANDOM.VALUE")
        elif fn == "STRING" and len(args) == 2:
            text = f"DM_RSTR({args[0]}, {args[1]})"
        elif fn == "RANDOM" and not args:
            text = "(random() % 2147483648)"
        else:
            raise err(M.NO_FUNC, "no_func", name=f"DBMS_RANDOM.{fn}")
        out.append(T("op", text, ws))
        return j

    def _func(self, toks: list[Tok], i: int, out: list[Tok]) -> int:
        t = toks[i]
        u = t.up
        if u == "TRUNC":
            close = match_paren(toks, i + 1)
            inner = toks[i + 2:close]
            parts = split_top(inner)
            datey = any(x.is_("SYSDATE", "SYSTIMESTAMP", "TO_DATE", "DATE", "CURRENT_DATE", "NOW")
                        or x.kind == "str" for x in inner)
            if len(parts) == 1 and not datey:
                args, j = self._args(toks, i + 1)
                out.append(T("op", f"CAST(({args[0]}) AS INTEGER)", t.ws))
                return j
            out.append(T("id", "DM_TRUNC", t.ws))
            return i + 1
        if u == "SUM" and self.big_sum:
            u = "DM_SUM"
        out.append(T("id", RENAME.get(u, u), t.ws))
        return i + 1

    def _rownum(self, toks: list[Tok], i: int, out: list[Tok], limits: dict[int, str], cb: dict | None) -> int:
        t = toks[i]
        if cb is not None:
            out.append(T("qid", '"LEVEL"', t.ws))
            return i + 1
        prev = toks[i - 1] if i > 0 else None
        if (prev is not None and prev.is_("WHERE", "AND") and i + 2 < len(toks)
                and toks[i + 1].text in ("<=", "<", "=") and toks[i + 2].kind in ("num", "param")):
            op, val = toks[i + 1].text, toks[i + 2]
            if val.kind == "param":
                raise err(M.SYNTAX, "sql_unsupported", what="ROWNUM compared with a parameter")
            lim = str(int(float(val.text)) - (1 if op == "<" else 0))
            if op == "=" and lim != "1":
                lim = "0"
            limits[find_top(toks, i, ops=(")",))] = lim
            out.append(T("op", "1 = 1", t.ws))
            return i + 3
        out.append(T("op", "row_number() OVER ()", t.ws))
        return i + 1


def _simple_item(item: list[Tok]) -> bool:
    """Item whose SQLite result name is already right: a column, t.col, t.*, * or one with an alias."""
    if not item:
        return True
    kinds = [x.kind for x in item]
    if len(item) == 1 and (item[0].kind == "qid" or (item[0].kind == "id" and item[0].up not in PSEUDO
                                                      and item[0].up not in USER_WORDS
                                                      and item[0].up not in ("ROWNUM", "LEVEL"))):
        return True
    if item[-1].text == "*":
        return True
    if all(k in ("id", "qid") for k in kinds[::2]) and all(x.text == "." for x in item[1::2]) and len(item) in (3, 5):
        return not item[-1].is_("NEXTVAL", "CURRVAL")
    last, before = item[-1], item[-2] if len(item) > 1 else None
    if last.kind in ("id", "qid") and before is not None and (
            before.is_("AS") or before.text == ")" or before.kind in ("id", "qid", "num", "str")):
        return not (last.kind == "id" and last.up in ("END",)) and before.text != "."
    return False


def name_select_items(toks: list[Tok]) -> list[Tok]:
    """Give each top-level select item without a usable name an alias: its DM text, upper-cased."""
    if not toks or not toks[0].is_("SELECT"):
        return toks
    j = 1
    while j < len(toks) and toks[j].is_("DISTINCT", "ALL", "UNIQUE"):
        j += 1
    if j < len(toks) and toks[j].is_("TOP"):
        j += 2
    d, end = 0, len(toks)
    for k in range(j, len(toks)):
        x = toks[k]
        if x.text == "(":
            d += 1
        elif x.text == ")":
            d -= 1
        elif d == 0 and x.is_("FROM", "INTO", "WHERE", "GROUP", "ORDER", "UNION", "MINUS", "EXCEPT",
                              "INTERSECT", "LIMIT", "HAVING", "CONNECT"):
            end = k
            break
    items = split_top(toks[j:end])
    new_list: list[Tok] = []
    for n, item in enumerate(items):
        if n:
            new_list.append(Tok("op", ",", ""))
        new_list.extend(item)
        if not _simple_item(item):
            name = "".join(x.ws + x.up for x in item).strip()
            new_list.append(Tok("id", "AS", " "))
            new_list.append(Tok("qid", quote(name[:128]), " "))
    return toks[:j] + new_list + toks[end:]
