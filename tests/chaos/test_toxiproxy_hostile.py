"""The built-in toxiproxy-server under malformed and hostile input: every bad API request gets a 4xx JSON
error and changes nothing; truncated HTTP, garbage bytes and oversized requests on the API port and on a
proxy's listen port leave it serving a well-formed client (toxiproxy-python) and proxying traffic."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_helpers import EchoServer, free_port, start_server_process, stop_process, wait_api
from toxiproxy import Toxiproxy

UP = "127.0.0.1:1"  # a well-formed upstream (never dialled: nothing connects through these proxies)

BAD_PROXIES: list[Any] = [
    [], "proxy", 42, None,
    {"upstream": UP},
    {"name": "p"},
    {"name": 7, "upstream": UP},
    {"name": "", "upstream": UP},
    {"name": "a/b", "upstream": UP},
    {"name": "x" * 500, "upstream": UP},
    {"name": "p", "upstream": ["127.0.0.1", 1]},
    {"name": "p", "upstream": "127.0.0.1"},
    {"name": "p", "upstream": "127.0.0.1:70000"},
    {"name": "p", "upstream": "127.0.0.1:0"},
    {"name": "p", "upstream": ":5236"},
    {"name": "p", "upstream": "bad host!:5236"},
    {"name": "p", "upstream": "__import__('os').system('true'):1"},
    {"name": "p", "upstream": UP, "listen": "127.0.0.1:99999"},
    {"name": "p", "upstream": UP, "listen": "127.0.0.1:-1"},
    {"name": "p", "upstream": UP, "listen": 8080},
    {"name": "p", "upstream": UP, "enabled": "yes"},
    {"name": "p", "upstream": UP, "enabled": 1},
]
PARTIAL_OK = [{"upstream": UP}, {"name": "p"}]
BAD_TOXICS: list[Any] = [
    ["latency"], "latency",
    {"type": "no_such_toxic"},
    {"type": "__import__('os')"},
    {"type": 3},
    {"type": "latency", "stream": "sideways"},
    {"type": "latency", "stream": 1},
    {"type": "latency", "name": "a/b"},
    {"type": "latency", "toxicity": 2},
    {"type": "latency", "toxicity": -0.1},
    {"type": "latency", "toxicity": "1"},
    {"type": "latency", "toxicity": True},
    {"type": "latency", "attributes": [100]},
    {"type": "latency", "attributes": {"latency": "100"}},
    {"type": "latency", "attributes": {"latency": 1.5}},
    {"type": "latency", "attributes": {"latency": -1}},
    {"type": "latency", "attributes": {"latency": 10**30}},
    {"type": "latency", "attributes": {"latency": True}},
    {"type": "latency", "attributes": {"latency": {"nested": 1}}},
]
RAW_BODIES = [b"{", b"\xff\xfe garbage", b"[" * 100_000, b'{"type": "latency", "toxicity": NaN}',
              b'{"type": "latency", "toxicity": Infinity}']


@pytest.fixture
def server() -> Iterator[tuple[int, Any, Toxiproxy]]:
    """The server as its own process: (API port, process, toxiproxy-python client)."""
    port = free_port()
    proc = start_server_process("-host", "127.0.0.1", "-port", str(port))
    try:
        wait_api(port, proc)
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", port)
        yield port, proc, client
    finally:
        stop_process(proc)


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


def raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    """Send bytes to the API port as they are; the first answer bytes (b"" if it closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(data)
            if not read:
                return b""
            s.shutdown(socket.SHUT_WR)
            out = b""
            while len(out) < 4096 and (chunk := s.recv(4096)):
                out += chunk
            return out
        except OSError:  # the server may reset a connection it refused to read to the end
            return b""


def assert_rejected(status: int, payload: Any) -> None:
    assert 400 <= status < 500, (status, payload)
    assert isinstance(payload, dict) and payload.get("status") == status and payload.get("error"), payload


def still_serves(client: Toxiproxy, proc: Any) -> None:
    """A well-formed client still drives the server, and a proxy still carries traffic and its toxics."""
    assert proc.poll() is None, "the server exited"
    echo = EchoServer()
    name = f"check{random.randrange(10**6)}"
    try:
        proxy = client.create(upstream=echo.addr, name=name, listen=f"127.0.0.1:{free_port()}")
        host, port = proxy.listen.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=3) as s:
            s.sendall(b"ping")
            assert s.recv(10) == b"ping"
        proxy.add_toxic(type="latency", attributes={"latency": 300})
        with socket.create_connection((host, int(port)), timeout=3) as s:
            t0 = time.monotonic()
            s.sendall(b"slow")
            assert s.recv(10) == b"slow" and time.monotonic() - t0 >= 0.25
        proxy.destroy()
    finally:
        echo.close()


