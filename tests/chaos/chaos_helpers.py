"""Helpers shared by the chaos tests and benchmarks: free ports, an echo upstream, the server process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (parallel runs never share fixed ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """A loopback TCP echo server standing in for a DM8 listener; counts bytes it received."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                self.received += len(data)
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def start_server_process(*args: str) -> subprocess.Popen:
    """Start `toxiproxy-server` (the module form, so no reinstall is needed) with the official flags."""
    return subprocess.Popen([sys.executable, "-m", "harness.hostside.toxiproxy", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_api(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"toxiproxy-server exited rc={proc.returncode}: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"toxiproxy-server API on 127.0.0.1:{port} did not answer within {timeout}s")


@contextlib.contextmanager
def toxiproxy_server(*args: str) -> Iterator[tuple[Any, subprocess.Popen]]:
    """The built-in server as its own process on a free loopback port, with a toxiproxy-python client
    pointed at it: (client, process); stopped on exit (the process's returncode is then set)."""
    from toxiproxy import Toxiproxy

    port = free_port()
    proc = start_server_process("-host", "127.0.0.1", "-port", str(port), *args)
    try:
        wait_api(port, proc)
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", port)
        yield client, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
