"""A named TCP proxy: its listener, its upstream, its toxics and its live links."""

from __future__ import annotations

import select
import socket
import threading
from typing import TYPE_CHECKING, Any

from . import schema
from .link import Link
from .model import STREAMS, ApiError, Toxic, claim, find

if TYPE_CHECKING:
    from .server import ToxiproxyServer


class Proxy:
    """A named TCP proxy: a listener, its upstream, its toxics and its live links."""

    def __init__(self, server: ToxiproxyServer, name: str, listen: str, upstream: str,
                 enabled: bool = True) -> None:
        schema.name(name, "name")
        schema.split_addr(upstream, "upstream")
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
            host, port = schema.split_addr(self.listen, "listen", any_host=True, any_port=True)
            bind_host = host or "0.0.0.0"
            lsock = socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lsock.bind((bind_host, port))
                lsock.listen(128)
            except OSError as e:
                lsock.close()
                raise ApiError(500, f"listen {self.listen}: {e.strerror or e}") from None
            self.listen = f"{f'[{host}]' if ':' in host else host}:{lsock.getsockname()[1]}"
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
        host, port = schema.split_addr(self.upstream, "upstream")
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
        toxic = Toxic(schema.toxic_spec(body))
        with self._lock:
            claim(self.toxics, toxic.name, "toxic")
            self.toxics[toxic.name] = toxic
            self._refresh()
        return toxic

    def get_toxic(self, name: str) -> Toxic:
        return find(self.toxics, name, "toxic")

    def update_toxic(self, name: str, body: dict[str, Any]) -> Toxic:
        with self._lock:
            toxic = self.get_toxic(name)
            toxic.update(schema.toxic_spec(body, partial=True))
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