@pytest.mark.parametrize("body", BAD_PROXIES, ids=range(len(BAD_PROXIES)))
def test_bad_proxy_bodies_are_4xx_and_change_nothing(server, body: Any) -> None:
    port, proc, client = server
    assert_rejected(*request(port, "POST", "/proxies", json.dumps(body).encode()))
    assert client.proxies() == {}
    client.create(upstream=UP, name="kept", listen=f"127.0.0.1:{free_port()}", enabled=False)
    if body not in PARTIAL_OK:  # an update may leave fields out, not send bad ones
        assert_rejected(*request(port, "POST", "/proxies/kept", json.dumps(body).encode()))
    assert_rejected(*request(port, "POST", "/populate", json.dumps([{"name": "ok", "upstream": UP}, body]).encode()))
    assert set(client.proxies()) == {"kept"}  # a bad list creates none of its proxies


@pytest.mark.parametrize("body", BAD_TOXICS, ids=range(len(BAD_TOXICS)))
def test_bad_toxic_bodies_are_4xx_and_change_nothing(server, body: Any) -> None:
    port, proc, client = server
    proxy = client.create(upstream=UP, name="p", listen=f"127.0.0.1:{free_port()}", enabled=False)
    assert_rejected(*request(port, "POST", "/proxies/p/toxics", json.dumps(body).encode()))
    proxy.add_toxic(type="latency", name="lat", attributes={"latency": 5})
    if isinstance(body, dict) and body.get("type") == "latency":  # an update with the same bad fields
        assert_rejected(*request(port, "POST", "/proxies/p/toxics/lat", json.dumps(body).encode()))
    assert [t["attributes"] for t in request(port, "GET", "/proxies/p/toxics")[1]] == [{"latency": 5, "jitter": 0}]


def test_unparsable_bodies_paths_and_methods(server) -> None:
    port, proc, client = server
    client.create(upstream=UP, name="p", listen=f"127.0.0.1:{free_port()}", enabled=False)
    for body in RAW_BODIES:
        assert_rejected(*request(port, "POST", "/proxies", body))
        assert_rejected(*request(port, "POST", "/proxies/p/toxics", body))
    assert_rejected(*request(port, "GET", "/nowhere"))
    assert_rejected(*request(port, "GET", "/proxies/p/toxics/a/b/c"))
    assert_rejected(*request(port, "PUT", "/proxies"))
    assert_rejected(*request(port, "BREW", "/version"))
    assert_rejected(*request(port, "GET", "/proxies/nope"))
    assert set(client.proxies()) == {"p"}
    still_serves(client, proc)


def test_truncated_http_and_garbage_on_the_api_port(server) -> None:
    port, proc, client = server
    rng = random.Random(17)
    answers = [
        raw(port, b"POST /proxies HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}"),
        raw(port, b"POST /proxies HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}"),
        raw(port, b"POST /proxies HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{}"),
        raw(port, b"POST /proxies HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}{}{\r\n0\r\n\r\n"),
        raw(port, b"POST /proxies HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"name\": \"p\""),  # body cut short
        raw(port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"),
        raw(port, b"GET /version HTTP/1.1\r\n" + b"X-Junk: 1\r\n" * 200 + b"\r\n"),
        raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)),  # a TLS hello
    ]
    for answer in answers:
        assert answer.startswith(b"HTTP/1.") and answer[9:10] == b"4", answer[:200]
        assert b'"error"' in answer, answer[:300]
    for _ in range(20):
        raw(port, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
    raw(port, b"GET /version HTTP/1.1\r\nHost: x\r\n", read=False)  # headers never finished: client leaves
    raw(port, b"POST /proxies HTTP/1.1\r\nContent-Length: 50\r\n\r\n{", read=False)  # leaves mid-body
    for _ in range(3):  # many connections opened and dropped at once
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
        for s in socks:
            s.close()
    assert client.proxies() == {}
    still_serves(client, proc)
    proc.terminate()
    proc.wait(10)
    err = proc.stderr.read()
    assert "Traceback" not in err and "Exception" not in err, err[-2000:]


def test_garbage_on_a_proxy_listen_port(server) -> None:
    port, proc, client = server
    echo = EchoServer()
    try:
        proxy = client.create(upstream=echo.addr, name="mal", listen=f"127.0.0.1:{free_port()}")
        host, lport = proxy.listen.rsplit(":", 1)
        for n in (1, 100, 70_000):
            with socket.create_connection((host, int(lport)), timeout=3) as s:
                s.sendall(os.urandom(n))
                s.shutdown(socket.SHUT_WR)
        for _ in range(20):  # connect and vanish before sending anything, or reset mid-stream
            s = socket.create_connection((host, int(lport)), timeout=3)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        with socket.create_connection((host, int(lport)), timeout=3) as s:
            s.sendall(b"after")
            assert s.recv(10) == b"after"
    finally:
        echo.close()
    still_serves(client, proc)
