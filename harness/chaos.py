"""Faults by DM8 link name and host faults, each a context manager that heals on exit (DESIGN.md §6).

Links (as dmmal.ini / dmwatcher.ini / dmmonitor.ini / dm_svc.conf define them):
    MAL      instance <-> instance   MAL_HOST:MAL_PORT of each DB host, dialled by the other
    DW       watcher  <-> watcher    MAL_HOST:MAL_DW_PORT of each DB host, dialled by the other
    MON      monitor  -> watcher     MAL_HOST:MAL_DW_PORT of each DB host, dialled by the monitor
    INST_DW  watcher  -> own instance MAL_HOST:MAL_INST_DW_PORT, on the same host
    CLIENT   client   -> instance    external IP:PORT_NUM
A link resolves to Flows (dialer, target, ip, port). A direction "a->b" drops packets from a to b: the
`upstream` stream of flows a dials to b and the `downstream` stream of flows b dials to a.

Network backends (one API, chosen per harness backend):
- BlockFileNet (local backend, emulator only): writes `<run root>/<host>/netblock` (the file named by the
  host's DMEMU_NET_BLOCK_FILE) so the emulator refuses those dials and drops such links within 200 ms.
- ToxiproxyNet: proxies per flow on a Toxiproxy server (the official one or harness.toxiproxy), traffic
  steered by DMEMU_DIAL_MAP (local) or by iptables DNAT in the dialer's namespace (docker, from a helper
  container), so dmmal.ini stays identical on every host.
- IptablesNet (docker, vagrant): per-port, per-direction iptables drops/rejects and tc (HTB rate, netem
  delay; without netem, an NFQUEUE served by harness/nfqdelay.py) in each host's namespace, from a helper
  container `--network container:<host> --cap-add NET_ADMIN` (docker) or as root on the VM (vagrant).
Host faults: kill -9, SIGSTOP/SIGCONT of dmserver/dmwatcher/dmmonitor through Host.signal.
Every fault is recorded as FaultRecord(name, link, start, end, params) on the history clock (monotonic).
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sql import connects_paused

LINKS = ("MAL", "DW", "MON", "INST_DW", "CLIENT")
MODES = ("blackhole", "reset", "refuse")
PROCESSES = ("dmserver", "dmwatcher", "dmmonitor")
STREAMS = ("upstream", "downstream")

Heal = Callable[[], None]


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


@dataclass(frozen=True)
class Flow:
    """One TCP flow of a link: `dialer` connects to `target` at ip:port ("client" = the test process)."""

    link: str
    dialer: str
    target: str
    ip: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.link}_{self.dialer}_{self.target}"


Selection = list[tuple[Flow, tuple[str, ...]]]


def resolve_flows(topology: Any, link: str, between: tuple[str, ...] | None = None) -> list[Flow]:
    """The flows of `link` in `topology`, optionally only those between the named hosts."""
    if link not in LINKS:
        raise HarnessError(f"unknown link {link!r}; use one of {', '.join(LINKS)}")
    db = [h for h in topology.hosts.values() if h.instance]
    mons = [h for h in topology.hosts.values() if not h.instance]
    flows: list[Flow] = []
    if link in ("MAL", "DW"):
        for a in db:
            for b in db:
                if a.name != b.name:
                    port = b.mal_port if link == "MAL" else b.mal_dw_port
                    flows.append(Flow(link, a.name, b.name, b.internal_ip, port))
    elif link == "MON":
        flows = [Flow(link, m.name, b.name, b.internal_ip, b.mal_dw_port) for m in mons for b in db]
    elif link == "INST_DW":
        flows = [Flow(link, b.name, b.name, b.internal_ip, b.mal_inst_dw_port) for b in db]
    else:
        flows = [Flow(link, "client", b.name, b.external_ip or b.internal_ip, b.port_num) for b in db]
    if between:
        names = set(between)
        unknown = names - set(topology.hosts) - {"client"}
        if unknown:
            raise HarnessError(f"unknown host {sorted(unknown)[0]!r}; hosts are {', '.join(topology.hosts)}")
        flows = [f for f in flows if f.target in names and (f.dialer in names or f.dialer == "client"
                                                            or f.dialer == f.target)]
    if not flows:
        raise HarnessError(f"link {link} has no flow between {between}; check the host names")
    return flows


def select_streams(flows: list[Flow], direction: str | None) -> Selection:
    """Pair each flow with the streams a direction "a->b" drops (both streams when direction is None)."""
    if direction is None:
        return [(f, STREAMS) for f in flows]
    src, sep, dst = (x.strip() for x in direction.partition("->"))
    if not sep or not src or not dst:
        raise HarnessError(f"direction {direction!r} must read 'host1->host2'")
    out: Selection = []
    for f in flows:
        if (f.dialer, f.target) == (src, dst):
            out.append((f, ("upstream",)))
        elif (f.dialer, f.target) == (dst, src):
            out.append((f, ("downstream",)))
    if not out:
        raise HarnessError(f"no {flows[0].link} flow goes {direction}; check the host names")
    return out


# ---- network backends ------------------------------------------------------------------------------

class NetBackend:
    """A way to apply link faults; each method applies at once and returns the function that heals it."""

    name = "none"

    def prepare(self) -> None:
        """Install steering before the group starts (proxies); default: nothing to do."""

    def cut(self, sel: Selection, mode: str) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot cut links")

    def latency(self, sel: Selection, ms: int, jitter: int) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot add latency; use the toxiproxy or "
                           "iptables network backend")

    def bandwidth(self, sel: Selection, kbps: int) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot limit bandwidth; use the toxiproxy or "
                           "iptables network backend")

    def isolate(self, host: str) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot isolate a host")

    def close(self) -> None:
        """Remove everything this backend installed (rules, proxies, helper containers)."""


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


class NetnsHelper:
    """A helper container sharing a docker host's network namespace, with NET_ADMIN, for iptables/tc.

    It carries the backend's labels so the docker backend's down() removes it whatever happens."""

    def __init__(self, container: str, image: str, labels: dict[str, str], docker: str = "docker") -> None:
        self.container = container
        self.name = f"{container}-nethelper"
        self.docker = docker
        running = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", self.name],
                                 capture_output=True, text=True, timeout=60)
        if running.returncode == 0 and running.stdout.strip() == "true":
            return  # a helper left by an earlier Chaos of this run: reuse it
        subprocess.run([docker, "rm", "-f", self.name], capture_output=True, timeout=60)
        args = [docker, "run", "-d", "--rm", "--name", self.name, "--network", f"container:{container}",
                "--cap-add", "NET_ADMIN", "--init", "--entrypoint", "sleep"]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        res = subprocess.run([*args, image, "infinity"], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise HarnessError(f"cannot start the network helper for {container}: {res.stderr.strip()}")

    def sh(self, cmd: str, check: bool = True) -> str:
        res = subprocess.run([self.docker, "exec", self.name, "sh", "-c", cmd], capture_output=True,
                             text=True, timeout=60)
        if check and res.returncode != 0:
            raise HarnessError(f"{self.container}: `{cmd}` failed: {res.stderr.strip() or res.stdout.strip()}")
        return res.stdout

    def close(self) -> None:
        subprocess.run([self.docker, "rm", "-f", self.name], capture_output=True, timeout=60)


class HostShell:
    """The NetnsHelper interface over Host.run as root, for hosts that are real machines (vagrant VMs)."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def sh(self, cmd: str, check: bool = True) -> str:
        res = self.host.run(cmd, user="root", check=False)
        if check and res.rc != 0:
            raise HarnessError(f"{self.host.name}: `{cmd}` failed: {(res.stderr or res.stdout).strip()}")
        return res.stdout

    def close(self) -> None:
        """Nothing to remove: the VM is the host."""


