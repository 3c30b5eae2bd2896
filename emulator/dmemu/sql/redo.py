"""Redo capture (row images of a transaction) and redo apply.

Op format (plain tuples of plain values, see dmemu.plaincodec):
  ("X", [(sql, params), ...])            DDL: the exact SQLite statements run, incl. DM$ catalog rows
  ("C", phys)                            all rows of table `phys` deleted (TRUNCATE / DELETE without WHERE)
  ("D", phys, [rowid, ...])              rows that existed before the transaction and were updated/deleted
  ("DR", phys, lo, hi)                   the same for a run of consecutive rowids lo..hi
  ("I", phys, (col, ...), [(rowid, v1, ...), ...])   final images of inserted/updated rows
  ("Q", seq_id, value)                   a sequence advanced to `value`
Apply order inside one op list is the list order; "D" of a table always precedes its "I" so
unique-key swaps inside one transaction replay without conflicts.

Capture: inserts are recorded as rowid ranges (a rowid table gives new rows max(rowid)+1.. in order)
or, for tables with an IDENTITY column, as rowid sets from RETURNING; updates/deletes as rowid sets
from RETURNING. Row images are read at commit, inside the SQLite transaction, by `TxnOps`, a lazy
re-iterable sequence of ops whose "I" ops hold at most CHUNK rows each: memory stays bounded while
the consumer (hooks.before_commit) iterates; `list(ops)` materialises everything.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Iterator

from .lexer import quote

CHUNK = 50_000


class TableCapture:
    __slots__ = ("phys", "cols", "ranges", "rowids", "touched", "cleared")

    def __init__(self, phys: str, cols: tuple[str, ...]):
        self.phys = phys
        self.cols = cols
        self.ranges: list[tuple[int, int]] = []     # inserted rowid ranges (inclusive)
        self.rowids: set[int] = set()              # inserted rowids (identity tables)
        self.touched: set[int] = set()             # updated/deleted rowids
        self.cleared = False


class Capture:
    """What one open transaction changed."""

    def __init__(self):
        self.tables: dict[str, TableCapture] = {}
        self.ddl: list[tuple[str, tuple]] = []
        self.seqs: dict[int, int] = {}

    def __bool__(self) -> bool:
        return bool(self.tables or self.ddl or self.seqs)

    def _t(self, phys: str, cols: tuple[str, ...]) -> TableCapture:
        t = self.tables.get(phys)
        if t is None:
            t = self.tables[phys] = TableCapture(phys, cols)
        else:
            t.cols = cols
        return t

    def inserted_range(self, phys: str, cols: tuple[str, ...], lo: int, hi: int) -> None:
        if hi >= lo:
            self._t(phys, cols).ranges.append((lo, hi))

    def inserted_rowids(self, phys: str, cols: tuple[str, ...], rowids: Iterable[int]) -> None:
        self._t(phys, cols).rowids.update(rowids)

    def touched_rowids(self, phys: str, cols: tuple[str, ...], rowids: Iterable[int]) -> None:
        self._t(phys, cols).touched.update(rowids)

    def cleared_table(self, phys: str, cols: tuple[str, ...]) -> None:
        t = self._t(phys, cols)
        t.ranges.clear()
        t.rowids.clear()
        t.touched.clear()
        t.cleared = True

    def dropped_table(self, phys: str) -> None:
        self.tables.pop(phys, None)

    def add_ddl(self, sql: str, params: tuple = ()) -> None:
        self.ddl.append((sql, tuple(params)))

    def ops(self, conn: sqlite3.Connection) -> TxnOps:
        return TxnOps(self, conn)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


class TxnOps:
    """Lazy op list of a transaction being committed (valid only until that COMMIT)."""

    def __init__(self, cap: Capture, conn: sqlite3.Connection):
        self.cap = cap
        self.conn = conn

    def _plan(self) -> Iterator[tuple]:
        cap = self.cap
        if cap.ddl:
            yield ("X", list(cap.ddl))
        for t in cap.tables.values():
            if t.cleared:
                yield ("C", t.phys)
            # every touched rowid is deleted first, also one inserted in this transaction: SQLite reuses
            # the rowid of a deleted last row, so an "inserted" rowid may still name a pre-existing row
            runs = _runs(sorted(t.touched))
            for lo, hi in runs:
                if hi > lo:
                    yield ("DR", t.phys, lo, hi)
            singles = [lo for lo, hi in runs if lo == hi]
            for k in range(0, len(singles), CHUNK):
                yield ("D", t.phys, singles[k:k + CHUNK])
            spans = _merge(t.ranges + [r for r in runs if r[1] > r[0]])
            ids = sorted(r for r in set(t.rowids).union(singles) if not _in(spans, r))
            for k in range(0, len(ids), CHUNK):
                yield ("I?", t, ids[k:k + CHUNK])
            for lo, hi in spans:
                for a in range(lo, hi + 1, CHUNK):
                    yield ("IR", t, a, min(hi, a + CHUNK - 1))
        for sid, v in cap.seqs.items():
            yield ("Q", sid, v)

    def __iter__(self) -> Iterator[tuple]:
        for op in self._plan():
            kind = op[0]
            if kind == "I?":
                t, ids = op[1], op[2]
                rows = []
                sel = _select(t)
                for k in range(0, len(ids), 500):
                    part = ids[k:k + 500]
                    q = f"{sel} WHERE rowid IN ({','.join('?' * len(part))})"
                    rows.extend(self.conn.execute(q, part).fetchall())
                if rows:
                    yield ("I", t.phys, t.cols, rows)
            elif kind == "IR":
                t = op[1]
                rows = self.conn.execute(f"{_select(t)} WHERE rowid BETWEEN ? AND ?", (op[2], op[3])).fetchall()
                if rows:
                    yield ("I", t.phys, t.cols, rows)
            else:
                yield op

    def __len__(self) -> int:
        return sum(1 for _ in self._plan())

    def __bool__(self) -> bool:
        return bool(self.cap)

    def __reduce__(self):
        return (list, (list(self),))


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted rowids -> maximal runs of consecutive values (lo, hi)."""
    out: list[tuple[int, int]] = []
    for r in ids:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def _in(spans: list[tuple[int, int]], r: int) -> bool:
    """r inside one of the sorted, disjoint spans."""
    k = bisect.bisect_right(spans, (r, float("inf"))) - 1
    return k >= 0 and spans[k][0] <= r <= spans[k][1]


