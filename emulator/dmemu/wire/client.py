"""A small DB-API-like DM client over the wire protocol (stdlib + pycryptodome only).

The emulator's tools (disql, the watcher/monitor) use it so the Docker image needs neither dmPython
nor dm-pure. It reuses the server side's framing, login crypto and value codecs:
STARTUP (DH key exchange) -> LOGIN (DES-CFB user/password) -> ALLOC_STMT, then exec-direct (cmd 5)
for plain SQL or prepare (cmd 5) + bind/execute (cmd 13) with parameters, FETCH (cmd 7) pages.
Off-row LOBs (over 8000 bytes) are not read back (the tools never select them).
"""

from __future__ import annotations

import datetime as dt
import decimal
import socket
import struct
from collections import deque
from collections.abc import Sequence

from . import codec
from .protocol import (
    CMD_ALLOC_STMT,
    CMD_COMMIT,
    CMD_EXECUTE2,
    CMD_FETCH,
    CMD_FREE_STMT,
    CMD_LOGIN,
    CMD_LOGOUT,
    CMD_PREPARE,
    CMD_ROLLBACK,
    CMD_STARTUP,
    HDR_LEN,
    OPTS_LEN,
    SQL_SELECT,
    ClientLoginCrypto,
    frame,
    lp,
    parse_header,
    read_lp,
)

CLIENT_VERSION = b"8.1.5.60"
ERR_NETWORK = -70028                      # as dmPython reports a lost/refused connection
_EXEC_OPTS = struct.Struct("<hhqHBii")   # @20 retSqlType ncols updateCount outParams rsUpdatable rows printLen
_FETCH_OPTS = struct.Struct("<qi")        # @20 total (0x7FFFFFFF while streaming), rows in page
_PREP_OPTS = struct.Struct("<hHhqi")      # @20 retSqlType nparams ncols ...
_DESC_HEAD = struct.Struct("<iiiih6xHHHH")
_BIND_DESC = struct.Struct("<biii")
_H = struct.Struct("<H")
_I = struct.Struct("<i")
UNKNOWN_TOTAL = 0x7FFFFFFF


class DmError(Exception):
    """A DM error: `code` (negative DM code) and `message`; str() is "[code]:message" like DM tools."""

    def __init__(self, code: int, message: str):
        super().__init__(f"[{code}]:{message}")
        self.code, self.message = code, message


def _type(name: str) -> type:
    return type(name, (), {"__doc__": f"DM type {name} (description type code)."})


_TYPE_NAMES = {codec.CHAR: "CHAR", codec.VARCHAR2: "VARCHAR", codec.VARCHAR: "VARCHAR", codec.BIT: "BIT",
               codec.TINYINT: "TINYINT", codec.SMALLINT: "SMALLINT", codec.INT: "INT", codec.BIGINT: "BIGINT",
               codec.DECIMAL: "DECIMAL", codec.REAL: "REAL", codec.DOUBLE: "DOUBLE", codec.BLOB: "BLOB",
               codec.BOOLEAN: "BOOLEAN", codec.DATE: "DATE", codec.TIME: "TIME", codec.DATETIME: "DATETIME",
               codec.BINARY: "BINARY", codec.VARBINARY: "VARBINARY", codec.CLOB: "CLOB"}
TYPES: dict[str, type] = {n: _type(n) for n in sorted(set(_TYPE_NAMES.values()))}


def _param_code(v: object) -> int:
    """DM type code a Python value is bound as."""
    if isinstance(v, bool):
        return codec.BIT
    if isinstance(v, int):
        return codec.BIGINT
    if isinstance(v, float):
        return codec.DOUBLE
    if isinstance(v, decimal.Decimal):
        return codec.DECIMAL
    if isinstance(v, dt.datetime):
        return codec.DATETIME
    if isinstance(v, dt.date):
        return codec.DATE
    if isinstance(v, dt.time):
        return codec.TIME
    if isinstance(v, (bytes, bytearray, memoryview)):
        return codec.VARBINARY
    return codec.VARCHAR


def _encode_value(data: bytes) -> bytes:
    if len(data) < 0xFFFE:
        return _H.pack(len(data)) + data
    return b"\xff\xff" + _I.pack(len(data)) + data


