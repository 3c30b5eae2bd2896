"""Threaded TCP server speaking the DM client wire protocol on top of an api.Server.

One thread per client connection. Each connection runs STARTUP (key exchange), LOGIN, then
statement commands against the api.Session that Server.login() returned. Result sets are sent in
pages pulled lazily from Result.rows, so million-row results never sit in memory.

Emulator-only: while DMEMU_NET_BLOCK_FILE lists this listener's address as `host:port` (see
dw/protocol.py), the server is a black hole for its clients: new connections are closed at once, and
existing ones neither run the commands they send nor get replies until the line is removed.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

from .. import api, lang
from ..dw.protocol import BLOCKS
from ..errors import DmError
from . import codec, trace
from .protocol import (
    CMD_ALLOC_STMT,
    CMD_CLOSE_CURSOR,
    CMD_COMMIT,
    CMD_EXECUTE,
    CMD_EXECUTE2,
    CMD_FETCH,
    CMD_FREE_STMT,
    CMD_LOB_LEN,
    CMD_LOB_PARAMS,
    CMD_LOB_READ,
    CMD_LOGIN,
    CMD_LOGOUT,
    CMD_PREPARE,
    CMD_PUT_DATA,
    CMD_ROLLBACK,
    CMD_SET_ISO,
    CMD_STARTUP,
    HDR_LEN,
    OPTS_LEN,
    RCMD_LOGIN,
    RCMD_OK,
    RCMD_RESULT,
    RCMD_STARTUP,
    RET_NO_MORE_ROWS,
    SQL_DML,
    SQL_SELECT,
    LoginCrypto,
    ProtocolError,
    error_frame,
    frame,
    info_block,
    lp,
    parse_header,
    read_lp,
    stamp_mode,
)

log = logging.getLogger("dmemu.wire")

lang.register({
    "wire_bad_cmd": ("不支持的通信命令[{cmd}]", "Unsupported communication command [{cmd}]"),
    "wire_bad_msg": ("通信消息格式错误: {why}", "Invalid communication message: {why}"),
    "wire_internal": ("服务器内部错误: {why}", "Server internal error: {why}"),
    "wire_fetch_back": ("结果集不支持向后滚动", "Result set cannot scroll backwards"),
    "wire_no_login": ("会话未登录", "Session not logged in"),
    "wire_bad_lob": ("无效的大字段定位器", "Invalid LOB locator"),
})

ERR_BAD_CMD = -6001
ERR_INTERNAL = -6002
ERR_BAD_MSG = -6003
ERR_FETCH_BACK = -7029
ERR_BAD_LOB = -7030
ERR_NO_LOGIN = -2501
LISTEN_BACKLOG = 1024              # bursts of connects (pools, parallel tests) must not overflow the queue


BODY_PIECE = 1 << 20                 # bodies above this are read piece by piece


class ClientGone(Exception):
    """The client's socket failed while sending: end this connection (other OSErrors are server errors)."""

# result paging: the first reply carries a bounded page, later pages come via FETCH (cmd 7)
FIRST_PAGE_ROWS = 10_000
FIRST_PAGE_BYTES = 256 * 1024
PAGE_ROWS = 32_000                 # the execute reply carries the batch row count in an i16
PAGE_BYTES = 1024 * 1024

MSG_VERSION = 8
TRX_STATUS_AT = 40                 # execute reply opts offset of TrxStatus (header @60)
TRX_ACTIVE = 1                     # unconfirmed value: drivers treat (status & 0xFFF) not in {0, 0x20, 0x40} as open
# Row total announced while a result is still streaming. INT64_MAX makes the DPI seek to the last
# row to count them; INT32_MAX makes it fetch forward (and dm-pure sees 0xFFFF = "more rows").
UNKNOWN_TOTAL = 0x7FFFFFFF
LOGIN_TAIL = b"\0" * 8 + b".,"     # after SessionID: NLS decimal and group separators (the DPI reads them)
LOGIN_PAD = b"\0" * 256            # the DPI reads past the fields the Go driver knows

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