def _select(t: TableCapture) -> str:
    return f"SELECT rowid, {', '.join(quote(c) for c in t.cols)} FROM {quote(t.phys)}"


def apply_ops(conn: sqlite3.Connection, ops: Iterable[tuple], on_seq=None) -> bool:
    """Apply ops inside the caller's transaction; returns True if any DDL ran (catalog reload)."""
    ddl = False
    for op in ops:
        kind = op[0]
        if kind == "I":
            _, phys, cols, rows = op
            names = ", ".join(quote(c) for c in cols)
            conn.executemany(f"INSERT INTO {quote(phys)} (rowid, {names}) VALUES "
                             f"({', '.join('?' * (len(cols) + 1))})", rows)
        elif kind == "DR":
            conn.execute(f"DELETE FROM {quote(op[1])} WHERE rowid BETWEEN ? AND ?", (op[2], op[3]))
        elif kind == "D":
            conn.executemany(f"DELETE FROM {quote(op[1])} WHERE rowid = ?", [(r,) for r in op[2]])
        elif kind == "C":
            conn.execute(f"DELETE FROM {quote(op[1])}")
        elif kind == "X":
            for sql, params in op[1]:
                conn.execute(sql, params)
            ddl = True
        elif kind == "Q":
            conn.execute("INSERT OR REPLACE INTO DM$SEQ (ID, VAL) VALUES (?, ?)", (op[1], op[2]))
            if on_seq is not None:
                on_seq(op[1], op[2])
        else:
            raise ValueError(f"unknown redo op {kind!r}")
    return ddl
