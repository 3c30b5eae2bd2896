"""Hostile and broken frames on the emulator's ports (issue 17): a watcher's MAL_DW_PORT, an instance's
MAL_PORT and MAL_INST_DW_PORT, and the DM wire port (PORT_NUM). Each target gets random bytes, truncated
frames, oversized length prefixes, valid lengths around invalid JSON, JSON of the wrong shape and an
old-format pickle whose loading would create a marker file. Afterwards every process is alive, still
serves well-formed peers (a monitor's `show`, a dmPython query, a commit shipped to the standby) and the
marker file does not exist. Seeded (fixed random seed); the seeded defect `frame-kills-link-owner`
turns it red (test_frame_defect_is_caught)."""

from __future__ import annotations

import json
import os
import pickle
import random
import socket
import struct
import zlib

import pytest
from dmemu.wire.protocol import CMD_LOGIN, CMD_STARTUP, frame
from dwlab import Lab, count_and_sum, wait_for
from test_bugs import _lab

SEED = 20261205
DW = struct.Struct(">II")


class _Marker:
    """Unpickling this calls open(path, "w"): the file appears only if a receiver ran pickle.loads."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _dw_frame(body: bytes, binary: bytes = b"") -> bytes:
    return DW.pack(len(body), len(binary)) + body + binary


def _dw_payloads(rng: random.Random, marker: str) -> list[tuple[str, bytes, bool]]:
    """(what, bytes, the receiver must close the link) for the Data Watch ports."""
    evil = pickle.dumps({"op": "hello", "x": _Marker(marker)})
    ok = json.dumps({"op": "ping", "rid": 1}).encode()
    out = [(f"random {n}", rng.randbytes(n), False) for n in (1, 7, 64, 4096)]
    out += [
        ("random header, huge lengths", DW.pack(0xFFFFFFFF, 0xFFFFFFFF), True),
        ("oversized json length", DW.pack(64 * 1024 * 1024, 0) + b"{", True),
        ("oversized binary length", DW.pack(2, 0x7FFFFFFF) + b"{}", True),
        ("truncated frame", _dw_frame(ok)[:-3], False),
        ("truncated header", DW.pack(10, 0)[:5], False),
        ("invalid json", _dw_frame(b"{\"op\": \"ping\", "), True),
        ("invalid utf-8", _dw_frame(b"\xff\xfe\xfd"), True),
        ("json list", _dw_frame(b"[1, 2, 3]"), True),
        ("op of wrong type", _dw_frame(b"{\"op\": 5}"), True),
        ("unknown op", _dw_frame(b"{\"op\": \"__import__\"}"), True),
        ("rid of wrong type", _dw_frame(b"{\"op\": \"ping\", \"rid\": \"1\"}"), True),
        ("rlog fields of wrong type", _dw_frame(b"{\"op\": \"rlog\", \"rid\": 2, \"hdr\": \"x\", \"blob\": 1}"), True),
        ("binary reference out of range",
         _dw_frame(b"{\"op\": \"rlog\", \"rid\": 3, \"hdr\": [1,2,3,4,5], \"blob\": {\"\\u0000t\": [\"ref\", [0, 99]]}}"),
         True),
        ("unknown tag", _dw_frame(b"{\"op\": \"ping\", \"x\": {\"\\u0000t\": [\"pickle\", \"gASV\"]}}"), True),
        ("deep nesting", _dw_frame(b"[" * 100_000 + b"]" * 100_000), True),
        ("pickle, old framing", struct.pack(">I", len(evil)) + evil, True),
        ("pickle as the json part", _dw_frame(evil), True),
        ("pickled redo package in a valid frame",
         _dw_frame(b"{\"op\": \"rlog\", \"rid\": 4, \"hdr\": [1,2,3,4,5], \"blob\": {\"\\u0000t\": [\"ref\", [0, "
                   + str(len(zlib.compress(evil))).encode() + b"]]}}", zlib.compress(evil)), False),
    ]
    return out


def _wire_payloads(rng: random.Random, marker: str) -> list[tuple[str, bytes, bool]]:
    evil = pickle.dumps(_Marker(marker))
    huge = bytearray(frame(0, CMD_STARTUP))
    struct.pack_into("<I", huge, 6, 0x1FFFFFFF)                # a valid checksum over a huge body length
    x = 0
    for b in huge[:19]:
        x ^= b
    huge[19] = x
    out = [(f"random {n}", rng.randbytes(n), False) for n in (1, 63, 64, 200, 4096)]
    out += [
        ("bad checksum", b"\x00" * 19 + b"\x01" + b"\x00" * 44, True),
        ("huge body length, valid checksum", bytes(huge) + b"abc", False),
        ("truncated header", frame(0, CMD_STARTUP)[:30], False),
        ("startup with a garbage body", frame(0, CMD_STARTUP, body=rng.randbytes(300)), False),
        ("login before startup, garbage body", frame(0, CMD_LOGIN, body=rng.randbytes(100)), False),
        ("unknown command", frame(0, 4242, body=b"x"), False),
        ("pickle", struct.pack("<I", len(evil)) + evil, False),
    ]
    return out


def _closed_by_peer(s: socket.socket, wait: float) -> bool:
    """True when the peer closes the connection within `wait` seconds (what it answers is read and dropped)."""
    s.settimeout(wait)
    try:
        while True:
            if not s.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def _send(addr: tuple[str, int], data: bytes, must_close: bool) -> str | None:
    """Send `data` on a fresh connection; a problem when the receiver kept a link it should have closed."""
    try:
        s = socket.create_connection(addr, timeout=3)
    except OSError as e:
        return f"{addr[0]}:{addr[1]} refused a connection ({e})"
    with s:
        try:
            s.sendall(data)
        except OSError:
            return None                                # the receiver closed while we were still sending
        closed = _closed_by_peer(s, 2.0 if must_close else 0.2)
    if must_close and not closed:
        return f"{addr[0]}:{addr[1]} kept the link open"
    return None


def fuzz(lab: Lab, marker: str) -> list[str]:
    """Send every payload to every target; the problems seen afterwards (empty = the property holds)."""
    rng = random.Random(SEED)
    n1, n2 = lab.n1, lab.n2
    dw_targets = [(n1.host, n1.dw_port), (n1.host, n1.mal_port), (n2.host, n2.mal_port), (n1.host, n1.inst_dw_port)]
    problems: list[str] = []
    for addr in dw_targets:
        for what, data, must_close in _dw_payloads(rng, marker):
            p = _send(addr, data, must_close)
            if p:
                problems.append(f"{what}: {p}")
    for what, data, must_close in _wire_payloads(rng, marker):
        p = _send((n1.ext, n1.port), data, must_close)
        if p:
            problems.append(f"wire {what}: {p}")
    return problems


def check_still_serving(lab: Lab, marker: str) -> list[str]:
    """Processes alive, the group healthy in a monitor's `show`, SQL answered and shipped to the standby."""
    n1, n2 = lab.n1, lab.n2
    problems = [f"{n.name} dmserver died" for n in (n1, n2) if not n.server_alive()]
    problems += [f"{n.name} dmwatcher died" for n in (n1, n2) if n.watcher is None or n.watcher.poll() is not None]
    if os.path.exists(marker):
        problems.append("a pickle payload ran code (marker file created)")
    if problems:
        return problems
    try:
        rows = lab.monitor(name="fuzzcheck").show()
        if {r["INST_OK"] for r in rows.values()} != {"OK"} or len(rows) != 2:
            problems.append(f"monitor show: {rows}")
        n1.sql("create table t_fuzz(id int)")
        n1.sql("insert into t_fuzz values(7)")
        wait_for(lambda: count_and_sum(n2, "t_fuzz") == (1, 7), 15, "the standby received the commit")
    except Exception as e:                                  # noqa: BLE001 - reported as the problem
        problems.append(f"well-formed peer not served: {type(e).__name__}: {str(e)[:300]}")
    return problems


def test_hostile_frames_close_only_their_link(tmp_path):
    marker = str(tmp_path / "pickle-ran")
    lab = _lab()
    try:
        problems = fuzz(lab, marker)
        problems += check_still_serving(lab, marker)
        assert not problems, "\n".join(problems)
        log = lab.read("mema1-watcher.out") + lab.read("mema1-dmserver.out")
        assert "dw link" in log and "closed, " in log, "a rejected frame leaves one logged line"
    finally:
        lab.close()


@pytest.mark.parametrize("bug", ["frame-kills-link-owner"])
def test_frame_defect_is_caught(bug, tmp_path):
    """Under the seeded defect a malformed frame kills its receiver: the same checks report it."""
    marker = str(tmp_path / "pickle-ran")
    lab = _lab(bug)
    try:
        fuzz(lab, marker)
        problems = check_still_serving(lab, marker)
        assert any("died" in p for p in problems), problems
        assert not os.path.exists(marker)
    finally:
        lab.close()
