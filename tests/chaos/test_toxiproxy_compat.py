"""The built-in toxiproxy-server is a drop-in for Shopify's: driven here only through toxiproxy-python."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
from chaos_helpers import EchoServer, free_port, start_server_process, stop_process, toxiproxy_server
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists


def _dial(proxy, timeout: float = 2.0) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def _roundtrip(sock: socket.socket, payload: bytes) -> tuple[bytes, float]:
    t0 = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got, time.monotonic() - t0


def _proxy(toxi: Toxiproxy, echo: EchoServer, name: str = "mal"):
    return toxi.create(upstream=echo.addr, name=name, listen=f"127.0.0.1:{free_port()}")


def test_version_and_running(toxi: Toxiproxy) -> None:
    assert toxi.running() is True
    assert b"version" in toxi.version()


def test_proxy_create_list_get_destroy(toxi: Toxiproxy, echo: EchoServer) -> None:
    listen = f"127.0.0.1:{free_port()}"
    proxy = toxi.create(upstream=echo.addr, name="mal", listen=listen)
    assert (proxy.name, proxy.upstream, proxy.listen, proxy.enabled) == ("mal", echo.addr, listen, True)
    assert set(toxi.proxies()) == {"mal"}
    assert toxi.get_proxy("mal").upstream == echo.addr
    with pytest.raises(ProxyExists):
        toxi.create(upstream=echo.addr, name="mal")
    assert toxi.destroy(proxy) is True
    assert toxi.get_proxy("mal") is None
    with pytest.raises(NotFound):
        proxy.destroy()


def test_default_listen_picks_a_port(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = toxi.create(upstream=echo.addr, name="auto")
    host, port = proxy.listen.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    with _dial(proxy) as s:
        assert _roundtrip(s, b"ping")[0] == b"ping"


def test_traffic_passes_both_ways(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    payload = os.urandom(3_000_000)
    with _dial(proxy) as s:
        got, _ = _roundtrip(s, payload)
    assert got == payload
    assert echo.received == len(payload)


def test_disabled_proxy_refuses_and_drops_links(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    live = _dial(proxy)
    assert _roundtrip(live, b"a")[0] == b"a"
    with proxy.down():
        assert toxi.get_proxy("mal").enabled is False
        with pytest.raises(ConnectionRefusedError):
            _dial(proxy)
        live.settimeout(2)
        assert live.recv(10) == b""  # the existing link was closed
    assert toxi.get_proxy("mal").enabled is True
    with _dial(proxy) as s:
        assert _roundtrip(s, b"back")[0] == b"back"
    live.close()


def test_latency_with_jitter(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    with _dial(proxy) as s:
        _, base = _roundtrip(s, b"x")
        proxy.add_toxic(type="latency", attributes={"latency": 150, "jitter": 20})
        assert toxi.get_proxy("mal").get_toxic("latency_downstream").attributes == {"latency": 150, "jitter": 20}
        delays = [_roundtrip(s, b"y")[1] for _ in range(3)]
    assert base < 0.1
    assert all(0.125 <= d <= 0.5 for d in delays), delays


def test_upstream_latency(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 120})
    toxic = proxy.get_toxic("latency_upstream")
    assert (toxic.type, toxic.stream) == ("latency", "upstream")
    with _dial(proxy) as s:
        assert 0.11 <= _roundtrip(s, b"z")[1] < 0.5


def test_bandwidth(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="bandwidth", attributes={"rate": 200})  # KB/s
    with _dial(proxy, timeout=10) as s:
        got, took = _roundtrip(s, os.urandom(100_000))
    assert len(got) == 100_000
    assert 0.4 <= took <= 2.0, took


def test_timeout_zero_is_a_black_hole_until_removed(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    with _dial(proxy) as s:
        proxy.add_toxic(type="timeout", name="hole", attributes={"timeout": 0})
        s.settimeout(0.5)
        s.sendall(b"lost")
        with pytest.raises(socket.timeout):
            s.recv(10)
        proxy.destroy_toxic("hole")
        s.settimeout(2)
        assert _roundtrip(s, b"again")[0] == b"again"  # the link stayed open


def test_timeout_closes_after_delay(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    with _dial(proxy) as s:
        proxy.add_toxic(type="timeout", attributes={"timeout": 200})
        t0 = time.monotonic()
        s.settimeout(3)
        assert s.recv(10) == b""
        assert 0.15 <= time.monotonic() - t0 < 1.5


def test_reset_peer(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    with _dial(proxy) as s:
        assert _roundtrip(s, b"ok")[0] == b"ok"
        proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
        s.settimeout(3)
        with pytest.raises(ConnectionResetError):
            s.sendall(b"x")
            s.recv(10)


def test_slow_close(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="slow_close", attributes={"delay": 300})
    with _dial(proxy) as s:
        s.shutdown(socket.SHUT_WR)  # the echo server closes, the proxy delays passing that on
        t0 = time.monotonic()
        s.settimeout(3)
        assert s.recv(10) == b""
        assert time.monotonic() - t0 >= 0.25


def test_limit_data(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="limit_data", attributes={"bytes": 1000})
    with _dial(proxy) as s:
        s.settimeout(3)
        s.sendall(b"a" * 5000)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    assert len(got) == 1000


def test_slicer_keeps_bytes_and_spreads_them(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="slicer", attributes={"average_size": 100, "size_variation": 20, "delay": 2000})
    payload = os.urandom(5000)
    with _dial(proxy) as s:
        got, took = _roundtrip(s, payload)
    assert got == payload
    assert took >= 0.05  # ~50 slices, 2 ms apart


def test_toxicity_zero_never_applies(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 500})
    assert proxy.get_toxic("latency_downstream").toxicity == 0.0
    with _dial(proxy) as s:
        assert _roundtrip(s, b"fast")[1] < 0.3


def test_invalid_toxic_and_duplicate(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", stream="sideways")
    proxy.add_toxic(type="latency", attributes={"latency": 1})
    with pytest.raises(ProxyExists):  # 409, which toxiproxy-python maps to ProxyExists
        proxy.add_toxic(type="latency", attributes={"latency": 1})
    with pytest.raises(NotFound):
        proxy.destroy_toxic("nope")


def test_reset_enables_and_clears(toxi: Toxiproxy, echo: EchoServer) -> None:
    proxy = _proxy(toxi, echo)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    proxy.disable()
    assert toxi.reset() is True
    again = toxi.get_proxy("mal")
    assert again.enabled is True and again.toxics() == {}
    with _dial(again) as s:
        assert _roundtrip(s, b"healed")[0] == b"healed"


def test_populate(toxi: Toxiproxy, echo: EchoServer) -> None:
    specs = [{"name": f"p{i}", "upstream": echo.addr, "listen": f"127.0.0.1:{free_port()}"} for i in range(3)]
    created = toxi.populate(specs)
    assert sorted(p.name for p in created) == ["p0", "p1", "p2"]
    assert toxi.populate(specs) == []  # identical proxies are kept
    toxi.destroy_all()
    assert toxi.proxies() == {}


def test_config_flag_creates_proxies(tmp_path, echo: EchoServer) -> None:
    listen = f"127.0.0.1:{free_port()}"
    cfg = tmp_path / "toxiproxy.json"
    cfg.write_text(json.dumps([{"name": "dw", "listen": listen, "upstream": echo.addr}]))
    with toxiproxy_server("-config", str(cfg)) as (client, proc):
        proxy = client.get_proxy("dw")
        assert proxy is not None and proxy.listen == listen
        with _dial(proxy) as s:
            assert _roundtrip(s, b"cfg")[0] == b"cfg"
    assert proc.returncode == 0


@pytest.mark.parametrize("args, what", [
    (["-port", "notaport"], "-port"),
    (["-config", "/nonexistent/toxiproxy.json"], "-config"),
])
def test_bad_input_one_line(args: list[str], what: str) -> None:
    proc = start_server_process("-host", "127.0.0.1", *args)
    proc.wait(timeout=10)
    err = proc.stderr.read().strip()
    stop_process(proc)
    assert proc.returncode != 0
    assert len(err.splitlines()) == 1 and what in err, err


def test_port_in_use_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = start_server_process("-host", "127.0.0.1", "-port", str(busy.getsockname()[1]))
        proc.wait(timeout=10)
        err = proc.stderr.read().strip()
        stop_process(proc)
    assert proc.returncode == 1
    assert len(err.splitlines()) == 1 and "choose another" in err, err


def test_console_script_declared_with_official_flags() -> None:
    from pathlib import Path

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from harness.hostside.toxiproxy.server import main

    root = Path(__file__).resolve().parents[2]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["toxiproxy-server"] == "harness.hostside.toxiproxy.server:main"
    assert "harness.hostside.toxiproxy" in meta["tool"]["setuptools"]["packages"]
    assert main(["-version"]) == 0
