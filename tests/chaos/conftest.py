"""Fixtures for the chaos area: an echo upstream, the built-in Toxiproxy server as its own process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_helpers import EchoServer, free_port, start_server_process, stop_process, wait_api
from toxiproxy import Toxiproxy


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def toxi() -> Iterator[Toxiproxy]:
    """The built-in server as its own process, driven only through toxiproxy-python."""
    port = free_port()
    proc = start_server_process("-host", "127.0.0.1", "-port", str(port))
    try:
        wait_api(port, proc)
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", port)
        yield client
    finally:
        stop_process(proc)
