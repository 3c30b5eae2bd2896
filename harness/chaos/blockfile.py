"""Link faults on the local backend (emulator only): the per-host block files the emulator reads."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from harness.chaos.flows import Selection
from harness.chaos.mechanism import Heal, NetBackend


class BlockFileNet(NetBackend):
    """Emulator-only: per-host block files (DMEMU_NET_BLOCK_FILE, `<run root>/<host>/netblock`).

    A line `ip:port` in host A's file makes A's emulator processes refuse dials to ip:port and drop such
    links within 200 ms; a bare `ip` blocks every link to or from that address. A one-way cut a->b blocks
    the flows a dials to b (the emulator cannot drop one direction of a TCP link); all three modes act
    as a refused dial plus a dropped link. A CLIENT flow is cut on the instance's side: the line
    `ip:PORT_NUM` in the target host's file makes its SQL server a black hole for clients (new logins
    fail, existing connections get no answers until healed).
    """

    name = "blockfile"

    def __init__(self, hosts: dict[str, Any], topology: Any) -> None:
        self.hosts = hosts
        self.topology = topology
        self.lines: dict[str, Counter[str]] = {h: Counter() for h in hosts}
        self._lock = threading.Lock()

    def path(self, host: str) -> str:
        h = self.hosts[host]
        env = getattr(h, "env", {}) or {}
        return env.get("DMEMU_NET_BLOCK_FILE") or h.path("/netblock")

    def _write(self, host: str) -> None:
        text = "".join(f"{line}\n" for line, n in sorted(self.lines[host].items()) if n > 0)
        self.hosts[host].write_file(self.path(host), text, mapped=True)

    def _apply(self, entries: list[tuple[str, str]]) -> Heal:
        with self._lock:
            for host, line in entries:
                self.lines[host][line] += 1
            for host in {h for h, _ in entries}:
                self._write(host)

        def heal() -> None:
            with self._lock:
                for host, line in entries:
                    self.lines[host][line] -= 1
                for host in {h for h, _ in entries}:
                    self._write(host)

        return heal

    def cut(self, sel: Selection, mode: str) -> Heal:
        entries = []
        for flow, streams in sel:
            if flow.dialer == "client":
                entries.append((flow.target, f"{flow.ip}:{flow.port}"))
            elif "upstream" in streams:
                entries.append((flow.dialer, f"{flow.ip}:{flow.port}"))
        if not entries:  # only downstream streams: block the reverse dials, the closest the emulator offers
            entries = [(f.dialer, f"{f.ip}:{f.port}") for f, _ in sel]
        return self._apply(entries)

    def isolate(self, host: str) -> Heal:
        spec = self.topology.hosts[host]
        ips = [ip for ip in (spec.internal_ip, spec.external_ip) if ip]
        return self._apply([(h, ip) for h in self.hosts for ip in ips])

    def close(self) -> None:
        with self._lock:
            for host in self.hosts:
                if any(n > 0 for n in self.lines[host].values()):
                    self.lines[host].clear()
                    self._write(host)

