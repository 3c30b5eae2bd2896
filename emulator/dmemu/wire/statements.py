"""Statement commands of the DM wire server: statement handles, PREPARE/EXECUTE with bound parameters,
result sets paged lazily from Result.rows (first page in the execute reply, later ones via FETCH),
off-row LOBs, COMMIT/ROLLBACK. A mixin of ClientConnection (connection.py), which owns the state it uses."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from .. import api, lang
from ..errors import DmError
from . import codec
from .protocol import (
    OPTS_LEN,
    RCMD_OK,
    RCMD_RESULT,
    RET_NO_MORE_ROWS,
    SQL_DML,
    SQL_SELECT,
    frame,
)

lang.register({
    "wire_fetch_back": ("结果集不支持向后滚动", "Result set cannot scroll backwards"),
    "wire_bad_lob": ("无效的大字段定位器", "Invalid LOB locator"),
})

ERR_FETCH_BACK = -7029
ERR_BAD_LOB = -7030

# result paging: the first reply carries a bounded page, later pages come via FETCH (cmd 7)
FIRST_PAGE_ROWS = 10_000
FIRST_PAGE_BYTES = 256 * 1024
PAGE_ROWS = 32_000                 # the execute reply carries the batch row count in an i16
PAGE_BYTES = 1024 * 1024

TRX_STATUS_AT = 40                 # execute reply opts offset of TrxStatus (header @60)
TRX_ACTIVE = 1                     # unconfirmed value: drivers treat (status & 0xFFF) not in {0, 0x20, 0x40} as open
# Row total announced while a result is still streaming. INT64_MAX makes the DPI seek to the last
# row to count them; INT32_MAX makes it fetch forward (and dm-pure sees 0xFFFF = "more rows").
UNKNOWN_TOTAL = 0x7FFFFFFF

_EXEC_OPTS = struct.Struct("<hhqHBii")       # @20 retSqlType ncols updateCount outParams rsUpdatable rows printLen
_FETCH_REQ = struct.Struct("<qq")             # @20 start, @28 count
_FETCH_OPTS = struct.Struct("<qi")            # @20 updateCount, @28 rows in batch
_PREP_OPTS = struct.Struct("<hHhqi")          # @20 retSqlType nparams ncols i64 TrxStatus
_BIND_DESC = struct.Struct("<biii")
_H = struct.Struct("<H")
_I = struct.Struct("<i")


@dataclass
class Cursor:
    """An open result set being paged to the client."""

    columns: list[api.Column]
    rows: Iterator
    encoder: codec.RowEncoder
    pos: int = 0
    done: bool = False

    def page(self, max_rows: int, max_bytes: int) -> tuple[bytes, int]:
        parts, n, exhausted = self.encoder.page(self.rows, self.pos + 1, max_rows, max_bytes)
        self.pos += n
        if exhausted:
            self.finish()
        return b"".join(parts), n

    def finish(self) -> None:
        if not self.done:
            self.done = True
            close = getattr(self.rows, "close", None)
            if close is not None:
                close()


@dataclass
class Stmt:
    """A statement handle: its SQL, described parameters and the open cursor, if any."""

    sql: str = ""
    params: list[api.Column] = field(default_factory=list)
    cursor: Cursor | None = None
    lobs: dict[int, bytearray] = field(default_factory=dict)      # PUT_DATA uploads by param index
    lob_ids: list[int] = field(default_factory=list)              # off-row LOBs of the last result

    def close_cursor(self) -> None:
        if self.cursor is not None:
            self.cursor.finish()
            self.cursor = None


class StatementCommands:
    """Statement, cursor, LOB and transaction handlers of a ClientConnection."""

    def on_alloc(self, stmt: int, h: bytes, body: bytes) -> None:
        sid = self.next_stmt
        self.next_stmt += 1
        self.stmts[sid] = Stmt()
        o = bytes([1])                                 # @20 readBaseColName
        self.send(frame(sid, RCMD_OK, 0, o))

    def on_free(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self.stmts.pop(stmt, None)
        if st is not None:
            st.close_cursor()
            self._drop_lobs(st)
        self.send(frame(stmt, RCMD_OK))

    def _stmt(self, stmt: int) -> Stmt:
        st = self.stmts.get(stmt)
        if st is None:                                 # clients may reuse a handle we never allocated
            st = self.stmts[stmt] = Stmt()
        return st

    def on_prepare(self, stmt: int, h: bytes, body: bytes) -> None:
        sql = body.split(b"\0", 1)[0].decode("utf-8")
        st = self._stmt(stmt)
        st.close_cursor()
        st.sql = sql
        st.params = []
        self._set_autocommit(h[20])
        if h[21]:                                      # exec direct
            self.execute(stmt, st, None)
            return
        params, columns = self.session.describe(sql)
        st.params = list(params)
        o = _PREP_OPTS.pack(SQL_SELECT if columns else SQL_DML, len(params), len(columns), 0, 0)
        reply = b"".join(codec.param_desc(p) for p in params) + b"".join(codec.column_desc(c) for c in columns)
        self.send(frame(stmt, RCMD_OK, 0, o, reply))

    def on_execute(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self._stmt(stmt)
        self._set_autocommit(h[20])
        self.execute(stmt, st, None)

    def on_execute2(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self._stmt(stmt)
        self._set_autocommit(h[20])
        (nparams,) = _H.unpack_from(h, 21)
        (nrows,) = struct.unpack_from("<q", h, 24)
        pos = 0
        descs = []
        for _ in range(nparams):
            descs.append(_BIND_DESC.unpack_from(body, pos))
            pos += _BIND_DESC.size
        batches: list[list] = []
        for _ in range(max(nrows, 1 if nparams == 0 else 0)):
            row = []
            for i, (io, code, _prec, _scale) in enumerate(descs):
                if io == 1:                            # OUT parameter: no data travels
                    row.append(None)
                    continue
                (n,) = _H.unpack_from(body, pos)
                pos += 2
                if n == 0xFFFE:
                    row.append(None)
                    continue
                if n == 0xFFFF:
                    (n,) = _I.unpack_from(body, pos)
                    pos += 4
                data = body[pos:pos + n]
                pos += n
                if n == 0 and i in st.lobs:            # value uploaded earlier with PUT_DATA
                    data = bytes(st.lobs[i])
                row.append(codec.decode_param(code, data))
            batches.append(row)
        st.lobs.clear()
        if len(batches) <= 1:
            self.execute(stmt, st, batches[0] if batches else None)
            return
        total = 0
        for row in batches:
            total += self.session.execute(st.sql, row).rowcount
        self.send(self.dml_reply(stmt, total))

    def _set_autocommit(self, flag: int) -> None:
        self.session.autocommit = bool(flag)

    def execute(self, stmt: int, st: Stmt, params: list | None) -> None:
        st.close_cursor()
        self._drop_lobs(st)
        result = self.session.execute(st.sql, params)
        if result.kind != "select":
            self.send(self.dml_reply(stmt, result.rowcount, result.message))
            return
        columns = list(result.columns)

        def store(value: str | bytes) -> int:
            lob_id = self.next_lob
            self.next_lob += 1
            self.offrow[lob_id] = value
            st.lob_ids.append(lob_id)
            return lob_id
        cur = Cursor(columns, iter(result.rows), codec.RowEncoder(columns, store))
        data, n = cur.page(FIRST_PAGE_ROWS, FIRST_PAGE_BYTES)
        if not cur.done:
            st.cursor = cur
        total = cur.pos if cur.done else UNKNOWN_TOTAL
        o = bytearray(OPTS_LEN)                        # no print text here: dm-pure would misparse it
        _EXEC_OPTS.pack_into(o, 0, SQL_SELECT, len(columns), total, 0, 0, n, 0)
        self._pack_trx(o)
        desc = b"".join(codec.column_desc(c) for c in columns)
        self.send(frame(stmt, RCMD_RESULT, 0, bytes(o), desc + data))

    def dml_reply(self, stmt: int, rowcount: int, message: str = "") -> bytes:
        printed = message.encode("utf-8")
        o = bytearray(OPTS_LEN)
        _EXEC_OPTS.pack_into(o, 0, SQL_DML, 0, max(rowcount, 0), 0, 0, 0, len(printed))
        self._pack_trx(o)
        return frame(stmt, RCMD_RESULT, 0, bytes(o), printed)

    def _pack_trx(self, o: bytearray) -> None:
        """Execute reply @60 TrxStatus: TRX_ACTIVE while the session holds uncommitted writes, else 0
        (finished). With read/write separation the DPI keeps reads on the primary while it is active."""
        if getattr(self.session, "in_transaction", False):
            _I.pack_into(o, TRX_STATUS_AT, TRX_ACTIVE)

    def on_fetch(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self.stmts.get(stmt)
        cur = st.cursor if st is not None else None
        if cur is None:
            self.send(frame(stmt, RCMD_OK, 0, _FETCH_OPTS.pack(0, 0)))
            return
        start, count = _FETCH_REQ.unpack_from(h, 20)
        if start < cur.pos:
            raise DmError(ERR_FETCH_BACK, lang.msg("wire_fetch_back"))
        while cur.pos < start and not cur.done:         # skip forward
            cur.page(min(start - cur.pos, PAGE_ROWS), 1 << 62)
        max_rows = PAGE_ROWS if count <= 0 else min(count, PAGE_ROWS)
        data, n = cur.page(max_rows, PAGE_BYTES) if not cur.done else (b"", 0)
        total = cur.pos if cur.done else UNKNOWN_TOTAL
        if cur.done:
            st.cursor = None
        self.send(frame(stmt, RCMD_OK, 0, _FETCH_OPTS.pack(total, n), data))

    def on_close_cursor(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self.stmts.get(stmt)
        if st is not None:
            st.close_cursor()
        self.send(frame(stmt, RCMD_OK, RET_NO_MORE_ROWS))

    def _drop_lobs(self, st: Stmt) -> None:
        for lob_id in st.lob_ids:
            self.offrow.pop(lob_id, None)
        st.lob_ids.clear()

    def _lob(self, lob_id: int) -> str | bytes:
        try:
            return self.offrow[lob_id]
        except KeyError:
            raise DmError(ERR_BAD_LOB, lang.msg("wire_bad_lob")) from None

    def on_lob_len(self, stmt: int, h: bytes, body: bytes) -> None:
        """LOB_LEN (29): body u8 lobFlag, i64 id, ... -> i64 length (characters for CLOB)."""
        value = self._lob(struct.unpack_from("<q", body, 1)[0])
        self.send(frame(stmt, RCMD_RESULT, 0, b"", struct.pack("<q", len(value))))

    def on_lob_read(self, stmt: int, h: bytes, body: bytes) -> None:
        """LOB_READ (32): id @7, offset @33 and length @37 (characters for CLOB, bytes for BLOB)."""
        value = self._lob(struct.unpack_from("<q", body, 7)[0])
        offset, length = struct.unpack_from("<ii", body, 33)
        offset = max(offset, 0)
        piece = value[offset:offset + max(length, 0)]
        data = piece.encode("utf-8") if isinstance(piece, str) else piece
        over = 1 if offset + len(piece) >= len(value) else 0
        reply = struct.pack("<Bihii", over, len(data), 0, 0, offset + len(piece)) + data
        if isinstance(piece, str):
            reply += _I.pack(len(piece))
        self.send(frame(stmt, RCMD_RESULT, 0, b"", reply))

    def on_commit(self, stmt: int, h: bytes, body: bytes) -> None:
        self.session.commit()
        self.send(frame(stmt, RCMD_OK))

    def on_rollback(self, stmt: int, h: bytes, body: bytes) -> None:
        self.session.rollback()
        self.send(frame(stmt, RCMD_OK))

    def on_set_iso(self, stmt: int, h: bytes, body: bytes) -> None:
        self.send(frame(stmt, RCMD_OK))

    def on_lob_params(self, stmt: int, h: bytes, body: bytes) -> None:
        self._stmt(stmt).lobs.clear()
        self.send(frame(stmt, RCMD_OK))

    def on_put_data(self, stmt: int, h: bytes, body: bytes) -> None:
        st = self._stmt(stmt)
        idx = h[20]
        (n,) = struct.unpack_from("<I", body, 0)
        st.lobs.setdefault(idx, bytearray()).extend(body[8:8 + n])
        self.send(frame(stmt, RCMD_OK))


__all__ = ["Cursor", "StatementCommands", "Stmt"]