@dataclass(frozen=True)
class Egress:
    """Where one stream of a flow leaves its sender: that host, the packets' destination (None: any) and
    the flow's port (the target's: destination port upstream, source port downstream)."""

    host: str
    dst: str | None
    port: int
    upstream: bool

    def u32(self) -> str:
        """tc u32 match for these packets."""
        dst = f"match ip dst {self.dst}/32 " if self.dst else ""
        return dst + f"match ip {'dport' if self.upstream else 'sport'} {self.port} 0xffff"

    def iptables(self) -> str:
        """iptables match for these packets."""
        dst = f" -d {self.dst}" if self.dst else ""
        return f"-p tcp{dst} --{'dport' if self.upstream else 'sport'} {self.port}"


class NfqDelayer:
    """harness/nfqdelay.py on one NFQUEUE in a host's network namespace, run through its helper.

    install() copies the script in once per helper; the constructor starts it in the background and
    waits until it has bound the queue; stop() sends SIGTERM (it accepts every packet it still holds)."""

    SCRIPT = "/tmp/dmdw-nfqdelay.py"

    @classmethod
    def install(cls, helper: NetnsHelper) -> None:
        src = base64.b64encode((Path(__file__).resolve().parent / "nfqdelay.py").read_bytes()).decode()
        helper.sh(f"echo {src} | base64 -d > {cls.SCRIPT}")

    def __init__(self, helper: NetnsHelper, queue: int, ms: int, jitter: int) -> None:
        self.helper = helper
        self.log = f"/tmp/dmdw-nfqdelay-{queue}.log"
        self.pid = int(helper.sh(f"python3 {self.SCRIPT} --queue {queue} --delay-ms {int(ms)} --jitter-ms "
                                 f"{int(jitter)} >{self.log} 2>&1 </dev/null & echo $!"))
        state = helper.sh(self._until("ready", 100, 0.05) + f"; cat {self.log}", check=False)
        if not state.startswith("ready"):
            self.stop()
            raise HarnessError(f"this kernel has no tc netem and the packet delayer on NFQUEUE {queue} did not "
                               f"start ({state.strip() or 'no output within 5 s'}); use Chaos(..., proxy=True) "
                               "for latency faults")

    def _until(self, word: str, tries: int, pause: float) -> str:
        """Shell loop: wait until the log has a line starting with `word` or the process is gone (a zombie
        counts as gone: the helper's init does not reap)."""
        return (f"for i in $(seq {tries}); do grep -q ^{word} {self.log} && break; "
                f"grep -qs '^State:[[:space:]]*[^ZX]' /proc/{self.pid}/status || break; sleep {pause}; done")

    def stop(self) -> None:
        self.helper.sh(f"kill -TERM {self.pid} 2>/dev/null; {self._until('stopped', 50, 0.1)}; "
                       f"grep -q ^stopped {self.log} || kill -KILL {self.pid} 2>/dev/null; rm -f {self.log}",
                       check=False)


