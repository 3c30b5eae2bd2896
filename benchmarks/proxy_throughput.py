"""Throughput through the built-in toxiproxy-server vs a direct loopback connection.

Targets (brief): >= 50 MB/s through the proxy and >= 0.5 of direct. Usage: python benchmarks/proxy_throughput.py [MB]
Prints one line per measurement and exits non-zero when a target is missed.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))
from chaos_helpers import free_port, toxiproxy_server  # noqa: E402


def sink() -> tuple[socket.socket, list[int]]:
    """A listener that reads and discards everything, counting bytes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    got = [0]

    def serve() -> None:
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with c:
                while True:
                    data = c.recv(1 << 20)
                    if not data:
                        break
                    got[0] += len(data)

    threading.Thread(target=serve, daemon=True).start()
    return ls, got


def blast(port: int, total: int, got: list[int]) -> float:
    """Send `total` bytes to 127.0.0.1:port and wait until the sink counted them; MB/s."""
    start_count = got[0]
    buf = b"\x5a" * (1 << 20)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        sent = 0
        while sent < total:
            s.sendall(buf)
            sent += len(buf)
        s.shutdown(socket.SHUT_WR)
        while got[0] - start_count < total:
            time.sleep(0.001)
    return total / (time.perf_counter() - t0) / 1e6


def main() -> int:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    total = mb * (1 << 20)
    ls, got = sink()
    try:
        with toxiproxy_server() as (client, _proc):
            proxy = client.create(upstream=f"127.0.0.1:{ls.getsockname()[1]}", name="bench",
                                  listen=f"127.0.0.1:{free_port()}")
            pport = int(proxy.listen.rsplit(":", 1)[1])
            blast(ls.getsockname()[1], 32 << 20, got)  # warm-up
            direct = max(blast(ls.getsockname()[1], total, got) for _ in range(2))
            via = max(blast(pport, total, got) for _ in range(2))
    finally:
        ls.close()
    ratio = via / direct
    ok = via >= 50 and ratio >= 0.5
    print(f"direct loopback:         {direct:8.1f} MB/s")
    print(f"through toxiproxy-server: {via:8.1f} MB/s  ({ratio:.2f} of direct; target >= 50 MB/s and >= 0.5)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
