"""The API suites use: Chaos (faults by DM8 link name and host faults) and Fault, a context manager
that applies on enter and heals on exit, recorded as FaultRecord on the history clock (monotonic).

Chaos asks the backend what it offers (Backend.net_mechanism(), net_shell(), proxy_site()) and builds
the mechanisms from that; it never asks which backend it runs on."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.chaos.blockfile import BlockFileNet
from harness.chaos.flows import Selection, resolve_flows, select_streams
from harness.chaos.hostfiles import WHERE as DISK_WHERE
from harness.chaos.hostfiles import HostFaultFiles
from harness.chaos.iptables import IptablesNet
from harness.chaos.mechanism import Heal, NetBackend
from harness.chaos.toxiproxy import ToxiproxyNet
from harness.errors import HarnessError
from harness.sql import connects_paused

MODES = ("blackhole", "reset", "refuse")
PROCESSES = ("dmserver", "dmwatcher", "dmmonitor")
PROXIED = ("MAL", "DW", "MON", "INST_DW")  # CLIENT flows start in the test process: no proxy steers them


@dataclass
class FaultRecord:
    """One fault's span on the monotonic clock (end None while active) and its parameters."""

    name: str
    link: str | None
    start: float
    end: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    wall_start: float = 0.0
    wall_end: float | None = None



class Fault:
    """A fault that applies on enter (or start()) and heals on exit (or heal()), recording its span."""

    def __init__(self, chaos: Chaos, name: str, link: str | None, params: dict[str, Any],
                 apply: Callable[[], Heal]) -> None:
        self.chaos = chaos
        self.record = FaultRecord(name, link, 0.0, params=params)
        self._apply = apply
        self._heal: Heal | None = None

    def start(self) -> Fault:
        if self._heal is not None:
            return self
        with connects_paused():
            self._heal = self._apply()
        self.record.start, self.record.wall_start = time.monotonic(), time.time()
        self.chaos._started(self)
        return self

    def heal(self) -> None:
        heal, self._heal = self._heal, None
        if heal is None:
            return
        try:
            with connects_paused():
                heal()
        finally:
            self.record.end, self.record.wall_end = time.monotonic(), time.time()
            self.chaos._ended(self)

    @property
    def active(self) -> bool:
        return self._heal is not None

    def __enter__(self) -> FaultRecord:
        self.start()
        return self.record

    def __exit__(self, *exc: object) -> None:
        self.heal()