def _helpers_for(backend: Any, hosts: dict[str, Any]) -> dict[str, NetnsHelper]:
    image = getattr(backend, "helper_image", None) or getattr(backend, "image", None)
    if not image:
        raise HarnessError("the docker backend has no image for the network helper (dmdw/base)")
    labels = dict(getattr(backend, "labels", {}) or {})
    return {name: NetnsHelper(h.container, image, labels) for name, h in hosts.items()}


class IptablesNet(NetBackend):
    """Docker: iptables (filter chains DMDW_IN/DMDW_OUT) and tc in each host's namespace.

    Rules for a flow live in its target's namespace: packets dialer->target are matched in DMDW_IN by
    destination port, target->dialer in DMDW_OUT by source port. Modes: blackhole = DROP, reset = REJECT
    with tcp-reset, refuse = REJECT with tcp-reset of new connections (SYN) plus DROP of the rest.
    Rate limits use an HTB class on the sender's egress device, filtered by address and port; latency
    adds a netem leaf to it, or, when the kernel has no netem, sends those packets from the mangle chain
    DMDW_DELAY (OUTPUT) to an NFQUEUE served by harness/nfqdelay.py (--queue-bypass: if the delayer dies,
    traffic passes). Both act on established connections."""

    name = "iptables"

    def __init__(self, helpers: dict[str, NetnsHelper], topology: Any) -> None:
        self.helpers = helpers
        self.topology = topology
        self._n = 0
        self._lock = threading.Lock()
        self._nfq_ready: set[str] = set()
        self._tc_ready: set[tuple[str, str]] = set()
        self._netem: dict[str, bool] = {}
        self._delayers: list[NfqDelayer] = []
        self._queue0 = random.randrange(16, 61000)  # queues unlike those of a delayer a killed run left
        for h in helpers.values():
            self._chains(h)

    def _chains(self, h: NetnsHelper) -> None:
        h.sh("iptables -N DMDW_IN 2>/dev/null; iptables -N DMDW_OUT 2>/dev/null; "
             "iptables -C INPUT -j DMDW_IN 2>/dev/null || iptables -I INPUT 1 -j DMDW_IN; "
             "iptables -C OUTPUT -j DMDW_OUT 2>/dev/null || iptables -I OUTPUT 1 -j DMDW_OUT")

    def _next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def _tag(self) -> str:
        return f"dmdw-chaos-{self._next()}"

    def _peer_ip(self, flow: Flow) -> str | None:
        if flow.dialer in ("client",) or flow.dialer == flow.target:
            return None
        d = self.topology.hosts[flow.dialer]
        return d.external_ip if flow.link == "CLIENT" else d.internal_ip

    def _egress(self, flow: Flow, stream: str) -> Egress:
        """Upstream leaves the dialer towards the target's port; downstream leaves the target from its
        port back to the dialer."""
        if stream == "upstream":
            egress = Egress(flow.dialer, flow.ip, flow.port, True)
        else:
            egress = Egress(flow.target, self._peer_ip(flow), flow.port, False)
        if egress.host == "client":
            raise HarnessError("latency/bandwidth towards the client side of CLIENT must be shaped "
                               "on the DB host: use direction '<host>->client'")
        return egress

    def rules(self, sel: Selection, mode: str, tag: str) -> list[tuple[str, str]]:
        """(host, iptables rule body) pairs for a cut; pure, so it can be tested without Docker."""
        out = []
        for flow, streams in sel:
            peer = self._peer_ip(flow)
            for stream in streams:
                if stream == "upstream":
                    chain, match = "DMDW_IN", f"-p tcp --dport {flow.port}" + (f" -s {peer}" if peer else "")
                else:
                    chain, match = "DMDW_OUT", f"-p tcp --sport {flow.port}" + (f" -d {peer}" if peer else "")
                cm = f"-m comment --comment {tag}"
                rej = "--tcp-flags RST NONE"  # never reject the RSTs REJECT itself sends
                if mode == "blackhole":
                    out.append((flow.target, f"{chain} {match} {cm} -j DROP"))
                elif mode == "reset":
                    out.append((flow.target, f"{chain} {match} {rej} {cm} -j REJECT --reject-with tcp-reset"))
                else:
                    out.append((flow.target, f"{chain} {match} --syn {cm} -j REJECT --reject-with tcp-reset"))  # noqa: E501
                    out.append((flow.target, f"{chain} {match} {cm} -j DROP"))
        return out

    def _apply_rules(self, rules: list[tuple[str, str]]) -> Heal:
        for host, rule in rules:
            self.helpers[host].sh(f"iptables -A {rule}")

        def heal() -> None:
            for host, rule in rules:
                self.helpers[host].sh(f"iptables -D {rule}", check=False)

        return heal

    def cut(self, sel: Selection, mode: str) -> Heal:
        return self._apply_rules(self.rules(sel, mode, self._tag()))

    def isolate(self, host: str) -> Heal:
        tag = self._tag()
        return self._apply_rules([(host, f"DMDW_IN ! -i lo -m comment --comment {tag} -j DROP"),
                                  (host, f"DMDW_OUT ! -o lo -m comment --comment {tag} -j DROP")])

    def _shape(self, sel: Selection, rate_kbit: int | None, netem: str | None) -> Heal:
        """An HTB class per fault on the egress device (rate limit), with a netem leaf for delay;
        u32 filters by address and port steer the flow's packets into it."""
        band = 16 + (self._next() % 4000)
        applied: list[tuple[str, str]] = []
        try:
            for flow, streams in sel:
                for stream in streams:
                    egress = self._egress(flow, stream)
                    host, match = egress.host, egress.u32()
                    h = self.helpers[host]
                    dev = h.sh(f"ip -o route get {egress.dst or flow.ip} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'"
                               ).strip() or "eth0"
                    if (host, dev) not in self._tc_ready:
                        h.sh(f"tc qdisc del dev {dev} root 2>/dev/null; tc qdisc add dev {dev} root handle 1: "
                             f"htb default 1 r2q 100000 && tc class add dev {dev} parent 1: classid 1:1 htb rate 10gbit")
                        self._tc_ready.add((host, dev))
                    if (host, dev) in applied:  # both streams shaped on one device: one class
                        h.sh(f"tc filter add dev {dev} parent 1: protocol ip prio {band} u32 {match} "
                             f"flowid 1:{band:x}")
                        continue
                    rate = f"{int(rate_kbit)}kbit" if rate_kbit else "10gbit"
                    h.sh(f"tc class add dev {dev} parent 1: classid 1:{band:x} htb rate {rate} ceil {rate}")
                    applied.append((host, dev))
                    if netem:
                        h.sh(f"tc qdisc add dev {dev} parent 1:{band:x} handle {band:x}: netem {netem}")
                    h.sh(f"tc filter add dev {dev} parent 1: protocol ip prio {band} u32 {match} flowid 1:{band:x}")
        except Exception:
            self._unshape(applied, band)
            raise
        return lambda: self._unshape(applied, band)

    def _unshape(self, applied: list[tuple[str, str]], band: int) -> None:
        for host, dev in applied:
            h = self.helpers[host]
            h.sh(f"tc filter del dev {dev} parent 1: prio {band}", check=False)
            h.sh(f"tc class del dev {dev} classid 1:{band:x}", check=False)

    def _has_netem(self, host: str) -> bool:
        """Whether the host's kernel has sch_netem (probed once: a netem root on lo, removed at once)."""
        if host not in self._netem:
            out = self.helpers[host].sh("tc qdisc add dev lo root netem delay 1ms 2>&1 && tc qdisc del dev lo "
                                        "root 2>&1", check=False)
            self._netem[host] = not any(w in out for w in ("kind is unknown", "No such file"))
        return self._netem[host]

    def _nfq_helper(self, host: str) -> NetnsHelper:
        """The host's helper, with the delayer script copied in and the mangle chain DMDW_DELAY hooked
        into OUTPUT (once per host)."""
        h = self.helpers[host]
        if host not in self._nfq_ready:
            NfqDelayer.install(h)
            h.sh("iptables -t mangle -N DMDW_DELAY 2>/dev/null; iptables -t mangle -C OUTPUT -j DMDW_DELAY "
                 "2>/dev/null || iptables -t mangle -I OUTPUT 1 -j DMDW_DELAY")
            self._nfq_ready.add(host)
        return h

    def _delay(self, sel: Selection, ms: int, jitter: int) -> Heal:
        """Latency without netem: each selected stream's packets go, at its sender's OUTPUT, to an NFQUEUE
        (one number per fault) whose delayer accepts each packet ms ± jitter later."""
        n = self._next()
        queue, tag = self._queue0 + n % 4000, f"dmdw-chaos-{n}"
        rules: dict[str, list[str]] = {}
        for flow, streams in sel:
            for stream in streams:
                egress = self._egress(flow, stream)
                rules.setdefault(egress.host, []).append(
                    f"DMDW_DELAY {egress.iptables()} -m comment --comment {tag} "
                    f"-j NFQUEUE --queue-num {queue} --queue-bypass")
        delayers: list[NfqDelayer] = []
        applied: list[tuple[str, str]] = []

        def heal() -> None:
            for host, rule in applied:
                self.helpers[host].sh(f"iptables -t mangle -D {rule}", check=False)
            for d in delayers:
                d.stop()
                with contextlib.suppress(ValueError):
                    self._delayers.remove(d)

        try:
            for host, host_rules in rules.items():
                h = self._nfq_helper(host)
                delayers.append(NfqDelayer(h, queue, ms, jitter))
                self._delayers.append(delayers[-1])
                for rule in host_rules:
                    h.sh(f"iptables -t mangle -A {rule}")
                    applied.append((host, rule))
        except Exception:
            heal()
            raise
        return heal

    def latency(self, sel: Selection, ms: int, jitter: int) -> Heal:
        if all(self._has_netem(self._egress(f, s).host) for f, streams in sel for s in streams):
            return self._shape(sel, None, f"delay {int(ms)}ms" + (f" {int(jitter)}ms" if jitter else ""))
        return self._delay(sel, ms, jitter)

    def bandwidth(self, sel: Selection, kbps: int) -> Heal:
        return self._shape(sel, int(kbps), None)

    def close(self) -> None:
        for host, h in self.helpers.items():
            h.sh("iptables -F DMDW_IN 2>/dev/null; iptables -F DMDW_OUT 2>/dev/null", check=False)
            if host in self._nfq_ready:
                h.sh("iptables -t mangle -F DMDW_DELAY", check=False)
            for hh, dev in list(self._tc_ready):
                if hh == host:
                    h.sh(f"tc qdisc del dev {dev} root", check=False)
        for d in self._delayers:
            d.stop()
        self._delayers.clear()
        self._tc_ready.clear()


