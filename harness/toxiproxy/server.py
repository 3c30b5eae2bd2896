"""An offline, API-compatible Toxiproxy server (`toxiproxy-server -host H -port P -config F`).

Why: DESIGN.md §6 uses Toxiproxy for link faults; air-gapped sites have no Go binary nor image, so this
stdlib-only server implements the same HTTP API (Toxiproxy 2.x) and the same toxics, and is proven
compatible by tests that drive it only through toxiproxy-python.

Model (as Toxiproxy's): a proxy listens on `listen` and dials `upstream` for each accepted client.
`upstream` stream = client -> server, `downstream` = server -> client. A disabled proxy closes its
connections and stops listening (new dials are refused). Toxics apply to live and new connections:
latency (latency, jitter ms), bandwidth (rate KB/s), timeout (timeout ms; 0 = black hole forever),
reset_peer (timeout ms, then TCP RST), slow_close (delay ms), limit_data (bytes), slicer (average_size,
size_variation bytes, delay µs), noop. `toxicity` is the chance that a toxic affects a given connection.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import itertools
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

VERSION = "2.12.0-dmdw"
CHUNK = 1024 * 1024
POLL = 0.02  # seconds: how often an idle pipe re-reads its toxics (bounds the reaction to a new toxic)

TOXIC_DEFAULTS: dict[str, dict[str, int]] = {
    "noop": {},
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
STREAMS = ("upstream", "downstream")


class ApiError(Exception):
    """An API failure with its HTTP status, rendered as Toxiproxy does: {"error": ..., "status": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_T = TypeVar("_T")


def _find(table: dict[str, _T], name: str, what: str) -> _T:
    """``table[name]``, or the API's 404 "<what> not found" (proxies and toxics answer alike)."""
    obj = table.get(name)
    if obj is None:
        raise ApiError(404, f"{what} not found")
    return obj


def _claim(table: dict[str, Any], name: str, what: str) -> None:
    """Refuse a name already taken with the API's 409 "<what> already exists"."""
    if name in table:
        raise ApiError(409, f"{what} already exists")


def _split_addr(addr: str, what: str) -> tuple[str, int]:
    """'host:port' -> (host, port); an empty host means all interfaces."""
    m = re.fullmatch(r"\[?([^\]]*)\]?:(\d+)", addr or "")
    if not m:
        raise ApiError(400, f"{what} address {addr!r} must be host:port")
    host, port = m.group(1), int(m.group(2))
    if port > 65535:
        raise ApiError(400, f"{what} port {port} out of range")
    return host, port


class Toxic:
    """One toxic: a named, typed, per-stream fault with attributes."""

    _ids = itertools.count(1)

    def __init__(self, body: dict[str, Any]) -> None:
        ttype = body.get("type")
        if ttype not in TOXIC_DEFAULTS:
            raise ApiError(400, f"invalid toxic type: {ttype!r}")
        stream = body.get("stream") or "downstream"
        if stream not in STREAMS:
            raise ApiError(400, "stream was invalid, can be either upstream or downstream")
        self.type: str = ttype
        self.stream: str = stream
        self.name: str = body.get("name") or f"{ttype}_{stream}"
        self.toxicity: float = 1.0
        self.attributes: dict[str, int] = dict(TOXIC_DEFAULTS[ttype])
        self.uid = next(self._ids)
        self.update(body)

    def update(self, body: dict[str, Any]) -> None:
        """Apply `toxicity` and `attributes` from a create or update body; unknown attributes are ignored."""
        if "toxicity" in body and body["toxicity"] is not None:
            try:
                tox = float(body["toxicity"])
            except (TypeError, ValueError):
                raise ApiError(400, "toxicity must be a number") from None
            if not 0.0 <= tox <= 1.0:
                raise ApiError(400, "toxicity must be between 0 and 1")
            self.toxicity = tox
        attrs = body.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise ApiError(400, "attributes must be an object")
        for key, value in attrs.items():
            if key in self.attributes:
                try:
                    self.attributes[key] = int(value)
                except (TypeError, ValueError):
                    raise ApiError(400, f"attribute {key} must be an integer") from None
        self.uid = next(self._ids)  # live connections restart the toxic's timers, as Toxiproxy does

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}


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