class Chaos:
    """Faults by DM8 link name and host faults; `log` keeps every FaultRecord for the report's timeline.

    Chaos(backend, hosts, topology, run_dir[, net=..., isolator=...]): by default the mechanism the backend
    names (Backend.net_mechanism()) applies cuts, isolation, latency and bandwidth: IptablesNet through a
    NetShell per host (Backend.net_shell()) or BlockFileNet (emulator only). With `proxy=True` the links
    between hosts go through a Toxiproxy server the backend places (Backend.proxy_site()) and the
    mechanism keeps isolation and CLIENT; prepare() must then run before the group's processes start.
    close() removes it all.
    """

    def __init__(self, backend: Any, hosts: dict[str, Any], topology: Any, run_dir: str | Path | None,
                 *, net: NetBackend | None = None, isolator: NetBackend | None = None,
                 proxy: bool = False, toxiproxy_bin: str | None = None,
                 toxiproxy_image: str | None = None) -> None:
        self.backend = backend
        self.hosts = hosts
        self.topology = topology
        self.run_dir = Path(run_dir) if run_dir else None
        self.log: list[FaultRecord] = []
        self._active: list[Fault] = []
        self._lock = threading.Lock()
        self._owned: list[Any] = []
        self._prepared = False
        if net is None or isolator is None:
            auto_net, auto_iso = self._default_nets(proxy, toxiproxy_bin, toxiproxy_image)
            net = net or auto_net
            isolator = isolator or auto_iso
        self.net = net
        self.isolator = isolator
        target = getattr(getattr(backend, "options", None), "target", "emulator")
        self.files = HostFaultFiles(hosts, topology, target)
        self._owned.append(self.files)

    def _default_nets(self, proxy: bool, binary: str | None, image: str | None) -> tuple[NetBackend, NetBackend]:
        """(mechanism for links, mechanism for isolation and CLIENT) from what the backend offers."""
        mechanism = self.backend.net_mechanism() if hasattr(self.backend, "net_mechanism") else ""
        shells: dict[str, Any] = {}
        if mechanism == "iptables":
            for name, host in self.hosts.items():
                shells[name] = self.backend.net_shell(host)
                self._owned.append(shells[name])
            base: NetBackend = IptablesNet(shells, self.topology)
        elif mechanism == "blockfile":
            base = BlockFileNet(self.hosts, self.topology)
        else:
            raise HarnessError(f"chaos has no network backend for the {getattr(self.backend, 'name', '?')!r} "
                               "backend (it names no net_mechanism()); pass Chaos(..., net=..., isolator=...)")
        self._owned.insert(0, base)
        if not proxy:
            return base, base
        log = None
        if self.run_dir:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            log = str(self.run_dir / "toxiproxy.log")
        site = self.backend.proxy_site(binary=binary, image=image, log_path=log)
        self._owned.append(site)
        toxi = ToxiproxyNet(site.api, self.topology, self.hosts, listen_host=site.listen_host, ports=site.ports,
                            helpers=shells if site.steer == "dnat" else None, dnat_ip=site.dnat_ip, links=PROXIED)
        self._owned.insert(0, toxi)
        return toxi, base

    def prepare(self) -> None:
        """Install steering (proxies) before the group's processes start; idempotent."""
        if not self._prepared:
            self.net.prepare()
            self._prepared = True

    # ---- link faults ---------------------------------------------------------------------------
    def _net_for(self, link: str) -> NetBackend:
        """The backend for a link: CLIENT flows start in the test process, so a proxy cannot steer them."""
        if link == "CLIENT" and isinstance(self.net, ToxiproxyNet):
            return self.isolator
        return self.net

    def _sel(self, link: str, direction: str | None, between: tuple[str, ...] | None) -> Selection:
        return select_streams(resolve_flows(self.topology, link, between), direction)

    def cut(self, link: str, direction: str | None = None, mode: str = "blackhole",
            between: tuple[str, ...] | None = None) -> Fault:
        """Cut a link both ways (or one way "a->b") as a black hole, a reset or a refusal."""
        if mode not in MODES:
            raise HarnessError(f"cut mode {mode!r} is not one of {', '.join(MODES)}")
        sel = self._sel(link, direction, between)
        return Fault(self, f"cut {link}" + (f" {direction}" if direction else ""), link,
                     {"direction": direction, "mode": mode, "between": between},
                     lambda: self._net_for(link).cut(sel, mode))

    def latency(self, link: str, ms: int, jitter: int = 0, direction: str | None = None,
                between: tuple[str, ...] | None = None) -> Fault:
        """Delay a link's packets by ms ± jitter."""
        sel = self._sel(link, direction, between)
        return Fault(self, f"latency {link} {ms}ms", link, {"ms": ms, "jitter": jitter, "direction": direction},
                     lambda: self._net_for(link).latency(sel, ms, jitter))

    def bandwidth(self, link: str, kbps: int, direction: str | None = None,
                  between: tuple[str, ...] | None = None) -> Fault:
        """Limit a link to kbps kilobits per second."""
        sel = self._sel(link, direction, between)
        return Fault(self, f"bandwidth {link} {kbps}kbps", link, {"kbps": kbps, "direction": direction},
                     lambda: self._net_for(link).bandwidth(sel, kbps))

    def packets(self, link: str, *, loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                direction: str | None = None, between: tuple[str, ...] | None = None) -> Fault:
        """Lose, duplicate and/or reorder a share (percent) of a link's packets."""
        for what, pct in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder)):
            if not 0 <= pct <= 100:
                raise HarnessError(f"packets {what}={pct} is not a percentage between 0 and 100")
        sel = self._sel(link, direction, between)
        name = " ".join(f"{w} {p:g}%" for w, p in (("loss", loss), ("dup", duplicate), ("reorder", reorder)) if p)
        return Fault(self, f"packets {link} {name or 'none'}", link,
                     {"loss": loss, "duplicate": duplicate, "reorder": reorder, "direction": direction},
                     lambda: self._net_for(link).packets(sel, loss, duplicate, reorder))

    def heal(self, link: str | None = None) -> None:
        """Heal every active fault (of one link when given)."""
        for fault in list(reversed(self._active)):
            if link is None or fault.record.link == link:
                fault.heal()

    # ---- host faults ---------------------------------------------------------------------------
    def _host(self, host: str) -> Any:
        if host not in self.hosts:
            raise HarnessError(f"unknown host {host!r}; hosts are {', '.join(self.hosts)}")
        return self.hosts[host]

    def isolate(self, host: str) -> Fault:
        """Cut a host off every network (the seed's "stop the network service")."""
        self._host(host)
        return Fault(self, f"isolate {host}", None, {"host": host}, lambda: self.isolator.isolate(host))

    def pause(self, host: str, process: str) -> Fault:
        """SIGSTOP a DM process on a host; SIGCONT on exit."""
        h = self._host(host)
        if process not in PROCESSES:
            raise HarnessError(f"process {process!r} is not one of {', '.join(PROCESSES)}")

        def apply() -> Heal:
            h.signal(process, signal.SIGSTOP)
            return lambda: h.signal(process, signal.SIGCONT)

        return Fault(self, f"pause {process}@{host}", None, {"host": host, "process": process}, apply)

    def kill(self, host: str, process: str) -> FaultRecord:
        """kill -9 a DM process on a host (restarting it is the suite's business)."""
        h = self._host(host)
        if process not in PROCESSES:
            raise HarnessError(f"process {process!r} is not one of {', '.join(PROCESSES)}")
        fault = Fault(self, f"kill -9 {process}@{host}", None, {"host": host, "process": process},
                      lambda: (h.signal(process, signal.SIGKILL), lambda: None)[1])
        fault.start()
        fault.heal()
        return fault.record

    def disk_full(self, host: str, where: str = "archive") -> Fault:
        """No space left in the host's archive directory (ARCH_DEST) or data directory (DM8 hangs its
        commits while its local archive cannot be written: ARCH_HANG_FLAG=1)."""
        self._host(host)
        if where not in DISK_WHERE:
            raise HarnessError(f"disk_full where={where!r} is not one of {', '.join(DISK_WHERE)}")
        return Fault(self, f"disk full {where}@{host}", None, {"host": host, "where": where},
                     lambda: self.files.disk_full(host, where))

    def slow_disk(self, host: str, ms: int) -> Fault:
        """Every redo/archive fsync on the host takes `ms` longer (emulator hook; see chaos/hostfiles.py)."""
        self._host(host)
        return Fault(self, f"slow disk {ms}ms@{host}", None, {"host": host, "ms": ms},
                     lambda: self.files.slow_disk(host, ms))

    def clock_skew(self, host: str, seconds: float) -> Fault:
        """The host's clock jumps by `seconds` (either sign) and stays skewed until healed."""
        self._host(host)
        return Fault(self, f"clock {seconds:+g}s@{host}", None, {"host": host, "seconds": seconds},
                     lambda: self.files.clock_skew(host, seconds))

    def unsupported(self, kind: str) -> str:
        """Why a host fault (disk_full, slow_disk, clock_skew), `packets`, `packet_duplication` or `latency`
        (on the MON link) cannot run here; "" when it can."""
        if kind == "latency":
            if isinstance(self._net_for("MON"), BlockFileNet):
                return "latency needs the toxiproxy or iptables network backend (docker, vagrant)"
            return ""
        if kind in ("packets", "packet_duplication"):
            net = self._net_for("MAL")
            if not isinstance(net, IptablesNet):
                return "packet loss, duplication and reordering need the iptables network backend (docker, vagrant)"
            if kind == "packet_duplication" and not all(net._has_netem(h) for h in self.hosts if h in net.helpers):
                return "packet duplication needs tc netem, which this kernel does not have"
            return ""
        return self.files.unsupported(kind)

    # ---- bookkeeping ---------------------------------------------------------------------------
    def _started(self, fault: Fault) -> None:
        with self._lock:
            self._active.append(fault)
            self.log.append(fault.record)
        self._dump()

    def _ended(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._active:
                self._active.remove(fault)
        self._dump()

    def _dump(self) -> None:
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "faults.jsonl", "w", encoding="utf-8") as f:
            for rec in list(self.log):
                f.write(json.dumps(asdict(rec), default=str) + "\n")

    def heal_all(self) -> None:
        """Heal every active fault, newest first, whatever happens to any one of them."""
        errors = []
        for fault in list(reversed(self._active)):
            try:
                fault.heal()
            except Exception as e:  # noqa: BLE001 - teardown must try every heal
                errors.append(f"{fault.record.name}: {e}")
        if errors:
            raise HarnessError("could not heal: " + "; ".join(errors))

    def close(self) -> None:
        """heal_all() and remove everything chaos installed (rules, proxies, helpers, server)."""
        try:
            self.heal_all()
        finally:
            for thing in self._owned:
                with contextlib.suppress(Exception):
                    thing.close()
            self._owned.clear()

