"""DM client wire protocol: message framing, command codes and login-time crypto.

Every message is a 64-byte little-endian header followed by a body:

    @0  u32 statement handle     @4  i16 command     @6  u32 body length
    @10 i32 return code (<0 error, >0 info)           @19 u8 XOR of bytes 0..18
    @20..63 per-command parameter area ("opts")

Login uses a 512-bit Diffie-Hellman exchange (G=5) and DES-CFB (64-bit segments, fixed IV) over
the user name and password only; everything after login travels in clear with XOR checksums.
See /work/shared/reference/dm8-python-drivers-and-wire-protocol.md.
"""

from __future__ import annotations

import os
import struct

try:
    from Crypto.Cipher import DES
except ImportError:  # Debian's python3-pycryptodome installs the package as Cryptodome
    from Cryptodome.Cipher import DES  # type: ignore[no-redef]

HDR_LEN = 64
OPTS_LEN = HDR_LEN - 20
MAX_BODY = 0x20000000

# request command codes
CMD_LOGIN = 1
CMD_LOGOUT = 2
CMD_ALLOC_STMT = 3
CMD_FREE_STMT = 4
CMD_PREPARE = 5
CMD_EXECUTE = 6
CMD_FETCH = 7
CMD_COMMIT = 8
CMD_ROLLBACK = 9
CMD_EXECUTE2 = 13
CMD_PUT_DATA = 14
CMD_LOB_LEN = 29
CMD_LOB_READ = 32
CMD_CLOSE_CURSOR = 44
CMD_SET_ISO = 52
CMD_LOB_PARAMS = 90
CMD_STARTUP = 200

# reply command codes (dm-pure insists on these; the DPI and the Go driver ignore them)
RCMD_STARTUP = 228
RCMD_LOGIN = 163
RCMD_RESULT = 187
RCMD_OK = 0

# return codes > 0 are informational
RET_NO_MORE_ROWS = 111

# retSqlType values in execute replies
SQL_SELECT = 160
SQL_DML = 157

INT64_MAX = 0x7FFFFFFFFFFFFFFF

_HDR = struct.Struct("<IhIi")
_I32 = struct.Struct("<i")

# Diffie-Hellman group shared with every DM client (512-bit prime, generator 5)
DH_P = int(
    "C009D877BAF5FAF416B7F778E6115DCB90D65217DCC2F08A9DFCB5A192C593EB"
    "AB02929266B8DBFC2021039FDBD4B7FDE2B996E00008F57AE6EFB4ED3F17B6D3", 16)
DH_G = 5
DH_KEY_LEN = 64
DES_IV = bytes((0x20, 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28))


class ProtocolError(Exception):
    """The peer sent something that is not a DM message (bad checksum, absurd length)."""


def frame(stmt: int, cmd: int, ret: int = 0, opts: bytes = b"", body: bytes = b"") -> bytes:
    """Build one message: header (with XOR checksum) + body."""
    h = bytearray(HDR_LEN)
    _HDR.pack_into(h, 0, stmt & 0xFFFFFFFF, cmd, len(body), ret)
    if opts:
        h[20:20 + len(opts)] = opts
    x = 0
    for b in h[:19]:
        x ^= b
    h[19] = x
    return bytes(h) + body if body else bytes(h)


def stamp_mode(msg: bytes, svr_mode: int) -> bytes:
    """`msg` with the server's current SvrMode in header @14 (i16), checksum redone.

    DM8 stamps its mode on every reply; with read/write separation the DPI compares it with the mode the
    login reply gave for that connection and, when they differ, drops the connection and logs in again
    (dpi_stat_need_swich: primary connections expect 1, standby connections 2)."""
    h = bytearray(msg[:HDR_LEN])
    struct.pack_into("<h", h, 14, svr_mode)
    x = 0
    for b in h[:19]:
        x ^= b
    h[19] = x
    return bytes(h) + msg[HDR_LEN:]


def parse_header(h: bytes) -> tuple[int, int, int, int]:
    """Return (stmt, cmd, body_length, ret) of a 64-byte header; ProtocolError if it is corrupt."""
    x = 0
    for b in h[:19]:
        x ^= b
    if x != h[19]:
        raise ProtocolError("message checksum mismatch")
    stmt, cmd, length, ret = _HDR.unpack_from(h, 0)
    if length > MAX_BODY:
        raise ProtocolError(f"message body too long ({length} bytes)")
    return stmt, cmd, length, ret


def lp(data: bytes) -> bytes:
    """i32 length-prefixed byte string."""
    return _I32.pack(len(data)) + data


def read_lp(buf: bytes, pos: int) -> tuple[bytes, int]:
    """Read an i32 length-prefixed field at pos; return (data, next_pos)."""
    (n,) = _I32.unpack_from(buf, pos)
    if n < 0 or pos + 4 + n > len(buf):
        raise ProtocolError("truncated length-prefixed field")
    return bytes(buf[pos + 4:pos + 4 + n]), pos + 4 + n


# The DPI rejects texts over 0x800 bytes (dpi_validate_err_msg) and cuts what it keeps at about 1 KiB
# in the client's local charset, possibly inside a character; so send at most this many characters.
MAX_MESSAGE_CHARS = 480


def info_block(message: str = "") -> bytes:
    """The 4-field block that starts startup/login/error bodies: 3 skipped fields + message text."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS - 3] + "..."
    return lp(b"") * 3 + lp(message.encode("utf-8"))


def error_frame(stmt: int, code: int, message: str, cmd: int = RCMD_OK) -> bytes:
    """An error reply both drivers turn into an exception carrying `code` and `message`."""
    return frame(stmt, cmd, code, b"", info_block(message))


class LoginCrypto:
    """Server half of the startup key exchange and the login-only DES-CFB cipher."""

    def __init__(self, client_pub: bytes):
        x = int.from_bytes(os.urandom(DH_KEY_LEN), "big") % (DH_P - 2) + 1
        self.server_pub = pow(DH_G, x, DH_P).to_bytes(DH_KEY_LEN, "big")
        k = pow(int.from_bytes(client_pub, "big"), x, DH_P)
        self.key = k.to_bytes((k.bit_length() + 7) // 8, "big")   # no zero padding, as the clients do

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt one login field (each field restarts the cipher stream)."""
        return _login_cipher(self.key).decrypt(data)

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt like a client does (used by tests and tools that speak the protocol)."""
        return _login_cipher(self.key).encrypt(data)


def _login_cipher(key: bytes):
    """A fresh DES-CFB-64 cipher over the first 8 bytes of the DH session key."""
    return DES.new(key[:8], DES.MODE_CFB, iv=DES_IV, segment_size=64)


def _key_bytes(k: int) -> bytes:
    return k.to_bytes((k.bit_length() + 7) // 8, "big")   # no zero padding, as the clients do


class ClientLoginCrypto:
    """Client half of the startup key exchange: `public` goes in STARTUP, `accept` takes the
    server's key from the reply, then `encrypt` hides the user name and password."""

    def __init__(self) -> None:
        self._x = int.from_bytes(os.urandom(DH_KEY_LEN), "big") % (DH_P - 2) + 1
        self.public = pow(DH_G, self._x, DH_P).to_bytes(DH_KEY_LEN, "big")
        self.key = b""

    def accept(self, server_pub: bytes) -> None:
        """Derive the session key from the server's public key."""
        self.key = _key_bytes(pow(int.from_bytes(server_pub, "big"), self._x, DH_P))

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt one login field (each field restarts the cipher stream)."""
        return _login_cipher(self.key).encrypt(data)
