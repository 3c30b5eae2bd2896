"""Link faults on a Toxiproxy server (the official one or harness/hostside/toxiproxy) placed by the
backend (Backend.proxy_site()), with every inter-host flow steered through its own proxy."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from harness.backends.base import NetShell
from harness.chaos.flows import LINKS, STREAMS, Flow, Selection, resolve_flows
from harness.chaos.mechanism import Heal, NetBackend
from harness.errors import HarnessError


class ToxiproxyNet(NetBackend):
    """Link faults on a Toxiproxy server (official or harness/hostside/toxiproxy) driven by toxiproxy-python.

    prepare() creates one proxy per flow and steers the dialer's traffic into it, as the backend's
    ProxySite says: DMEMU_DIAL_MAP in the dialer's Host.env (emulator only; helpers=None) or iptables DNAT
    in the dialer's namespace (nat OUTPUT, through its NetShell). It must run before the DM processes start, so every link
    goes through its proxy. Modes: blackhole = timeout toxic 0, reset = reset_peer toxic, refuse = the
    proxy disabled. toxiproxy-python keeps one API address per process (class-level), so one server."""

    name = "toxiproxy"

    def __init__(self, api: tuple[str, int], topology: Any, hosts: dict[str, Any], *,
                 listen_host: str = "127.0.0.1", ports: Iterator[int] | None = None,
                 helpers: dict[str, NetShell] | None = None, links: tuple[str, ...] = LINKS,
                 dnat_ip: str | None = None) -> None:
        from toxiproxy import Toxiproxy

        self.client = Toxiproxy()
        self.client.update_api_consumer(*api)
        self.topology = topology
        self.hosts = hosts
        self.listen_host = listen_host
        self.ports = ports
        self.helpers = helpers
        self.dnat_ip = dnat_ip
        self.links = tuple(k for k in links if k != "CLIENT")
        self.proxies: dict[Flow, Any] = {}
        self._n = 0
        self._lock = threading.Lock()

    def prepare(self) -> None:
        for link in self.links:
            for flow in resolve_flows(self.topology, link):
                if flow.dialer == "client":
                    continue
                port = next(self.ports) if self.ports else _free_port()
                proxy = self.client.create(upstream=f"{flow.ip}:{flow.port}", name=flow.name,
                                           listen=f"{self.listen_host}:{port}")
                self.proxies[flow] = proxy
        if self.helpers is None:
            for host in self.hosts:
                entries = [f"{f.ip}:{f.port}={p.listen}" for f, p in self.proxies.items() if f.dialer == host]
                if entries:
                    self.hosts[host].env["DMEMU_DIAL_MAP"] = ",".join(entries)
        else:
            for f, p in self.proxies.items():
                ip, port = p.listen.rsplit(":", 1)
                ip = self.dnat_ip or ip
                self.helpers[f.dialer].sh(f"iptables -t nat -A OUTPUT -p tcp -d {f.ip} --dport {f.port} "
                                          f"-m comment --comment dmdw-steer -j DNAT --to-destination {ip}:{port}")

    def dial_map(self, host: str) -> str:
        """The DMEMU_DIAL_MAP value for `host` (what prepare() put in the host's env)."""
        return ",".join(f"{f.ip}:{f.port}={p.listen}" for f, p in self.proxies.items() if f.dialer == host)

    def _proxy(self, flow: Flow) -> Any:
        proxy = self.proxies.get(flow)
        if proxy is None:
            raise HarnessError(f"no proxy for {flow.name}: call Chaos.prepare() before the group starts")
        return proxy

    def _toxics(self, sel: Selection, type_: str, attrs: dict[str, int]) -> Heal:
        with self._lock:
            self._n += 1
            tag = f"chaos{self._n}"
        added = []
        for flow, streams in sel:
            proxy = self._proxy(flow)
            for stream in streams:
                name = f"{tag}_{type_}_{stream}"
                proxy.add_toxic(type=type_, stream=stream, name=name, attributes=attrs)
                added.append((proxy, name))

        def heal() -> None:
            for proxy, name in added:
                with contextlib.suppress(Exception):
                    proxy.destroy_toxic(name)

        return heal

    def cut(self, sel: Selection, mode: str) -> Heal:
        if mode == "blackhole":
            return self._toxics(sel, "timeout", {"timeout": 0})
        if mode == "reset":
            return self._toxics(sel, "reset_peer", {"timeout": 0})
        proxies = [self._proxy(f) for f, streams in sel if "upstream" in streams] or \
            [self._proxy(f) for f, _ in sel]
        for p in proxies:
            p.disable()

        def heal() -> None:
            for p in proxies:
                with contextlib.suppress(Exception):
                    p.enable()

        return heal

    def latency(self, sel: Selection, ms: int, jitter: int) -> Heal:
        return self._toxics(sel, "latency", {"latency": int(ms), "jitter": int(jitter)})

    def bandwidth(self, sel: Selection, kbps: int) -> Heal:
        return self._toxics(sel, "bandwidth", {"rate": max(1, int(kbps) // 8)})  # Toxiproxy rate is KB/s

    def isolate(self, host: str) -> Heal:
        sel = [(f, STREAMS) for f in self.proxies if host in (f.dialer, f.target) and f.dialer != f.target]
        return self._toxics(sel, "timeout", {"timeout": 0})

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.reset()
        if self.helpers is not None:
            for h in self.helpers.values():
                h.sh("iptables-save -t nat | grep -v dmdw-steer | iptables-restore", check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

