"""One proxied TCP connection: a pipe per direction that applies the proxy's toxics to the bytes it
carries (`upstream` = client -> server, `downstream` = server -> client)."""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

from .model import CHUNK, POLL, Toxic

if TYPE_CHECKING:
    from .proxy import Proxy


def _set_nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


class Link:
    """One proxied connection: a client socket, an upstream socket, one pipe thread per direction."""

    def __init__(self, proxy: Proxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._closing = False
        self._reset = False
        self._lock = threading.Lock()
        self._decided: dict[int, bool] = {}
        self._seen: dict[tuple[int, str], float] = {}
        self._done = 0
        for s in (client, upstream):
            s.setblocking(False)
            _set_nodelay(s)
        self.threads = [
            threading.Thread(target=self._pipe, args=(client, upstream, "upstream"), daemon=True,
                             name=f"toxi-{proxy.name}-up"),
            threading.Thread(target=self._pipe, args=(upstream, client, "downstream"), daemon=True,
                             name=f"toxi-{proxy.name}-down"),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def close(self, reset: bool = False, wait: bool = True) -> None:
        """Ask both pipes to stop; the last one closes the sockets (with RST when `reset`)."""
        with self._lock:
            self._closing = True
            self._reset = self._reset or reset
        if wait:
            me = threading.current_thread()
            for t in self.threads:
                if t is not me and t.is_alive():
                    t.join(timeout=1.0)

    def _applies(self, toxic: Toxic) -> bool:
        """Whether `toxic` affects this connection: decided once per connection from its toxicity."""
        hit = self._decided.get(toxic.uid)
        if hit is None:
            hit = toxic.toxicity >= 1.0 or self.proxy.server.rng.random() < toxic.toxicity
            self._decided[toxic.uid] = hit
        return hit

    def _send_all(self, dst: socket.socket, data: bytes | memoryview) -> bool:
        view = memoryview(data)
        while view:
            if self._closing:
                return False
            try:
                n = dst.send(view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [dst], [], POLL)
            except OSError:
                self.close(reset=True, wait=False)
                return False
        return True

    def _pipe(self, src: socket.socket, dst: socket.socket, stream: str) -> None:
        pending: collections.deque[tuple[float, bytes]] = collections.deque()
        last_due = 0.0
        bw_free = 0.0
        passed = 0
        eof = False
        close_after = False
        try:
            while not self._closing:
                now = time.monotonic()
                toxics, black = self._active(stream, now)
                if self._closing:
                    break
                if pending and pending[0][0] <= now and not black:
                    if not self._send_all(dst, pending.popleft()[1]):
                        break
                    continue
                if eof or close_after:
                    if not pending:
                        break
                    time.sleep(min(POLL, max(0.0, pending[0][0] - now)))
                    continue
                data: bytes | None = None
                try:
                    if not pending:  # read at once when data is there; wait in select only when idle
                        data = src.recv(CHUNK)
                except BlockingIOError:
                    data = None
                except OSError:
                    self.close(reset=True, wait=False)
                    break
                if data is None:
                    wait = POLL if not pending else min(POLL, max(0.0, pending[0][0] - now))
                    try:
                        ready, _, _ = select.select([src], [], [], wait)
                    except (OSError, ValueError):
                        break
                    if not ready:
                        continue
                    try:
                        data = src.recv(CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError:
                        self.close(reset=True, wait=False)
                        break
                if not data:
                    eof = True
                    continue
                if not pending and not self.proxy.toxics_for(stream):
                    if not self._send_all(dst, data):  # fast path: no toxic on this stream
                        break
                    if len(data) == CHUNK:
                        self._relay(src, dst, stream)
                    continue
                toxics, black = self._active(stream, time.monotonic())  # toxics added while we waited
                if black or self._closing:
                    continue  # a black hole swallows the data and keeps the connection open
                items, bw_free, passed, close_after = self._shape(toxics, data, time.monotonic(),
                                                                   bw_free, passed)
                for due, piece in items:
                    last_due = max(due, last_due)
                    pending.append((last_due, piece))
            if (eof or close_after) and not self._closing:
                self._slow_close(toxics_of=stream)
                if close_after:
                    self.close(wait=False)
                else:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
        finally:
            self._finish()

    def _relay(self, src: socket.socket, dst: socket.socket, stream: str) -> None:
        """Bulk copy while the stream has no toxic (throughput path): zero-copy splice through a pipe on
        Linux, else recv_into one reused buffer. Returns when the source has nothing more to read now."""
        if not hasattr(os, "splice"):
            self._relay_copy(src, dst, stream)
            return
        r, w = os.pipe()
        flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(w, 1031, CHUNK)  # F_SETPIPE_SZ
            while not self._closing and not self.proxy.toxics_for(stream):
                try:
                    n = os.splice(src.fileno(), w, CHUNK, flags=flags)
                except BlockingIOError:
                    return
                except OSError:
                    self.close(reset=True, wait=False)
                    return
                if n == 0:
                    return  # EOF: the main loop sees it on its next read
                while n:
                    try:
                        n -= os.splice(r, dst.fileno(), n, flags=flags)
                    except BlockingIOError:
                        select.select([], [dst], [], POLL)
                        if self._closing:
                            return
                    except OSError:
                        self.close(reset=True, wait=False)
                        return
        finally:
            os.close(r)
            os.close(w)

    def _relay_copy(self, src: socket.socket, dst: socket.socket, stream: str) -> None:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while not self._closing and not self.proxy.toxics_for(stream):
            try:
                n = src.recv_into(buf)
            except BlockingIOError:
                return
            except OSError:
                self.close(reset=True, wait=False)
                return
            if n == 0:
                return
            if not self._send_all(dst, view[:n]):
                return

    def _active(self, stream: str, now: float) -> tuple[list[Toxic], bool]:
        """The toxics affecting this stream now, and whether it is a black hole; fires timed toxics."""
        toxics = [t for t in self.proxy.toxics_for(stream) if self._applies(t)]
        black = False
        for t in toxics:
            if t.type in ("timeout", "reset_peer"):
                since = self._seen.setdefault((t.uid, stream), now)
                limit = t.attributes["timeout"] / 1000.0
                if t.type == "timeout":
                    black = True
                    if limit > 0 and now - since >= limit:
                        self.close(wait=False)
                elif now - since >= limit:
                    self.close(reset=True, wait=False)
        return toxics, black

    def _shape(self, toxics: list[Toxic], data: bytes, now: float, bw_free: float,
               passed: int) -> tuple[list[tuple[float, bytes]], float, int, bool]:
        """Turn one received chunk into (due time, bytes) pieces after latency, slicer, bandwidth, limit."""
        items: list[tuple[float, bytes]] = [(now, data)]
        close_after = False
        rng = self.proxy.server.rng
        for t in toxics:
            a = t.attributes
            if t.type == "latency":
                delay = a["latency"] + (rng.uniform(-a["jitter"], a["jitter"]) if a["jitter"] else 0)
                items = [(due + max(0.0, delay) / 1000.0, b) for due, b in items]
            elif t.type == "slicer" and a["average_size"] > 0:
                sliced: list[tuple[float, bytes]] = []
                for due, b in items:
                    off, k = 0, 0
                    while off < len(b):
                        var = a["size_variation"]
                        size = max(1, a["average_size"] + (rng.randint(-var, var) if var else 0))
                        sliced.append((due + k * a["delay"] / 1e6, b[off:off + size]))
                        off += size
                        k += 1
                items = sliced
            elif t.type == "bandwidth" and a["rate"] > 0:
                rate = a["rate"] * 1000.0
                step = max(1024, int(rate / 20))  # pieces of 50 ms keep the rate smooth
                shaped: list[tuple[float, bytes]] = []
                for due, b in items:
                    for off in range(0, len(b), step):
                        piece = b[off:off + step]
                        start = max(due, bw_free)
                        shaped.append((start, piece))
                        bw_free = start + len(piece) / rate
                items = shaped
            elif t.type == "limit_data":
                room = max(0, a["bytes"] - passed)
                kept: list[tuple[float, bytes]] = []
                for due, b in items:
                    if room <= 0:
                        break
                    kept.append((due, b[:room]))
                    room -= len(kept[-1][1])
                items = kept
                if room <= 0:
                    close_after = True
        passed += sum(len(b) for _, b in items)
        return items, bw_free, passed, close_after

    def _slow_close(self, toxics_of: str) -> None:
        delays = [t.attributes["delay"] for t in self.proxy.toxics_for(toxics_of)
                  if t.type == "slow_close" and self._applies(t)]
        if delays:
            end = time.monotonic() + max(delays) / 1000.0
            while time.monotonic() < end and not self._closing:
                time.sleep(POLL)

    def _finish(self) -> None:
        with self._lock:
            self._done += 1
            if self._done < len(self.threads):
                return
            reset = self._reset
        for s in (self.client, self.upstream):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass
        self.proxy.forget(self)


