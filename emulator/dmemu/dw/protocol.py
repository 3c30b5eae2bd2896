"""Wire protocol between the Data Watch processes (MAL, instance<->watcher, watcher<->watcher/monitor).

A frame is an 8-byte header (big-endian JSON length, binary length), a JSON object (dmemu.plaincodec)
and a binary section holding the message's bytes values (redo packages) back to back, each referenced
from the JSON by offset and length. Nothing in a frame is executable. A frame that is oversized,
truncated, not valid JSON or not a valid message (unknown op, wrong field types, see `validate`) closes
that link with one logged line; the process goes on serving its other links. Every frame has an "op". A request carries "rid"; its answer
carries the same "rid" and "op": "reply". Frames without "rid" are one-way pushes.

Emulator-only network controls (documented in emulator/README.md):
- DMEMU_DIAL_MAP="host:port=host2:port2,..." rewrites outgoing dials (the harness routes links
  through its proxy).
- DMEMU_NET_BLOCK_FILE=<path>: while that file exists, each line `host:port` blocks dials to that
  endpoint and a bare `host` blocks every link to or from that address (a host isolation). Blocked
  established links are dropped; the file is re-read at least every 200 ms. A `host:port` line naming
  an instance's own client address (its PORT_NUM) also black-holes that instance's SQL clients
  (wire/server.py and wire/connection.py use `BLOCKS.endpoint_blocked`): new connections are closed at
  once, existing ones get no answers until the line is gone. Bare-host lines do not touch client connections.
- DMEMU_SEND_STALL=<seconds> (default 1.5): a send that makes no progress that long (a black-holed
  peer) closes the link with LinkError instead of blocking; pushes may pass a shorter `stall`.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable

from .. import bugs, plaincodec

_HDR = struct.Struct(">II")
MAX_JSON = 16 * 1024 * 1024            # JSON part of one frame
MAX_BINARY = 512 * 1024 * 1024         # binary section (redo packages, a recovery batch)
MAX_OP = 32

OPS = frozenset({
    "reply", "hello", "mon_hello", "status", "wstatus", "wmsg", "winfo", "watch", "login", "exec",
    "set_arch", "set_para", "set_mid", "recover", "recovered", "history_add", "shutdown", "start_inst",
    "stop_inst", "kill_inst", "kill", "lock", "unlock", "send_failed", "rlog", "lsn", "async_lsn", "n_open", "ping",
    "flush", "confirm", "refuse_senders",
})
REQUIRED: dict[str, tuple[str, ...]] = {
    "rlog": ("hdr", "blob"), "flush": ("lsn",), "exec": ("sql",),
    "login": ("user", "pwd"), "reply": ("rid",),
}


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


FIELDS: dict[str, Callable[[object], bool]] = {
    "rid": _int,
    "lsn": _int,
    "blob": lambda v: isinstance(v, bytes),
    "blobs": lambda v: isinstance(v, list) and all(isinstance(b, bytes) for b in v),
    "hdr": lambda v: isinstance(v, list) and len(v) == 5 and all(_int(x) for x in v),
    "sql": lambda v: isinstance(v, str),
    "user": lambda v: isinstance(v, str),
    "pwd": lambda v: isinstance(v, str),
    "name": lambda v: v is None or isinstance(v, str),
}


def _send_stall() -> float:
    """Longest a send may make no progress before the link counts as dead (DMEMU_SEND_STALL, s).

    A black-holed peer (packets dropped, no RST) never drains our send buffer; without this bound a
    sendall() blocks forever and every later sender queues behind its lock (§7.2: takeover must
    not depend on the failed primary)."""
    try:
        return max(0.1, float(os.environ.get("DMEMU_SEND_STALL", "1.5")))
    except ValueError:
        return 1.5


class LinkError(OSError):
    """A link could not be made or broke while in use."""


# ---- emulator-only network controls ------------------------------------------------------

def dial_map() -> dict[tuple[str, int], tuple[str, int]]:
    """Parse DMEMU_DIAL_MAP into {(host, port): (host2, port2)}."""
    out: dict[tuple[str, int], tuple[str, int]] = {}
    for item in os.environ.get("DMEMU_DIAL_MAP", "").split(","):
        if "=" not in item:
            continue
        a, b = (x.strip() for x in item.split("=", 1))
        ah, _, ap = a.rpartition(":")
        bh, _, bp = b.rpartition(":")
        try:
            out[(ah, int(ap))] = (bh, int(bp))
        except ValueError:
            continue
    return out


class _Blocks:
    """Cached view of DMEMU_NET_BLOCK_FILE (endpoints and bare hosts)."""

    def __init__(self) -> None:
        self.stamp: tuple[float, int] | None = None
        self.endpoints: set[tuple[str, int]] = set()
        self.hosts: set[str] = set()
        self.checked = 0.0
        self.lock = threading.Lock()

    def refresh(self) -> None:
        path = os.environ.get("DMEMU_NET_BLOCK_FILE")
        with self.lock:
            if time.monotonic() - self.checked < 0.1:
                return
            self.checked = time.monotonic()
            if not path:
                self.endpoints, self.hosts = set(), set()
                return
            try:
                st = os.stat(path)
            except OSError:
                self.endpoints, self.hosts, self.stamp = set(), set(), None
                return
            stamp = (st.st_mtime, st.st_size)
            if stamp == self.stamp:
                return
            eps, hosts = set(), set()
            try:
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        line = line.split("#", 1)[0].strip()
                        if not line:
                            continue
                        h, sep, p = line.rpartition(":")
                        if sep and p.isdigit():
                            eps.add((h, int(p)))
                        else:
                            hosts.add(line.rstrip(":*").rstrip(":"))
            except OSError:
                return
            self.endpoints, self.hosts, self.stamp = eps, hosts, stamp

    def endpoint_blocked(self, dest: tuple[str, int]) -> bool:
        """True while `dest` is listed as a `host:port` line (bare hosts do not count)."""
        self.refresh()
        return dest in self.endpoints

    def blocked(self, dest: tuple[str, int] | None, src: str | None = None) -> bool:
        self.refresh()
        if dest is not None and dest in self.endpoints:
            return True
        if dest is not None and src == dest[0]:
            return False                      # links inside one host survive its isolation
        if dest is not None and dest[0] in self.hosts:
            return True
        return bool(src and src in self.hosts)


BLOCKS = _Blocks()
_LINKS: weakref.WeakSet[Conn] = weakref.WeakSet()
_watchdog_started = threading.Event()


def _watchdog() -> None:
    while True:
        time.sleep(0.15)
        if not os.environ.get("DMEMU_NET_BLOCK_FILE"):
            continue
        for c in list(_LINKS):
            if not c.closed and BLOCKS.blocked(c.dest, c.src):
                c.close()


def _ensure_watchdog() -> None:
    if not _watchdog_started.is_set():
        _watchdog_started.set()
        threading.Thread(target=_watchdog, name="dw-netblock", daemon=True).start()


# ---- framing -------------------------------------------------------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise LinkError("link closed")
        buf += chunk
    return bytes(buf)


class FrameError(LinkError):
    """A frame that is not a valid message: the link it came on is closed."""


def encode(msg: dict) -> bytes:
    """One frame for `msg` (see the module docstring)."""
    parts: list[bytes] = []
    pos = 0

    def attach(b: bytes) -> list[int]:
        nonlocal pos
        parts.append(b)
        pos += len(b)
        return [pos - len(b), len(b)]

    body = plaincodec.dumps(msg, on_bytes=attach)
    return b"".join([_HDR.pack(len(body), pos), body, *parts])


def validate(msg: object) -> dict:
    """`msg` if it is a valid message: an object with a known op, required fields, known field types."""
    if not isinstance(msg, dict):
        raise FrameError(f"frame is a {type(msg).__name__}, not an object")
    op = msg.get("op")
    if not isinstance(op, str) or len(op) > MAX_OP or op not in OPS:
        raise FrameError(f"unknown op {str(op)[:MAX_OP]!r}")
    missing = [f for f in REQUIRED.get(op, ()) if f not in msg]
    if missing:
        raise FrameError(f"{op}: missing {', '.join(missing)}")
    for f, ok in FIELDS.items():
        if f in msg and not ok(msg[f]):
            raise FrameError(f"{op}: bad field {f}")
    return msg


def decode(body: bytes, binary: bytes) -> dict:
    """The message of one frame's JSON part and binary section (FrameError when it is not valid)."""
    view = memoryview(binary)

    def ref(v: object) -> bytes:
        if not (isinstance(v, list) and len(v) == 2 and _int(v[0]) and _int(v[1])
                and 0 <= v[0] and 0 <= v[1] and v[0] + v[1] <= len(binary)):
            raise plaincodec.CodecError("bad binary reference")
        return bytes(view[v[0]:v[0] + v[1]])

    try:
        return validate(plaincodec.loads(body, on_ref=ref))
    except plaincodec.CodecError as e:
        raise FrameError(f"bad frame: {e}") from None


