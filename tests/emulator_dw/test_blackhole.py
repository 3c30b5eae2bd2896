"""Black-holed peers (packets vanish, no RST) must not stall the Data Watch links (§7.2).

On the docker backend a host isolation is an iptables DROP: connects hang and sends stop draining.
Here a loopback peer that accepts and never reads (or never accepts: backlog full) plays that part,
and a SIGSTOPped primary host plays it for a whole takeover."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from dmemu.dw import protocol
from dwlab import count_and_sum, wait_for


@pytest.fixture
def mute_peer() -> Iterator[tuple[str, int]]:
    """A loopback listener that accepts but never reads nor answers (a request/response black hole)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()
    finally:
        stop.set()
        t.join(2)
        for s in held:
            s.close()
        srv.close()


def _fill(conn: protocol.Conn, stall: float | None = None) -> float:
    """Send 64 KiB frames until the link breaks; the seconds it took."""
    t0 = time.monotonic()
    with pytest.raises(protocol.LinkError):
        for _ in range(10_000):
            conn.send({"op": "push", "blob": b"x" * 65536}, stall=stall)
    return time.monotonic() - t0


def test_send_to_a_mute_peer_is_bounded(mute_peer, monkeypatch):
    monkeypatch.setenv("DMEMU_SEND_STALL", "0.5")
    c = protocol.dial(*mute_peer, timeout=1.0, name="to-mute").start()
    took = _fill(c)
    assert c.closed
    assert took < 3, f"a send to a black hole blocked {took:.2f}s"


def test_short_stall_push_and_waiting_sender_are_bounded(mute_peer, monkeypatch):
    monkeypatch.setenv("DMEMU_SEND_STALL", "30")      # the default bound must not be what saves us
    c = protocol.dial(*mute_peer, timeout=1.0, name="to-mute").start()
    took = _fill(c, stall=0.2)
    assert c.closed and took < 2, f"best-effort push blocked {took:.2f}s"
    c2 = protocol.dial(*mute_peer, timeout=1.0, name="to-mute2").start()
    errs: list[float] = []

    def stuck_sender() -> None:
        try:
            while True:
                c2.send({"op": "push", "blob": b"y" * 65536})
        except protocol.LinkError:
            errs.append(time.monotonic())

    threading.Thread(target=stuck_sender, daemon=True).start()
    time.sleep(0.5)                                   # that sender now holds the send lock, stuck
    t0 = time.monotonic()
    with pytest.raises(protocol.LinkError):
        c2.send({"op": "push"}, stall=0.2)
    assert time.monotonic() - t0 < 1.0
    c2.close()


def test_request_to_a_mute_peer_times_out(mute_peer):
    c = protocol.dial(*mute_peer, timeout=1.0, name="to-mute").start()
    t0 = time.monotonic()
    with pytest.raises(protocol.LinkError, match="no reply"):
        c.request({"op": "set_arch", "dest": "*", "status": "INVALID"}, timeout=0.5)
    assert time.monotonic() - t0 < 1.5
    c.close()


def test_dial_to_a_full_backlog_uses_the_connect_timeout():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)                                     # never accepted: the queue fills, SYNs get dropped
    port = srv.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.2)
        t0 = time.monotonic()
        with pytest.raises(protocol.LinkError):
            protocol.dial("127.0.0.1", port, timeout=0.5).request({"op": "hello"}, timeout=0.5)
        assert time.monotonic() - t0 < 2.0
    finally:
        for s in fillers:
            s.close()
        srv.close()


def _freeze(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def test_takeover_while_the_primary_host_is_a_black_hole(fresh_lab):
    """mema1's server and watcher are SIGSTOPped: their sockets stay open, connects queue, nothing answers."""
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_bh(id int)")
    n1.sql("insert into t_bh select level from dual connect by level <= 10")
    wait_for(lambda: count_and_sum(n2, "t_bh") == (10, 55), 10, "t_bh on the standby")
    m = lab.monitor()
    m.login()
    frozen = [p for p in (n1.server_pid(), n1.watcher.pid if n1.watcher else None) if p]
    assert len(frozen) == 2
    _freeze(frozen, signal.SIGSTOP)
    try:
        m.expect(r"Received message timeout from\(mema1\)", timeout=15)
        assert m.names("choose takeover") == ["mema2"]
        t0 = time.monotonic()
        out = m.cmd("takeover mema2", ["Y"], timeout=30)
        took = time.monotonic() - t0
        assert "实例mema2接管成功" in out, out[-1500:]
        assert took <= 3.5, f"takeover took {took:.2f}s with mema1 black-holed"
        assert n2.state() == ("PRIMARY", "OPEN")
        assert count_and_sum(n2, "t_bh") == (10, 55)
    finally:
        _freeze(frozen, signal.SIGCONT)
