"""Login commands of the DM wire server: STARTUP (key exchange), LOGIN (decrypt the credentials, log in
to the api.Server, reply with SvrMode/SvrStat and, for read/write separation, the standby) and LOGOUT.
A mixin of ClientConnection (connection.py), which owns the state it uses."""

from __future__ import annotations

import struct
import urllib.parse

from ..errors import DmError
from . import trace
from .protocol import (
    OPTS_LEN,
    RCMD_LOGIN,
    RCMD_OK,
    RCMD_RESULT,
    RCMD_STARTUP,
    LoginCrypto,
    ProtocolError,
    error_frame,
    frame,
    info_block,
    lp,
    read_lp,
)

MSG_VERSION = 8
LOGIN_TAIL = b"\0" * 8 + b".,"     # after SessionID: NLS decimal and group separators (the DPI reads them)
LOGIN_PAD = b"\0" * 256            # the DPI reads past the fields the Go driver knows
_H = struct.Struct("<H")


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


class LoginCommands:
    """STARTUP, LOGIN and LOGOUT handlers of a ClientConnection."""

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


__all__ = ["LoginCommands", "parse_server_option"]
