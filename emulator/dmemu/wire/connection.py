"""One client connection of the DM wire server: reads framed commands from its socket, dispatches
them to the command handlers (login.py, statements.py) and sends the replies; errors become DM error
frames, a malformed frame closes the link. Also the DMEMU_NET_BLOCK_FILE black hole for a live
connection (see server.py) and DMEMU_WIRE_TRACE lines."""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import TYPE_CHECKING

from .. import api, lang
from ..dw.protocol import BLOCKS
from ..errors import DmError
from . import trace
from .login import LoginCommands
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
    LoginCrypto,
    ProtocolError,
    error_frame,
    parse_header,
    stamp_mode,
)
from .statements import StatementCommands, Stmt

if TYPE_CHECKING:
    from .server import WireServer

log = logging.getLogger("dmemu.wire")

lang.register({
    "wire_bad_cmd": ("不支持的通信命令[{cmd}]", "Unsupported communication command [{cmd}]"),
    "wire_bad_msg": ("通信消息格式错误: {why}", "Invalid communication message: {why}"),
    "wire_internal": ("服务器内部错误: {why}", "Server internal error: {why}"),
    "wire_no_login": ("会话未登录", "Session not logged in"),
})

ERR_BAD_CMD = -6001
ERR_INTERNAL = -6002
ERR_BAD_MSG = -6003
ERR_NO_LOGIN = -2501

BODY_PIECE = 1 << 20                 # bodies above this are read piece by piece
_I = struct.Struct("<i")


class ClientGone(Exception):
    """The client's socket failed while sending: end this connection (other OSErrors are server errors)."""


class ClientConnection(LoginCommands, StatementCommands):
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


__all__ = ["ClientConnection", "ClientGone"]