class ToxiproxyNet(NetBackend):
    """Link faults on a Toxiproxy server (official or harness.toxiproxy) driven by toxiproxy-python.

    prepare() creates one proxy per flow and steers the dialer's traffic into it: on the local backend by
    adding DMEMU_DIAL_MAP to the host's env (emulator-only); on docker by iptables DNAT in the dialer's
    namespace (nat OUTPUT, from its NetnsHelper). It must run before the DM processes start, so every link
    goes through its proxy. Modes: blackhole = timeout toxic 0, reset = reset_peer toxic, refuse = the
    proxy disabled. toxiproxy-python keeps one API address per process (class-level), so one server."""

    name = "toxiproxy"

    def __init__(self, api: tuple[str, int], topology: Any, hosts: dict[str, Any], *,
                 listen_host: str = "127.0.0.1", ports: Iterator[int] | None = None,
                 helpers: dict[str, NetnsHelper] | None = None, links: tuple[str, ...] = LINKS,
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


class ToxiproxyProcess:
    """A Toxiproxy server as its own process on loopback: the official binary when given, else ours."""

    def __init__(self, binary: str | None = None, log_path: Path | None = None) -> None:
        self.port = _free_port()
        cmd = [binary] if binary else [sys.executable, "-m", "harness.toxiproxy"]
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen([*cmd, "-host", "127.0.0.1", "-port", str(self.port)],
                                     stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"toxiproxy-server exited with status {self.proc.returncode}; see {log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        self.close()
        raise HarnessError("toxiproxy-server did not answer on 127.0.0.1 within 15 s")

    @property
    def api(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


class ToxiproxyContainer:
    """A Toxiproxy server in its own container on the group's internal network, API published on loopback.

    `image` is the official image (ghcr.io/shopify/toxiproxy) when the user names one; otherwise the
    helper image runs harness/toxiproxy/server.py (stdlib only) copied in, with the same flags."""

    API = 8474

    def __init__(self, network: str, helper_image: str, labels: dict[str, str], name: str,
                 image: str | None = None, docker: str = "docker") -> None:
        self.docker, self.name = docker, name
        lab = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
        flags = ["-host=0.0.0.0", f"-port={self.API}"]
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
        if image:
            args = [docker, "create", "--name", name, *lab, "--network", network,
                    "-p", f"127.0.0.1::{self.API}", image, *flags]
        else:
            args = [docker, "create", "--name", name, *lab, "--network", network,
                    "-p", f"127.0.0.1::{self.API}", "--entrypoint", "python3", helper_image,
                    "/opt/toxiproxy_server.py", *flags]
        self._run(args)
        if not image:
            src = Path(__file__).resolve().parent / "toxiproxy" / "server.py"
            self._run([docker, "cp", str(src), f"{name}:/opt/toxiproxy_server.py"])
        self._run([docker, "start", name])
        mapped = self._run([docker, "port", name, f"{self.API}/tcp"]).splitlines()[0]
        self.port = int(mapped.rsplit(":", 1)[1])
        self.ip = self._run([docker, "inspect", "-f",
                             f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', name]).strip()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as c:
                c.sendall(b"GET /version HTTP/1.0\r\n\r\n")
                if c.recv(100).startswith(b"HTTP/1."):
                    return
            time.sleep(0.1)
        self.close()
        raise HarnessError(f"the toxiproxy container {name} did not answer within 20 s")

    def _run(self, args: list[str]) -> str:
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise HarnessError(f"`{' '.join(args[:3])} ...` failed: {res.stderr.strip()}")
        return res.stdout

    @property
    def api(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        subprocess.run([self.docker, "rm", "-f", self.name], capture_output=True, timeout=60)


# ---- the API suites use ----------------------------------------------------------------------------

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

    Chaos(backend, hosts, topology, run_dir[, net=..., isolator=...]): by default the local backend uses
    BlockFileNet for cuts and isolation (ToxiproxyNet when `proxy=True`, for latency and bandwidth); the
    docker backend uses IptablesNet, or ToxiproxyNet (server in its own container, DNAT steering) for the
    links between hosts when `proxy=True`; the vagrant backend uses IptablesNet as root on the VMs.
    With `proxy=True`, prepare() must run before the group's processes start. close() removes it all.
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
        kind = getattr(backend, "name", "local")
        if net is None or isolator is None:
            auto_net, auto_iso = self._default_nets(kind, proxy, toxiproxy_bin, toxiproxy_image)
            net = net or auto_net
            isolator = isolator or auto_iso
        self.net = net
        self.isolator = isolator

    def _default_nets(self, kind: str, proxy: bool, binary: str | None,
                      image: str | None) -> tuple[NetBackend, NetBackend]:
        if kind == "docker":
            helpers = _helpers_for(self.backend, self.hosts)
            self._owned += list(helpers.values())
            ipt = IptablesNet(helpers, self.topology)
            self._owned.insert(0, ipt)
            if not proxy:
                return ipt, ipt
            network = self.backend.networks["internal"].name
            helper_image = getattr(self.backend, "helper_image", None) or self.backend.image
            server = ToxiproxyContainer(network, helper_image, dict(getattr(self.backend, "labels", {})),
                                        f"dmdw-{getattr(self.backend, 'run_id', 'run')}-toxiproxy", image=image)
            self._owned.append(server)
            toxi = ToxiproxyNet(server.api, self.topology, self.hosts, listen_host="0.0.0.0",
                                ports=iter(range(21000, 22000)), helpers=helpers, dnat_ip=server.ip,
                                links=("MAL", "DW", "MON", "INST_DW"))
            self._owned.insert(0, toxi)
            return toxi, ipt
        if kind == "vagrant":
            ipt = IptablesNet({n: HostShell(h) for n, h in self.hosts.items()}, self.topology)  # type: ignore[misc]
            self._owned.insert(0, ipt)
            return ipt, ipt
        if kind != "local":
            raise HarnessError(f"chaos has no network backend for the {kind!r} backend; "
                               "pass Chaos(..., net=..., isolator=...)")
        blocks = BlockFileNet(self.hosts, self.topology)
        self._owned.insert(0, blocks)
        if proxy:
            server = ToxiproxyProcess(binary, self.run_dir / "toxiproxy.log" if self.run_dir else None)
            self._owned.append(server)
            toxi = ToxiproxyNet(server.api, self.topology, self.hosts, links=("MAL", "DW", "MON", "INST_DW"))
            self._owned.insert(0, toxi)
            return toxi, blocks
        return blocks, blocks

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


def describe(flows: list[Flow]) -> str:
    """One line per flow, for logs and error messages."""
    return "\n".join(f"{f.link}: {f.dialer} -> {f.target} {f.ip}:{f.port}" for f in flows)