class Proxy:
    """A named TCP proxy: a listener, its upstream, its toxics and its live links."""

    def __init__(self, server: ToxiproxyServer, name: str, listen: str, upstream: str,
                 enabled: bool = True) -> None:
        if not name:
            raise ApiError(400, "missing required field: name")
        _split_addr(upstream, "upstream")
        self.server = server
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self._toxic_view: dict[str, tuple[Toxic, ...]] = {s: () for s in STREAMS}
        self._links: set[Link] = set()
        self._lock = threading.RLock()
        self._lsock: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        if enabled:
            self.start()

    # listener -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen on `listen` (port 0 picks one, then kept for re-enable) and accept connections."""
        with self._lock:
            if self.enabled:
                return
            host, port = _split_addr(self.listen, "listen")
            bind_host = host or "0.0.0.0"
            lsock = socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lsock.bind((bind_host, port))
                lsock.listen(128)
            except OSError as e:
                lsock.close()
                raise ApiError(500, f"listen {self.listen}: {e.strerror or e}") from None
            self.listen = f"{host}:{lsock.getsockname()[1]}"
            self._lsock = lsock
            self.enabled = True
            self._accept_thread = threading.Thread(target=self._accept_loop, args=(lsock,), daemon=True,
                                                   name=f"toxi-{self.name}-accept")
            self._accept_thread.start()

    def stop(self) -> None:
        """Stop listening and close every live connection; returns once traffic has stopped."""
        with self._lock:
            lsock, self._lsock = self._lsock, None
            thread, self._accept_thread = self._accept_thread, None
            self.enabled = False
            links = list(self._links)
        if lsock is not None:
            try:
                lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if thread is not None:
                thread.join(timeout=1.0)
            lsock.close()
        for link in links:
            link.close(wait=False)
        for link in links:
            link.close(wait=True)

    def _accept_loop(self, lsock: socket.socket) -> None:
        while True:
            try:
                ready, _, _ = select.select([lsock], [], [], 0.2)
            except (OSError, ValueError):
                return
            if lsock is not self._lsock:
                return
            if not ready:
                continue
            try:
                client, _ = lsock.accept()
            except OSError:
                if lsock is not self._lsock:
                    return
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True,
                             name=f"toxi-{self.name}-dial").start()

    def _connect(self, client: socket.socket) -> None:
        host, port = _split_addr(self.upstream, "upstream")
        try:
            upstream = socket.create_connection((host, port), timeout=5)
        except OSError:
            client.close()  # Toxiproxy closes the client when the upstream cannot be reached
            return
        with self._lock:
            if not self.enabled:
                client.close()
                upstream.close()
                return
            link = Link(self, client, upstream)
            self._links.add(link)
        link.start()

    def forget(self, link: Link) -> None:
        with self._lock:
            self._links.discard(link)

    # toxics ---------------------------------------------------------------------------------------
    def toxics_for(self, stream: str) -> tuple[Toxic, ...]:
        return self._toxic_view[stream]

    def _refresh(self) -> None:
        self._toxic_view = {s: tuple(t for t in self.toxics.values() if t.stream == s) for s in STREAMS}

    def add_toxic(self, body: dict[str, Any]) -> Toxic:
        toxic = Toxic(body)
        with self._lock:
            _claim(self.toxics, toxic.name, "toxic")
            self.toxics[toxic.name] = toxic
            self._refresh()
        return toxic

    def get_toxic(self, name: str) -> Toxic:
        return _find(self.toxics, name, "toxic")

    def update_toxic(self, name: str, body: dict[str, Any]) -> Toxic:
        with self._lock:
            toxic = self.get_toxic(name)
            toxic.update(body)
            self._refresh()
        return toxic

    def remove_toxic(self, name: str) -> None:
        with self._lock:
            self.get_toxic(name)
            del self.toxics[name]
            self._refresh()

    def clear_toxics(self) -> None:
        with self._lock:
            self.toxics.clear()
            self._refresh()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxics.values()]}