class Connection:
    """One logged-in DM session. `autocommit` is off by default, as with dmPython."""

    def __init__(self, host: str, port: int, user: str, password: str, timeout: float | None = 30.0,
                 autocommit: bool = False):
        self.autocommit = autocommit
        self.svr_mode = self.svr_stat = 0
        try:
            self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as e:
            raise DmError(ERR_NETWORK, f"Create SOCKET connection failure ({e})") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._login(user, password)
        except BaseException:
            self._sock.close()
            raise

    # ---- transport ----------------------------------------------------------------------
    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._sock.recv(n - len(buf))
            except OSError as e:
                raise DmError(ERR_NETWORK, f"network error ({e})") from None
            if not chunk:
                raise DmError(ERR_NETWORK, "connection closed by the server")
            buf += chunk
        return bytes(buf)

    def request(self, stmt: int, cmd: int, opts: bytes = b"", body: bytes = b"") -> tuple[int, bytes, bytes]:
        """Send one message and read its reply: (stmt, header, body); DmError if ret < 0."""
        if self._sock is None:
            raise DmError(ERR_NETWORK, "connection is closed")
        try:
            self._sock.sendall(frame(stmt, cmd, 0, opts, body))
        except OSError as e:
            raise DmError(ERR_NETWORK, f"network error ({e})") from None
        h = self._recv(HDR_LEN)
        rstmt, _cmd, length, ret = parse_header(h)
        data = self._recv(length) if length else b""
        if ret < 0:
            pos = 0
            for _ in range(3):
                _, pos = read_lp(data, pos)
            msg, _ = read_lp(data, pos)
            raise DmError(ret, msg.decode("utf-8", "replace"))
        return rstmt, h, data

    def _login(self, user: str, password: str) -> None:
        crypto = ClientLoginCrypto()
        o = bytearray(OPTS_LEN)
        o[8] = 1                                         # @28 login encryption
        _, _, body = self.request(0, CMD_STARTUP, bytes(o), lp(CLIENT_VERSION) + b"\0" + lp(crypto.public))
        pos = 0
        for _ in range(4):
            _, pos = read_lp(body, pos)
        self.server_version = read_lp(body, pos)[0].decode("ascii", "replace")
        _, pos = read_lp(body, pos)
        server_pub, _ = read_lp(body, pos)
        crypto.accept(server_pub)
        lo = bytearray(OPTS_LEN)
        struct.pack_into("<i", lo, 0, 5)                 # @20 clientType
        body = (lp(crypto.encrypt(user.encode("utf-8"))) + lp(crypto.encrypt(password.encode("utf-8")))
                + lp(b"dmemu") + lp(b"linux") + lp(socket.gethostname().encode()) + b"\0" + _H.pack(0))
        _, h, _ = self.request(0, CMD_LOGIN, bytes(lo), body)
        self.svr_mode, self.svr_stat = struct.unpack_from("<hh", h, 35)

    # ---- DB-API -------------------------------------------------------------------------
    @property
    def SvrMode(self) -> int:                            # noqa: N802 - dmPython's attribute name
        """Server mode from the login reply (0 normal, 1 primary, 2 standby)."""
        return self.svr_mode

    @property
    def SvrStat(self) -> int:                            # noqa: N802
        """Server status from the login reply (4 = open)."""
        return self.svr_stat

    def cursor(self) -> Cursor:
        """A new cursor (its own statement handle)."""
        return Cursor(self)

    def execute(self, sql: str, params: Sequence | None = None) -> Cursor:
        """Shortcut: a new cursor with `sql` executed."""
        c = self.cursor()
        c.execute(sql, params)
        return c

    def commit(self) -> None:
        """Commit the session's transaction."""
        self.request(0, CMD_COMMIT)

    def rollback(self) -> None:
        """Roll back the session's transaction."""
        self.request(0, CMD_ROLLBACK)

    def close(self) -> None:
        """Log out (uncommitted work is rolled back by the server) and close the socket."""
        if self._sock is None:
            return
        try:
            self.request(0, CMD_LOGOUT)
        except DmError:
            pass
        finally:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Cursor:
    """Executes statements on one statement handle; results are read page by page (FETCH)."""

    arraysize = 1

    def __init__(self, conn: Connection):
        self.conn = conn
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self._stmt: int | None = None
        self._codes: list[int] = []
        self._rows: deque[tuple] = deque()
        self._pos = 0                                    # rows received so far
        self._done = True

    def _handle(self) -> int:
        if self._stmt is None:
            o = bytes([1])
            self._stmt, _, _ = self.conn.request(0, CMD_ALLOC_STMT, o)
        return self._stmt

    def execute(self, sql: str, params: Sequence | None = None) -> Cursor:
        """Run one statement: exec-direct without params, prepare + bind with them."""
        stmt = self._handle()
        self.description, self.rowcount, self._rows, self._pos, self._done = None, -1, deque(), 0, True
        ac = 1 if self.conn.autocommit else 0
        text = sql.encode("utf-8") + b"\0"
        if not params:
            _, h, body = self.conn.request(stmt, CMD_PREPARE, bytes([ac, 1]), text)
        else:
            self.conn.request(stmt, CMD_PREPARE, bytes([ac, 0]), text)
            codes = [_param_code(v) for v in params]
            o = bytearray(OPTS_LEN)
            o[0] = ac
            _H.pack_into(o, 1, len(params))
            struct.pack_into("<q", o, 4, 1)
            data = b"".join(_BIND_DESC.pack(0, c, 0, 0) for c in codes)
            for c, v in zip(codes, params, strict=True):
                data += b"\xfe\xff" if v is None else _encode_value(codec.VALUE_ENCODERS[c](v))
            _, h, body = self.conn.request(stmt, CMD_EXECUTE2, bytes(o), data)
        kind, ncols, count, _out, _upd, nrows, _plen = _EXEC_OPTS.unpack_from(h, 20)
        if kind != SQL_SELECT or ncols == 0:
            self.rowcount = count
            return self
        pos = self._parse_desc(body, ncols)
        self._rows = deque(self._parse_rows(body, pos, nrows))
        self._pos = nrows
        self._done = count != UNKNOWN_TOTAL and nrows >= count
        self.rowcount = count if self._done else -1
        return self

    def _parse_desc(self, body: bytes, ncols: int) -> int:
        pos = 0
        desc = []
        self._codes = []
        for _ in range(ncols):
            code, prec, scale, nullable, flags, nlen, _a, _b, _c = _DESC_HEAD.unpack_from(body, pos)
            pos += _DESC_HEAD.size
            name = body[pos:pos + nlen].decode("utf-8", "replace")
            pos += nlen
            (blen,) = _H.unpack_from(body, pos)          # base column name
            pos += 2 + blen
            if flags & 0x02:
                pos += 6                                 # LOB table/column ids
            self._codes.append(code)
            tp = TYPES.get(_TYPE_NAMES.get(code, "VARCHAR"))
            desc.append((name, tp, None, prec, prec, scale, bool(nullable)))
        self.description = desc
        return pos

    def _parse_rows(self, body: bytes, pos: int, n: int) -> list[tuple]:
        decoders = [codec.VALUE_DECODERS.get(c, lambda b: b.decode("utf-8", "replace")) for c in self._codes]
        ncols = len(decoders)
        rows = []
        for _ in range(n):
            (rowlen,) = _H.unpack_from(body, pos)
            p = pos + 10 + 2 * ncols
            vals = []
            for dec in decoders:
                (ln,) = _H.unpack_from(body, p)
                p += 2
                if ln == 0xFFFE:
                    vals.append(None)
                    continue
                if ln == 0xFFFF:
                    (ln,) = _I.unpack_from(body, p)
                    p += 4
                vals.append(dec(body[p:p + ln]))
                p += ln
            rows.append(tuple(vals))
            pos = max(pos + rowlen, p)
        return rows

    def _fetch_page(self) -> None:
        o = struct.pack("<qq", self._pos, 0)
        _, h, body = self.conn.request(self._stmt, CMD_FETCH, o)
        total, n = _FETCH_OPTS.unpack_from(h, 20)
        self._rows.extend(self._parse_rows(body, 0, n))
        self._pos += n
        if n == 0 or (total != UNKNOWN_TOTAL and self._pos >= total):
            self._done = True
            self.rowcount = self._pos

    def fetchone(self) -> tuple | None:
        """Next row, or None when the result is exhausted."""
        while not self._rows and not self._done:
            self._fetch_page()
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        """Up to `size` (default arraysize) rows."""
        size = size or self.arraysize
        while len(self._rows) < size and not self._done:
            self._fetch_page()
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    def fetchall(self) -> list[tuple]:
        """All remaining rows (pages through the result with FETCH)."""
        while not self._done:
            self._fetch_page()
        out, self._rows = list(self._rows), deque()
        return out

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        """Free the statement handle."""
        if self._stmt is not None and self.conn._sock is not None:
            try:
                self.conn.request(self._stmt, CMD_FREE_STMT)
            except DmError:
                pass
        self._stmt = None


def connect(host: str, port: int, user: str, password: str, autocommit: bool = False,
            timeout: float | None = 30.0) -> Connection:
    """Log in to a DM server (or the emulator); DmError (-2501 etc.) if refused."""
    return Connection(host, port, user, password, timeout=timeout, autocommit=autocommit)
