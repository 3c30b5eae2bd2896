"""Fixtures for the chaos area: an echo upstream, the built-in Toxiproxy server as its own process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_helpers import EchoServer, toxiproxy_server
from toxiproxy import Toxiproxy


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def toxi() -> Iterator[Toxiproxy]:
    """The built-in server as its own process, driven only through toxiproxy-python."""
    with toxiproxy_server() as (client, _proc):
        yield client
