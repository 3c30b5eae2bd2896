"""The HTTP API: a route table (method, path pattern, handler) and a request handler that never lets a
malformed or hostile request through: bounded request line, headers and body, a read deadline, JSON
errors for every failure (Toxiproxy's {"error": ..., "status": ...}), and no executable decoding."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from .model import VERSION, ApiError

if TYPE_CHECKING:
    from .server import ToxiproxyServer

MAX_BODY = 1024 * 1024
READ_TIMEOUT = 10.0  # seconds a client may take to send its request (a truncated one is closed after it)

Route = Callable[["ToxiproxyServer", dict[str, str], Any], tuple[int, Any]]


def _populate(s: ToxiproxyServer, _: dict[str, str], body: Any) -> tuple[int, Any]:
    return 201, {"proxies": [p.to_json() for p in s.populate(body)]}


def _delete_proxy(s: ToxiproxyServer, a: dict[str, str], _: Any) -> tuple[int, Any]:
    s.delete(a["proxy"])
    return 204, None


def _delete_toxic(s: ToxiproxyServer, a: dict[str, str], _: Any) -> tuple[int, Any]:
    s.get(a["proxy"]).remove_toxic(a["toxic"])
    return 204, None


def _reset(s: ToxiproxyServer, _: dict[str, str], __: Any) -> tuple[int, Any]:
    s.reset()
    return 204, None


ROUTES: list[tuple[str, str, Route]] = [
    ("GET", "/version", lambda s, a, b: (200, {"version": VERSION})),
    ("POST", "/reset", _reset),
    ("POST", "/populate", _populate),
    ("GET", "/metrics", lambda s, a, b: (200, {"proxies": len(s.proxies)})),
    ("GET", "/proxies", lambda s, a, b: (200, {n: p.to_json() for n, p in list(s.proxies.items())})),
    ("POST", "/proxies", lambda s, a, b: (201, s.create(b).to_json())),
    ("GET", "/proxies/{proxy}", lambda s, a, b: (200, s.get(a["proxy"]).to_json())),
    ("POST", "/proxies/{proxy}", lambda s, a, b: (200, s.update(a["proxy"], b).to_json())),
    ("DELETE", "/proxies/{proxy}", _delete_proxy),
    ("GET", "/proxies/{proxy}/toxics", lambda s, a, b: (200, [t.to_json() for t in
                                                              list(s.get(a["proxy"]).toxics.values())])),
    ("POST", "/proxies/{proxy}/toxics", lambda s, a, b: (200, s.get(a["proxy"]).add_toxic(b).to_json())),
    ("GET", "/proxies/{proxy}/toxics/{toxic}", lambda s, a, b: (200, s.get(a["proxy"]).get_toxic(a["toxic"])
                                                                 .to_json())),
    ("POST", "/proxies/{proxy}/toxics/{toxic}", lambda s, a, b: (200, s.get(a["proxy"]).update_toxic(
        a["toxic"], b).to_json())),
    ("DELETE", "/proxies/{proxy}/toxics/{toxic}", _delete_toxic),
]
ALIASES = {"PATCH": "POST"}  # Toxiproxy accepts PATCH wherever it accepts an update by POST
_COMPILED = [(m, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", p) + "/?$"), f) for m, p, f in ROUTES]


def dispatch(server: ToxiproxyServer, method: str, path: str, body: Any) -> tuple[int, Any]:
    """Route one API request; returns (status, JSON-able payload or None) or raises ApiError."""
    from urllib.parse import unquote

    path = path.split("?", 1)[0]
    method = ALIASES.get(method, method)
    allowed = False
    for m, rx, handler in _COMPILED:
        match = rx.match(path)
        if match:
            if m == method:
                return handler(server, {k: unquote(v) for k, v in match.groupdict().items()}, body)
            allowed = True
    if allowed:
        raise ApiError(405, f"method {method} not allowed on {path}")
    raise ApiError(404, "not found")


def error_body(status: int, message: str) -> bytes:
    return (json.dumps({"error": message, "status": status}) + "\n").encode()


def make_handler(server: ToxiproxyServer) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = READ_TIMEOUT

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet, like Toxiproxy at info level
            return

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The stdlib's own rejections (bad request line, oversized headers) as JSON, then close."""
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # what the stdlib assumes of an unparsable request line
                self.request_version = "HTTP/1.0"
            self._reply(code, error_body(code, (message or self.responses.get(code, ("error",))[0])[:200]))

        def _reply(self, status: int, data: bytes) -> None:
            try:
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client left before its answer
                self.close_connection = True

        def _body(self) -> Any:
            if self.headers.get("Transfer-Encoding"):
                raise ApiError(411, "chunked bodies are not accepted; send Content-Length")
            raw_len = (self.headers.get("Content-Length") or "0").strip()
            if not raw_len.isdigit():
                raise ApiError(400, f"bad Content-Length {raw_len[:20]!r}")
            length = int(raw_len)
            if length > MAX_BODY:
                raise ApiError(413, f"request body over {MAX_BODY} bytes")
            raw = self.rfile.read(length) if length else b""
            if len(raw) < length:
                raise ApiError(400, "truncated request body")
            if not raw.strip():
                return None
            try:
                return json.loads(raw)
            except (ValueError, RecursionError):
                raise ApiError(400, "bad request body: invalid JSON") from None

        def _handle(self) -> None:
            try:
                status, payload = dispatch(server, self.command, self.path, self._body())
                data = b"" if payload is None else (json.dumps(payload) + "\n").encode()
            except ApiError as e:
                status, data = e.status, error_body(e.status, e.message)
                self.close_connection = self.close_connection or e.status in (400, 411, 413)
            except OSError:  # the client stopped sending (read deadline) or left
                self.close_connection = True
                return
            self._reply(status, data)

        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("do_"):  # every method reaches the route table (405 there, not 501)
                return self._handle
            raise AttributeError(attr)

    return Handler