class ToxiproxyServer:
    """The proxy registry plus the HTTP API; usable in-process (tests) or as the `toxiproxy-server` command."""

    def __init__(self, host: str = "localhost", port: int = 8474, seed: int | None = None) -> None:
        self.host = host
        self.port = port
        self.rng = random.Random(seed)
        self.proxies: dict[str, Proxy] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # registry operations (the API's semantics) ----------------------------------------------------
    def create(self, body: dict[str, Any]) -> Proxy:
        name, upstream = body.get("name"), body.get("upstream")
        if not name or not upstream:
            raise ApiError(400, "missing required field: name and upstream")
        with self._lock:
            _claim(self.proxies, name, "proxy")
            enabled = body.get("enabled")
            proxy = Proxy(self, name, body.get("listen") or "127.0.0.1:0", upstream,
                          enabled=True if enabled is None else bool(enabled))
            self.proxies[name] = proxy
        return proxy

    def get(self, name: str) -> Proxy:
        return _find(self.proxies, name, "proxy")

    def update(self, name: str, body: dict[str, Any]) -> Proxy:
        with self._lock:
            proxy = self.get(name)
            moved = (body.get("listen") not in (None, proxy.listen)
                     or body.get("upstream") not in (None, proxy.upstream))
            want = proxy.enabled if body.get("enabled") is None else bool(body["enabled"])
            if moved:
                if body.get("upstream"):
                    _split_addr(body["upstream"], "upstream")
                proxy.stop()
                proxy.listen = body.get("listen") or proxy.listen
                proxy.upstream = body.get("upstream") or proxy.upstream
            if want and not proxy.enabled:
                proxy.start()
            elif not want and proxy.enabled:
                proxy.stop()
        return proxy

    def delete(self, name: str) -> None:
        with self._lock:
            proxy = self.get(name)
            del self.proxies[name]
        proxy.stop()

    def populate(self, bodies: list[dict[str, Any]]) -> list[Proxy]:
        """Create or replace the listed proxies (kept as they are when listen and upstream match)."""
        if not isinstance(bodies, list) or not all(isinstance(b, dict) for b in bodies):
            raise ApiError(400, "populate needs a JSON list of proxies")
        out = []
        for body in bodies:
            existing = self.proxies.get(body.get("name", ""))
            if existing is not None and (body.get("upstream") != existing.upstream
                                         or body.get("listen") not in (None, existing.listen)):
                self.delete(existing.name)
                existing = None
            out.append(existing if existing is not None else self.create(body))
        return out

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self._lock:
            proxies = list(self.proxies.values())
        for proxy in proxies:
            proxy.clear_toxics()
            if not proxy.enabled:
                proxy.start()

    def close_all(self) -> None:
        with self._lock:
            proxies = list(self.proxies.values())
            self.proxies.clear()
        for proxy in proxies:
            proxy.stop()

    # HTTP -----------------------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Route one API request; returns (status, JSON-able payload or None)."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts == ["version"] and method == "GET":
            return 200, {"version": VERSION}
        if parts == ["reset"] and method == "POST":
            self.reset()
            return 204, None
        if parts == ["populate"] and method == "POST":
            bodies = body.get("proxies") if isinstance(body, dict) else body
            return 201, {"proxies": [p.to_json() for p in self.populate(bodies)]}
        if parts == ["metrics"] and method == "GET":
            return 200, {"proxies": len(self.proxies)}
        if not parts or parts[0] != "proxies":
            raise ApiError(404, "not found")
        if len(parts) == 1:
            if method == "GET":
                return 200, {n: p.to_json() for n, p in self.proxies.items()}
            if method == "POST":
                return 201, self.create(self._obj(body)).to_json()
        elif len(parts) == 2:
            if method == "GET":
                return 200, self.get(parts[1]).to_json()
            if method in ("POST", "PATCH"):
                return 200, self.update(parts[1], self._obj(body)).to_json()
            if method == "DELETE":
                self.delete(parts[1])
                return 204, None
        elif len(parts) >= 3 and parts[2] == "toxics":
            proxy = self.get(parts[1])
            if len(parts) == 3:
                if method == "GET":
                    return 200, [t.to_json() for t in proxy.toxics.values()]
                if method == "POST":
                    return 200, proxy.add_toxic(self._obj(body)).to_json()
            elif len(parts) == 4:
                if method == "GET":
                    return 200, proxy.get_toxic(parts[3]).to_json()
                if method in ("POST", "PATCH"):
                    return 200, proxy.update_toxic(parts[3], self._obj(body)).to_json()
                if method == "DELETE":
                    proxy.remove_toxic(parts[3])
                    return 204, None
        raise ApiError(405, f"method {method} not allowed on {path}")

    @staticmethod
    def _obj(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "bad request body: a JSON object is required")
        return body

    def start(self) -> ToxiproxyServer:
        """Bind the API (port 0 picks a free one, then `self.port` holds it) and serve in a thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet, like Toxiproxy at info level
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    status, payload = 400, {"error": "bad request body: invalid JSON", "status": 400}
                else:
                    try:
                        status, payload = server.dispatch(self.command, self.path, body)
                    except ApiError as e:
                        status, payload = e.status, {"error": e.message, "status": e.status}
                data = b"" if payload is None else (json.dumps(payload) + "\n").encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="toxi-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the API and every proxy; nothing keeps listening afterwards."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.close_all()

    def __enter__(self) -> ToxiproxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toxiproxy-server",
                                description="Offline Toxiproxy-compatible server (Toxiproxy 2.x HTTP API).")
    p.add_argument("-host", "--host", default="localhost", help="host for the API to listen on")
    p.add_argument("-port", "--port", default="8474", help="port for the API to listen on")
    p.add_argument("-config", "--config", default="", help="JSON file with a list of proxies to create")
    p.add_argument("-seed", "--seed", type=int, default=None, help="seed for toxicity and jitter")
    p.add_argument("-version", "--version", action="store_true", help="print the version and exit")
    p.add_argument("-proxy-metrics", "--proxy-metrics", action="store_true", help="accepted, ignored")
    p.add_argument("-runtime-metrics", "--runtime-metrics", action="store_true", help="accepted, ignored")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `toxiproxy-server`: flags as the official binary's; one line per bad input."""
    args = _parser().parse_args(argv)
    if args.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    try:
        port = int(args.port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        print(f"toxiproxy-server: -port {args.port!r} is not a TCP port number; fix -port", file=sys.stderr)
        return 2
    proxies: list[dict[str, Any]] = []
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                proxies = json.load(f)
            if not isinstance(proxies, list):
                raise ValueError("the file must hold a JSON list of proxies")
        except (OSError, ValueError) as e:
            print(f"toxiproxy-server: cannot use -config {args.config}: {e}; fix the file", file=sys.stderr)
            return 2
    server = ToxiproxyServer(args.host, port, seed=args.seed)
    try:
        server.start()
    except OSError as e:
        print(f"toxiproxy-server: cannot listen on {args.host}:{port}: {e.strerror or e}; "
              "choose another -host/-port", file=sys.stderr)
        return 1
    try:
        server.populate(proxies)
    except ApiError as e:
        server.stop()
        print(f"toxiproxy-server: -config {args.config}: {e.message}; fix the file", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"toxiproxy-server {VERSION}: API HTTP server listening on {args.host}:{server.port}, "
          f"{len(proxies)} proxies from config", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # run as a plain file inside a container that lacks the harness package
    raise SystemExit(main())
