"""Delay from `chaos.cut(...)` returning to traffic stopping, through the built-in toxiproxy-server.

A sender streams small messages through a proxy (as a MAL link would be steered); we apply a cut with
harness.chaos.ToxiproxyNet (blackhole, reset, refuse) and measure from the moment the cut returns to
the last byte the receiver sees. Target (brief): <= 100 ms. Usage: python benchmarks/proxy_cut_delay.py
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.chaos import ToxiproxyNet, select_streams  # noqa: E402
from harness.hostside.toxiproxy import ToxiproxyServer  # noqa: E402
from harness.topology import Topology  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.last = 0.0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c: socket.socket) -> None:
        with c:
            while True:
                try:
                    if not c.recv(65536):
                        return
                except OSError:
                    return
                self.last = time.monotonic()


def measure(mode: str, rounds: int = 5) -> float:
    rx = Receiver()
    topo = Topology()
    for h in topo.hosts.values():
        h.internal_ip = "127.0.0.1"
        h.mal_port = rx.ls.getsockname()[1]
    hosts = {name: type("H", (), {"env": {}})() for name in topo.hosts}
    server = ToxiproxyServer("127.0.0.1", 0).start()
    net = ToxiproxyNet(("127.0.0.1", server.port), topo, hosts, links=("MAL",))
    net.prepare()
    flow = next(f for f in net.proxies if f.dialer == "host1")
    host, port = net.proxies[flow].listen.rsplit(":", 1)
    worst = 0.0
    try:
        for _ in range(rounds):
            stop = threading.Event()

            def send(stop: threading.Event = stop) -> None:  # noqa: B008
                try:
                    with socket.create_connection((host, int(port))) as s:
                        while not stop.is_set():  # noqa: B023
                            s.sendall(b"r" * 512)
                            time.sleep(0.001)
                except OSError:
                    pass

            t = threading.Thread(target=send, daemon=True)
            t.start()
            time.sleep(0.3)
            heal = net.cut(select_streams([flow], None), mode)
            returned = time.monotonic()
            time.sleep(0.4)
            delay = max(0.0, rx.last - returned)
            worst = max(worst, delay)
            stop.set()
            heal()
            t.join(2)
    finally:
        net.close()
        server.stop()
        rx.ls.close()
    return worst


def main() -> int:
    ok = True
    for mode in ("blackhole", "reset", "refuse"):
        worst = measure(mode)
        ok &= worst <= 0.1
        print(f"cut MAL mode={mode:9s}: traffic stopped {worst * 1000:6.1f} ms after cut returned (worst of 5; target <= 100 ms)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
