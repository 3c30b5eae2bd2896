"""Threaded TCP server speaking the DM client wire protocol on top of an api.Server.

One thread per client connection. Each connection runs STARTUP (key exchange), LOGIN, then
statement commands against the api.Session that Server.login() returned. Result sets are sent in
pages pulled lazily from Result.rows, so million-row results never sit in memory.

Emulator-only: while DMEMU_NET_BLOCK_FILE lists this listener's address as `host:port` (see
dw/protocol.py), the server is a black hole for its clients: new connections are closed at once, and
existing ones neither run the commands they send nor get replies until the line is removed.

Here: the listener and its accept loop. Each connection is a ClientConnection (connection.py) with the
login (login.py) and statement (statements.py) command handlers.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time

from .. import api
from ..dw.protocol import BLOCKS
from .connection import ClientConnection

log = logging.getLogger("dmemu.wire")

LISTEN_BACKLOG = 1024              # bursts of connects (pools, parallel tests) must not overflow the queue


class WireServer:
    """A listening DM wire endpoint; `.port` is the bound port, `.close()` stops everything."""

    def __init__(self, server: api.Server, host: str, port: int):
        self.server = server
        self.lsock = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        self.host = host
        self.port: int = self.lsock.getsockname()[1]
        self._lock = threading.Lock()
        self._clients: set[ClientConnection] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"dmwire-{self.port}", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                sock, peer = self.lsock.accept()
            except OSError as e:
                if self._closed or e.errno in (errno.EBADF, errno.EINVAL):
                    return                           # the listening socket itself is gone
                # a connection aborted before accept (ECONNABORTED), or out of descriptors/memory: one bad
                # connect must not stop the listener for good (later connects would hang, then -70019)
                log.warning("accept failed: %s", e)
                time.sleep(0.05)
                continue
            conn = None
            try:
                if BLOCKS.endpoint_blocked(sock.getsockname()[:2]):
                    sock.close()                     # black hole: the client's login never completes
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = ClientConnection(self, sock, peer)
                with self._lock:
                    if self._closed:
                        sock.close()
                        return
                    self._clients.add(conn)
                threading.Thread(target=conn.run, name=f"dmwire-client-{peer[1]}", daemon=True).start()
            except (OSError, RuntimeError) as e:     # peer already gone, or no thread could be started
                log.warning("client %s not served: %s", peer, e)
                if conn is not None:
                    self._forget(conn)
                sock.close()

    def _forget(self, conn: ClientConnection) -> None:
        with self._lock:
            self._clients.discard(conn)

    def close(self) -> None:
        """Stop listening and disconnect every client (their sessions are closed)."""
        self._closed = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self) -> WireServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(server: api.Server, host: str, port: int) -> WireServer:
    """Start serving `server` over the DM wire protocol on host:port (port 0 = pick a free one)."""
    return WireServer(server, host, port)