def parse_server_option(text: str) -> dict:
    """Parse the DPI's `URL=sql3:dm//host?appName=..&loginMode=4&...` login option into a dict."""
    text = text.strip().rstrip("\0")
    if text.upper().startswith("URL="):
        text = text[4:]
    target, _, query = text.partition("?")
    out: dict = {}
    if target:
        out["url"] = target.split("//", 1)[-1]
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out[k] = int(v) if v.lstrip("-").isdigit() else v
    return out


class ClientConnection:
    """Protocol state of one client socket; run() serves it until logout or disconnect."""

    def __init__(self, wire: WireServer, sock: socket.socket, peer: tuple):
        self.wire = wire
        self.server = wire.server
        self.sock = sock
        self.peer = peer
        self.local = sock.getsockname()[:2]             # the address the client dialled (block-file key)
        self.rfile = sock.makefile("rb", buffering=256 * 1024)
        self.crypto: LoginCrypto | None = None
        self.client_version = ""
        self.session: api.Session | None = None
        self.stmts: dict[int, Stmt] = {}
        self.next_stmt = 1
        self.offrow: dict[int, str | bytes] = {}       # off-row LOB values by locator id
        self.next_lob = 1
        self.running = True
        self.handlers = {
            CMD_STARTUP: self.on_startup, CMD_LOGIN: self.on_login, CMD_LOGOUT: self.on_logout,
            CMD_ALLOC_STMT: self.on_alloc, CMD_FREE_STMT: self.on_free, CMD_PREPARE: self.on_prepare,
            CMD_EXECUTE: self.on_execute, CMD_EXECUTE2: self.on_execute2, CMD_FETCH: self.on_fetch,
            CMD_CLOSE_CURSOR: self.on_close_cursor, CMD_COMMIT: self.on_commit,
            CMD_ROLLBACK: self.on_rollback, CMD_SET_ISO: self.on_set_iso, CMD_PUT_DATA: self.on_put_data,
            CMD_LOB_PARAMS: self.on_lob_params, CMD_LOB_LEN: self.on_lob_len, CMD_LOB_READ: self.on_lob_read,
        }

    # ------------------------------------------------------------ loop
    def run(self) -> None:
        try:
            while self.running:
                h = self.rfile.read(HDR_LEN)
                if len(h) < HDR_LEN:
                    return
                stmt, cmd, length, _ = parse_header(h)
                body = self.read_body(length)
                if body is None:
                    return
                self.stall_while_blocked()
                self.dispatch(stmt, cmd, h, body)
        except ProtocolError as e:
            log.warning("client %s: %s; closing", self.peer, e)
        except (OSError, ClientGone):
            pass
        finally:
            self.cleanup()

    def read_body(self, length: int) -> bytes | None:
        """The body of `length` bytes, read in pieces (a header claiming a huge body costs only what the
        peer really sends); None when the connection ends first."""
        if length <= BODY_PIECE:
            body = self.rfile.read(length) if length else b""
            return body if len(body) == length else None
        buf = bytearray()
        while len(buf) < length:
            piece = self.rfile.read(min(BODY_PIECE, length - len(buf)))
            if not piece:
                return None
            buf += piece
        return bytes(buf)

    def dispatch(self, stmt: int, cmd: int, h: bytes, body: bytes) -> None:
        if trace.enabled():
            self.trace(stmt, cmd, h, body)
        handler = self.handlers.get(cmd)
        if handler is None:
            self.send(error_frame(stmt, ERR_BAD_CMD, lang.msg("wire_bad_cmd", cmd=cmd)))
            return
        if self.session is None and cmd not in (CMD_STARTUP, CMD_LOGIN, CMD_LOGOUT):
            self.send(error_frame(stmt, ERR_NO_LOGIN, lang.msg("wire_no_login")))
            return
        try:
            handler(stmt, h, body)
        except DmError as e:
            self.send(error_frame(stmt, e.code, e.message))
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as e:
            self.send(error_frame(stmt, ERR_BAD_MSG, lang.msg("wire_bad_msg", why=e)))
        except ClientGone:
            raise
        except Exception as e:  # a bug or an OSError (a file read by a view) below the wire layer must not
            # drop the connection: the client would only see a network failure (-70019) instead of the cause
            log.exception("command %d failed", cmd)
            self.send(error_frame(stmt, ERR_INTERNAL, lang.msg("wire_internal", why=f"{type(e).__name__}: {e}")))

    def trace(self, stmt: int, cmd: int, h: bytes, body: bytes) -> None:
        """DMEMU_WIRE_TRACE line for one received command (SQL text for PREPARE)."""
        detail = f"cmd={cmd} stmt={stmt}"
        if cmd == CMD_PREPARE:
            detail += f" direct={h[21]} autocommit={h[20]} sql=" + body.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif cmd == CMD_EXECUTE2:
            detail += f" autocommit={h[20]}"
        trace.record(self.local, self.peer, "CMD", detail)

    def stall_while_blocked(self) -> None:
        """DMEMU_NET_BLOCK_FILE black hole: hold this connection (no command run, no reply) while the
        listener's address is blocked; the client sees silence, as behind an iptables DROP."""
        while BLOCKS.endpoint_blocked(self.local):
            if self.wire.closed:
                raise ClientGone("server closed")
            time.sleep(0.1)

    def send(self, data: bytes) -> None:
        self.stall_while_blocked()
        data = stamp_mode(data, self.server.wire_status()[0])
        if trace.enabled():
            trace.record(self.local, self.peer, "REPLY", f"len={len(data)} ret={_I.unpack_from(data, 10)[0]} "
                         f"head={data[:64].hex()}")
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ClientGone(str(e)) from e

    def cleanup(self) -> None:
        self.running = False
        for st in self.stmts.values():
            st.close_cursor()
        self.stmts.clear()
        self.offrow.clear()
        if self.session is not None:
            try:
                self.session.close()
            except Exception:  # noqa: BLE001 - closing a dead session is best effort
                log.debug("session close failed", exc_info=True)
            self.session = None
        for closer in (self.rfile.close, self.sock.close):
            try:
                closer()
            except OSError:
                pass
        self.wire._forget(self)

    # ------------------------------------------------------------ login
    def on_startup(self, stmt: int, h: bytes, body: bytes) -> None:
        ver, pos = read_lp(body, 0)
        self.client_version = ver.decode("ascii", "replace")
        pos += 1                                        # ukey flag
        client_pub, _ = read_lp(body, pos)
        self.crypto = LoginCrypto(client_pub)
        o = bytearray(OPTS_LEN)
        struct.pack_into("<iiii", o, 0, 0, 0, 1, 0)     # @20 ssl off, @24 series, @28 charset UTF-8, @32 no compression
        o[20] = 1                                       # @40 server public key present -> login encryption
        o[27] = 1                                       # @47 new client type
        struct.pack_into("<H", o, 28, MSG_VERSION)      # @48
        reply = info_block() + lp(self.server.server_version.encode()) + lp(self.crypto.server_pub)
        self.send(frame(0, RCMD_STARTUP, 0, bytes(o), reply))

    def on_login(self, stmt: int, h: bytes, body: bytes) -> None:
        if self.crypto is None:
            raise ProtocolError("LOGIN before STARTUP")
        enc_user, pos = read_lp(body, 0)
        enc_pwd, pos = read_lp(body, pos)
        fields = []
        for _ in range(3):
            v, pos = read_lp(body, pos) if pos + 4 <= len(body) else (b"", pos)
            fields.append(v.decode("utf-8", "replace"))
        option = ""
        rw_standby = body[pos] if pos < len(body) else 0
        if pos + 3 <= len(body):
            (n,) = _H.unpack_from(body, pos + 1)
            option = body[pos + 3:pos + 3 + n].decode("utf-8", "replace")
        user = self.crypto.decrypt(enc_user).decode("utf-8", "replace")
        pwd = self.crypto.decrypt(enc_pwd).decode("utf-8", "replace")
        if trace.enabled():
            trace.record(self.local, self.peer, "LOGIN", f"user={user} rwStandby={rw_standby} readOnly={h[32]} "
                         f"rwSeparate={h[40]} option={option}")
        client = {"app": fields[0], "os": fields[1], "host": fields[2], "peer": f"{self.peer[0]}:{self.peer[1]}",
                  "version": self.client_version, "server_option": option,
                  "options": parse_server_option(option)}
        try:
            session = self.server.login(user, pwd, client)
        except DmError as e:
            self.send(self.login_error(e))
            return
        self.session = session
        mode, stat = self.server.wire_status()
        o = bytearray(OPTS_LEN)
        struct.pack_into("<i", o, 0, 0x7FFFFFFF)       # @20 MaxRowSize
        o[8] = 1                                       # @28 DDLAutoCommit
        struct.pack_into("<i", o, 9, 1)                # @29 IsoLevel read committed
        o[13] = 0                                      # @33 case sensitive
        struct.pack_into("<hh", o, 15, mode, stat)     # @35 SvrMode, @37 SvrStat
        o[23] = 1                                      # @43 NewLobFlag
        struct.pack_into("<i", o, 24, 100)             # @44 bufPrefetch
        standby = b""
        info = getattr(self.server, "standby_info", None)
        sb = info() if info is not None and h[40] else None     # login @40: the client separates reads
        if sb is not None:                             # @42 standby-info flag: host, port, count follow DbName
            o[22] = 1
            standby = lp(sb[0].encode()) + struct.pack("<iH", sb[1], sb[2])
        reply = (info_block() + lp(self.server.instance_name.encode()) + lp(user.upper().encode())
                 + lp(b"") + lp(b"") + struct.pack("<iii", 0, 0, 0) + lp(b"")
                 + lp(self.server.db_name.encode()) + standby + struct.pack("<q", id(session) & 0x7FFFFFFF)
                 + LOGIN_TAIL + LOGIN_PAD)
        self.send(frame(0, RCMD_LOGIN, 0, bytes(o), reply))

    def login_error(self, e: DmError) -> bytes:
        """The reply to a refused login.

        The DPI (dpi_validate_login) accepts a failed login only with reply cmd 187 and the usual
        error body; with any other cmd it reports -70101 instead of the server's code. dm-pure
        checks the return code before the cmd, so 187 suits both.
        """
        return error_frame(0, e.code, e.message, cmd=RCMD_RESULT)

    def on_logout(self, stmt: int, h: bytes, body: bytes) -> None:
        self.send(frame(stmt, RCMD_OK))
        self.running = False

    # ------------------------------------------------------------ statements
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