def read_frame(sock: socket.socket) -> dict:
    """The next message on `sock`; LinkError when the link closes, FrameError for an invalid frame."""
    n_json, n_bin = _HDR.unpack(_recv_exact(sock, _HDR.size))
    if n_json > MAX_JSON or n_bin > MAX_BINARY:
        raise FrameError(f"frame too large ({n_json}+{n_bin} bytes)")
    body = _recv_exact(sock, n_json)
    return decode(body, _recv_exact(sock, n_bin) if n_bin else b"")


class Conn:
    """One established link: thread-safe send, request/reply matching, a reader thread for pushes."""

    _ids = itertools.count(1)

    def __init__(self, sock: socket.socket, dest: tuple[str, int] | None = None, src: str | None = None,
                 on_push: Callable[[Conn, dict], None] | None = None,
                 on_request: Callable[[Conn, dict], dict | None] | None = None,
                 on_close: Callable[[Conn], None] | None = None, name: str = "link", threaded: bool = False):
        self.sock = sock
        self.dest = dest
        self.src = src
        self.on_push = on_push
        self.on_request = on_request
        self.on_close = on_close
        self.name = name
        self.threaded = threaded             # answer each request in its own thread (long commands)
        self.closed = False
        self.opened = time.monotonic()
        self.last_rx = self.opened           # when a frame last arrived (silence = a half-open link)
        self.info: dict = {}                 # whatever the owner wants to remember about the peer
        self._send_lock = threading.Lock()
        self._waiters: dict[int, list] = {}
        self._wlock = threading.Lock()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_stall = _send_stall()
        stall = int(self.send_stall * 1000)
        # SO_SNDTIMEO bounds each send() without touching the reader's blocking recv().
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", stall // 1000, (stall % 1000) * 1000))
        _LINKS.add(self)
        _ensure_watchdog()

    def start(self) -> Conn:
        threading.Thread(target=self._reader, name=f"dw-{self.name}", daemon=True).start()
        return self

    def send(self, msg: dict, stall: float | None = None) -> None:
        """Send one frame. The link is closed (LinkError) when the peer drains nothing for `stall`
        seconds (default DMEMU_SEND_STALL); pass a short `stall` for best-effort pushes."""
        if self.closed:
            raise LinkError("link closed")
        if BLOCKS.blocked(self.dest, self.src):
            self.close()
            raise LinkError("link blocked (DMEMU_NET_BLOCK_FILE)")
        data = encode(msg)
        # No lock timeout: a sender stuck on a dead peer fails within send_stall (SO_SNDTIMEO) and
        # closes the link, so waiters are bounded too, while a big send on a slow but live link is not cut.
        if stall is None:
            self._send_lock.acquire()
        elif not self._send_lock.acquire(timeout=stall):
            self.close()                             # another sender is stuck on this peer
            raise LinkError(f"send to {self.name}: no progress within {stall:g}s")
        try:
            if self.closed:
                raise LinkError("link closed")
            if stall is None:
                self.sock.sendall(data)
            else:
                self._send_bounded(data, stall)
        except OSError as e:
            err = e
        else:
            return
        finally:
            self._send_lock.release()
        self.close()
        raise LinkError(f"send to {self.name} failed: {err}") from err

    def _send_bounded(self, data: bytes, stall: float) -> None:
        """sendall() that gives up (OSError) once the peer has taken nothing for `stall` seconds."""
        view = memoryview(data)
        poll = select.poll()
        poll.register(self.sock, select.POLLOUT)
        while view:
            if not poll.poll(stall * 1000):
                raise LinkError(f"no progress within {stall:g}s")
            try:
                view = view[self.sock.send(view, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                continue

    def silent_for(self, since: float | None = None) -> float:
        """Seconds with nothing received (counting from `since` when that is later, e.g. when the peer was
        last heard on another link). A peer that closed its end while the FIN was lost leaves a half-open
        link that never reports an error; DM's watchers and monitor drop a link silent past DW_ERROR_TIME
        and dial again (their heartbeat), which the emulator does with this."""
        return time.monotonic() - max(self.last_rx, since or 0.0)

    def request(self, msg: dict, timeout: float = 10.0) -> dict:
        """Send a request and wait for its reply; LinkError on timeout or a broken link."""
        rid = next(self._ids)
        slot: list = [threading.Event(), None]
        with self._wlock:
            self._waiters[rid] = slot
        try:
            self.send(dict(msg, rid=rid))
            if not slot[0].wait(timeout):
                raise LinkError(f"no reply to {msg.get('op')} within {timeout:g}s")
            if slot[1] is None:
                raise LinkError("link closed")
            return slot[1]
        finally:
            with self._wlock:
                self._waiters.pop(rid, None)

    def _reader(self) -> None:
        try:
            while not self.closed:
                msg = read_frame(self.sock)
                self.last_rx = time.monotonic()
                if msg.get("op") == "reply":
                    with self._wlock:
                        slot = self._waiters.get(msg.get("rid"))
                    if slot is not None:
                        slot[1] = msg
                        slot[0].set()
                elif "rid" in msg and self.on_request is not None:
                    if self.threaded:
                        threading.Thread(target=self._answer, args=(msg,), daemon=True).start()
                    else:
                        self._answer(msg)
                elif self.on_push is not None:
                    try:
                        self.on_push(self, msg)
                    except Exception as e:              # noqa: BLE001 - a bad push must not kill the link
                        sys.stderr.write(f"dw link {self.name}: {type(e).__name__}: {e}\n")
        except FrameError as e:
            peer = f"{self.src}" if self.src else f"{self.dest}"
            sys.stderr.write(f"dw link {self.name}: closed, {e} (peer {peer})\n")
            sys.stderr.flush()
            if bugs.active("frame-kills-link-owner"):
                os._exit(70)
        except OSError:
            pass
        finally:
            self.close()

    def _answer(self, msg: dict) -> None:
        try:
            out = self.on_request(self, msg) or {}
        except Exception as e:                          # noqa: BLE001 - the error goes back to the peer
            code = getattr(e, "code", -1)
            out = {"ok": False, "code": code, "error": getattr(e, "message", str(e))}
        try:
            self.send(dict(out, op="reply", rid=msg["rid"]))
        except LinkError:
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        with self._wlock:
            for slot in self._waiters.values():
                slot[0].set()
        if self.on_close is not None:
            try:
                self.on_close(self)
            except Exception:                           # noqa: BLE001
                pass


def dial(host: str, port: int, timeout: float = 3.0, src: str | None = None, **kw) -> Conn:
    """Open a link to host:port (through DMEMU_DIAL_MAP, refused when DMEMU_NET_BLOCK_FILE blocks it)."""
    dest = (host, int(port))
    if BLOCKS.blocked(dest, src):
        raise LinkError(f"connect to {host}:{port} failed (blocked)")
    real = dial_map().get(dest, dest)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if src and src.startswith("127.") and real[0].startswith("127."):
            sock.bind((src, 0))
        sock.connect(real)
    except OSError as e:
        sock.close()
        raise LinkError(f"connect to {host}:{port} failed: {e}") from e
    sock.settimeout(None)
    return Conn(sock, dest=dest, src=src, **kw)


class Listener:
    """A TCP listener handing each accepted socket (as a started Conn) to `on_conn`."""

    def __init__(self, host: str, port: int, on_conn: Callable[[Conn], None], name: str = "listener", **kw):
        self.addr = (host, int(port))
        self.on_conn = on_conn
        self.kw = kw
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(self.addr)
        self.sock.listen(64)
        self._stop = False
        threading.Thread(target=self._loop, name=f"dw-{name}", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                s, peer = self.sock.accept()
            except OSError:
                return
            if BLOCKS.blocked(self.addr, peer[0]):
                s.close()
                continue
            conn = Conn(s, dest=self.addr, src=peer[0], name=self.name, **self.kw)
            try:
                self.on_conn(conn)
            except Exception:                           # noqa: BLE001
                conn.close()
                continue
            conn.start()

    def stop(self) -> None:
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
