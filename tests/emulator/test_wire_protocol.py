"""dmemu.wire below the drivers: value codecs, framing, and a raw-socket client for edge cases."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import socket
import struct
import threading
import time

import pytest
from dmemu import api
from dmemu.wire import codec, protocol
from wire_fake import PASSWORD, FakeServer, start_wire

DECIMALS = ["0", "1.5", "-1.5", "100", "0.001", "-0.001", "123456789.987654321", "-99999999999999999999.5",
            "1E+40", "-7.25", "12345678901234567890123456789012345678"]


@pytest.mark.parametrize("text", DECIMALS)
def test_decimal_codec_round_trips(text):
    d = decimal.Decimal(text)
    assert codec.dec_decimal(codec.enc_decimal(d)) == d


def test_decimal_encoding_matches_known_bytes_and_dm_pure_decoder():
    from dmpy.result import Column, _decode_decimal
    assert codec.enc_decimal(decimal.Decimal("1.50")) == bytes.fromhex("c10233")
    assert codec.enc_decimal(0) == b"\x80"
    for text in DECIMALS:
        assert _decode_decimal(codec.enc_decimal(decimal.Decimal(text)), Column()) == decimal.Decimal(text)


def test_date_time_codecs_round_trip_and_match_reference_bytes():
    assert codec.enc_date(dt.date(2026, 8, 12)) == bytes.fromhex("ea0764")
    for d in (dt.date(1, 1, 1), dt.date(2026, 2, 28), dt.date(9999, 12, 31)):
        assert codec.dec_date(codec.enc_date(d)) == d
    t = dt.time(23, 59, 58, 999999)
    assert codec.dec_time(codec.enc_time(t)) == t
    ts = dt.datetime(2026, 11, 24, 16, 5, 7, 123)
    assert codec.dec_datetime(codec.enc_datetime(ts)) == ts


def test_row_encoding_offsets_point_at_length_fields():
    cols = [api.Column("A", "INT"), api.Column("B", "VARCHAR", 10), api.Column("C", "BIGINT")]
    enc = codec.RowEncoder(cols)
    row = enc.row((5, "héllo", None), 1)
    n, rowid, *offs = struct.unpack_from("<Hq3H", row)
    assert n == len(row) and rowid == 1
    assert struct.unpack_from("<H", row, offs[0])[0] == 4
    assert row[offs[1] + 2:offs[1] + 2 + 6] == "héllo".encode()
    assert row[offs[2]:offs[2] + 2] == b"\xfe\xff"


def test_fixed_width_fast_path_equals_general_path_and_handles_nulls():
    cols = [api.Column(c, t) for c, t in (("A", "INT"), ("B", "BIGINT"), ("C", "DOUBLE"), ("D", "SMALLINT"))]
    enc = codec.RowEncoder(cols)
    assert enc._fast is not None
    rows = [(1, 2, 3.5, 4), (None, 5, None, 6), (-1, -2, -3.25, -4)]
    parts, count, exhausted = enc.page(iter(rows), 1, 100, 1 << 20)
    assert count == 3 and exhausted
    assert parts == [enc.row(r, i + 1) for i, r in enumerate(rows)]
    parts, count, exhausted = enc.page(iter(rows * 10), 1, 7, 1 << 20)
    assert count == 7 and not exhausted


def test_frame_checksum_is_verified():
    f = protocol.frame(3, 5, 0, b"\x01", b"body")
    assert protocol.parse_header(f[:64]) == (3, 5, 4, 0)
    bad = bytearray(f[:64])
    bad[19] ^= 0xFF
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_header(bytes(bad))


# ------------------------------------------------------------------ raw client

class RawClient:
    """Just enough of a DM client to send arbitrary messages."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, stmt: int, cmd: int, opts: bytes = b"", body: bytes = b"") -> None:
        self.sock.sendall(protocol.frame(stmt, cmd, 0, opts, body))

    def recv(self) -> tuple[int, int, int, bytes, bytes]:
        h = self._exact(64)
        stmt, cmd, n, ret = protocol.parse_header(h)
        return stmt, cmd, ret, h[20:], self._exact(n)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def login(self, user: str = "SYSDBA", password: str = PASSWORD) -> int:
        x = int.from_bytes(os.urandom(64), "big") % (protocol.DH_P - 2) + 1
        pub = pow(protocol.DH_G, x, protocol.DH_P).to_bytes(64, "big")
        self.send(0, protocol.CMD_STARTUP, b"", protocol.lp(b"8.1.5.60") + b"\0" + protocol.lp(pub))
        _, _, ret, _, body = self.recv()
        assert ret == 0
        srv_pub = body[-64:]
        k = pow(int.from_bytes(srv_pub, "big"), x, protocol.DH_P)
        key = k.to_bytes((k.bit_length() + 7) // 8, "big")
        from Crypto.Cipher import DES

        def enc(b: bytes) -> bytes:
            return DES.new(key[:8], DES.MODE_CFB, iv=protocol.DES_IV, segment_size=64).encrypt(b)
        body = (protocol.lp(enc(user.encode())) + protocol.lp(enc(password.encode())) + protocol.lp(b"raw")
                + protocol.lp(b"linux") + protocol.lp(b"h") + b"\0" + struct.pack("<H", 0))
        self.send(0, protocol.CMD_LOGIN, b"", body)
        return self.recv()[2]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served(tmp_path):
    fake = FakeServer(str(tmp_path / "raw.sqlite"))
    ws = start_wire(fake)
    yield fake, ws
    ws.close()


def test_unknown_command_gets_dm_error_not_a_hang(served):
    _, ws = served
    c = RawClient(ws.port)
    assert c.login() == 0
    c.send(0, 123)
    _, _, ret, _, body = c.recv()
    assert ret == -6001
    assert "123" in protocol.read_lp(body, 12)[0].decode()
    c.send(0, protocol.CMD_COMMIT)                       # still usable afterwards
    assert c.recv()[2] == 0
    c.close()


def test_statement_before_login_is_refused(served):
    _, ws = served
    c = RawClient(ws.port)
    c.send(0, protocol.CMD_ALLOC_STMT)
    assert c.recv()[2] == -2501
    c.close()


def test_corrupt_checksum_drops_the_connection(served):
    _, ws = served
    c = RawClient(ws.port)
    bad = bytearray(protocol.frame(0, protocol.CMD_STARTUP))
    bad[19] ^= 0x55
    c.sock.sendall(bytes(bad))
    with pytest.raises((ConnectionError, OSError)):
        c.recv()
    c.close()


def test_close_disconnects_clients_and_frees_the_port(tmp_path):
    fake = FakeServer(str(tmp_path / "c.sqlite"))
    threads_before = threading.active_count()
    ws = start_wire(fake)
    clients = [RawClient(ws.port) for _ in range(3)]
    for c in clients:
        assert c.login() == 0
    port = ws.port
    ws.close()
    for c in clients:
        with pytest.raises((ConnectionError, OSError)):
            c.recv()
        c.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before
    assert all(s.con is None or _closed(s) for s in fake.sessions)
    with socket.create_server(("127.0.0.1", port)):      # the port can be bound again
        pass


def _closed(session) -> bool:
    try:
        session.con.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - sqlite3.ProgrammingError on a closed connection
        return True
    return False


def test_fetch_on_a_finished_cursor_returns_no_rows(served):
    _, ws = served
    c = RawClient(ws.port)
    assert c.login() == 0
    c.send(0xFFFFFFFF, protocol.CMD_ALLOC_STMT, b"\x01")
    sid = c.recv()[0]
    c.send(sid, protocol.CMD_PREPARE, bytes([1, 1]), b"SELECT DUMMY FROM DUAL\0")
    _, cmd, ret, opts, _ = c.recv()
    assert (cmd, ret) == (protocol.RCMD_RESULT, 0)
    assert struct.unpack_from("<hhq", opts, 0) == (protocol.SQL_SELECT, 1, 1)
    c.send(sid, protocol.CMD_FETCH, struct.pack("<qq", 1, 100))
    _, _, ret, opts, body = c.recv()
    assert ret == 0 and struct.unpack_from("<qi", opts, 0)[1] == 0 and body == b""
    c.close()
