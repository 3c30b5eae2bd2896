"""An offline, API-compatible Toxiproxy server (`toxiproxy-server -host H -port P -config F`).

Why: DESIGN.md §6 uses Toxiproxy for link faults; air-gapped sites have no Go binary nor image, so this
stdlib-only server implements the same HTTP API (Toxiproxy 2.x) and the same toxics, and is proven
compatible by tests that drive it only through toxiproxy-python.

Model (as Toxiproxy's): a proxy listens on `listen` and dials `upstream` for each accepted client. A
disabled proxy closes its connections and stops listening (new dials are refused). The registry below
takes bodies that schema.py has checked; api.py routes the HTTP requests to it.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from . import schema
from .api import make_handler
from .model import VERSION, ApiError, claim, find
from .proxy import Proxy


class ApiHttpServer(ThreadingHTTPServer):
    """The API's listener: one daemon thread per connection and a backlog deep enough that a burst of
    connections (a client pool, or a flood) does not push a well-formed client into SYN retries."""

    daemon_threads = True
    request_queue_size = 128


class ToxiproxyServer:
    """The proxy registry plus the HTTP API; usable in-process (tests) or as the `toxiproxy-server` command."""

    def __init__(self, host: str = "localhost", port: int = 8474, seed: int | None = None) -> None:
        self.host = host
        self.port = port
        self.rng = random.Random(seed)
        self.proxies: dict[str, Proxy] = {}
        self._lock = threading.RLock()
        self._httpd: ApiHttpServer | None = None
        self._thread: threading.Thread | None = None

    # registry operations (the API's semantics) ----------------------------------------------------
    def create(self, body: Any) -> Proxy:
        body = schema.proxy_spec(body)
        name, upstream = body["name"], body["upstream"]
        with self._lock:
            claim(self.proxies, name, "proxy")
            enabled = body.get("enabled")
            proxy = Proxy(self, name, body.get("listen") or "127.0.0.1:0", upstream,
                          enabled=True if enabled is None else bool(enabled))
            self.proxies[name] = proxy
        return proxy

    def get(self, name: str) -> Proxy:
        return find(self.proxies, name, "proxy")

    def update(self, name: str, body: Any) -> Proxy:
        body = schema.proxy_spec(body, partial=True)
        with self._lock:
            proxy = self.get(name)
            moved = (body.get("listen") not in (None, proxy.listen)
                     or body.get("upstream") not in (None, proxy.upstream))
            want = proxy.enabled if body.get("enabled") is None else bool(body["enabled"])
            if moved:
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

    def populate(self, body: Any) -> list[Proxy]:
        """Create or replace the listed proxies (kept as they are when listen and upstream match); the
        whole list is checked before any is touched."""
        bodies = schema.populate_specs(body)
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

    def start(self) -> ToxiproxyServer:
        """Bind the API (port 0 picks a free one, then `self.port` holds it) and serve in a thread."""
        httpd = ApiHttpServer((self.host, self.port), make_handler(self))
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