class WireServer:
    """A listening DM wire endpoint; `.port` is the bound port, `.close()` stops everything."""

    def __init__(self, server: api.Server, host: str, port: int):
        self.server = server
        self.lsock = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        self.host = host
        self.port: int = self.lsock.getsockname()[1]
        self._lock = threading.Lock()
        self._clients: set[ClientConnection] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"dmwire-{self.port}", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                sock, peer = self.lsock.accept()
            except OSError as e:
                if self._closed or e.errno in (errno.EBADF, errno.EINVAL):
                    return                           # the listening socket itself is gone
                # a connection aborted before accept (ECONNABORTED), or out of descriptors/memory: one bad
                # connect must not stop the listener for good (later connects would hang, then -70019)
                log.warning("accept failed: %s", e)
                time.sleep(0.05)
                continue
            conn = None
            try:
                if BLOCKS.endpoint_blocked(sock.getsockname()[:2]):
                    sock.close()                     # black hole: the client's login never completes
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = ClientConnection(self, sock, peer)
                with self._lock:
                    if self._closed:
                        sock.close()
                        return
                    self._clients.add(conn)
                threading.Thread(target=conn.run, name=f"dmwire-client-{peer[1]}", daemon=True).start()
            except (OSError, RuntimeError) as e:     # peer already gone, or no thread could be started
                log.warning("client %s not served: %s", peer, e)
                if conn is not None:
                    self._forget(conn)
                sock.close()

    def _forget(self, conn: ClientConnection) -> None:
        with self._lock:
            self._clients.discard(conn)

    def close(self) -> None:
        """Stop listening and disconnect every client (their sessions are closed)."""
        self._closed = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self) -> WireServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(server: api.Server, host: str, port: int) -> WireServer:
    """Start serving `server` over the DM wire protocol on host:port (port 0 = pick a free one)."""
    return WireServer(server, host, port)
