"""Link faults by iptables and tc in each host's network namespace, through the backend's net_shell():
per-port, per-direction drops and rejects; HTB rate limits; delay by netem or, where the kernel has no
netem, by an NFQUEUE served by the host-side delayer (harness/hostside/nfqdelay.py)."""

from __future__ import annotations

import base64
import contextlib
import random
import threading
from dataclasses import dataclass
from typing import Any

from harness.backends.base import NetShell
from harness.chaos.flows import Flow, Selection
from harness.chaos.mechanism import Heal, NetBackend, Unsupported
from harness.errors import HarnessError
from harness.hostside import nfqdelay_source


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
    """harness/hostside/nfqdelay.py on one NFQUEUE in a host's network namespace, run through its helper.

    install() copies the script in once per helper; the constructor starts it in the background and
    waits until it has bound the queue; stop() sends SIGTERM (it accepts every packet it still holds)."""

    SCRIPT = "/tmp/dmdw-nfqdelay.py"

    @classmethod
    def install(cls, helper: NetShell) -> None:
        src = base64.b64encode(nfqdelay_source()).decode()
        helper.sh(f"echo {src} | base64 -d > {cls.SCRIPT}")

    def __init__(self, helper: NetShell, queue: int, ms: int, jitter: int) -> None:
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



class IptablesNet(NetBackend):
    """iptables (filter chains DMDW_IN/DMDW_OUT) and tc in each host's namespace, one NetShell per host.

    Rules for a flow live in its target's namespace: packets dialer->target are matched in DMDW_IN by
    destination port, target->dialer in DMDW_OUT by source port. Modes: blackhole = DROP, reset = REJECT
    with tcp-reset, refuse = REJECT with tcp-reset of new connections (SYN) plus DROP of the rest.
    Rate limits use an HTB class on the sender's egress device, filtered by address and port; latency
    adds a netem leaf to it, or, when the kernel has no netem, sends those packets from the mangle chain
    DMDW_DELAY (OUTPUT) to an NFQUEUE served by harness/hostside/nfqdelay.py (--queue-bypass: if the delayer dies,
    traffic passes). Both act on established connections."""

    name = "iptables"

    def __init__(self, helpers: dict[str, NetShell], topology: Any) -> None:
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

    def _chains(self, h: NetShell) -> None:
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

    def _nfq_helper(self, host: str) -> NetShell:
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

    def packets(self, sel: Selection, loss: float, duplicate: float, reorder: float) -> Heal:
        """netem loss / duplicate / reorder (a share sent at once, the rest 20 ms later) where the kernel
        has netem; else loss by an iptables statistic DROP and reordering by the NFQUEUE delayer's
        jitter (every packet 0-20 ms late); duplication has no stand-in without netem."""
        hosts = {self._egress(f, s).host for f, streams in sel for s in streams}
        if all(self._has_netem(h) for h in hosts):
            spec = [f"delay 20ms reorder {100 - reorder:g}% 50%"] if reorder else []
            spec += [f"loss {loss:g}%"] if loss else []
            spec += [f"duplicate {duplicate:g}%"] if duplicate else []
            return self._shape(sel, None, " ".join(spec) or "delay 0ms")
        if duplicate:
            raise Unsupported("packet duplication needs tc netem, which this kernel does not have")
        heals: list[Heal] = []
        try:
            if loss:
                heals.append(self._drop_share(sel, loss / 100.0))
            if reorder:
                heals.append(self._delay(sel, 10, 10))
        except Exception:
            for h in reversed(heals):
                h()
            raise

        def heal() -> None:
            for h in reversed(heals):
                h()

        return heal

    def _drop_share(self, sel: Selection, p: float) -> Heal:
        """Drop a random share p of each selected stream's packets at its sender (mangle DMDW_DELAY)."""
        tag = self._tag()
        applied: list[tuple[str, str]] = []
        try:
            for flow, streams in sel:
                for stream in streams:
                    egress = self._egress(flow, stream)
                    rule = (f"DMDW_DELAY {egress.iptables()} -m statistic --mode random --probability {p:.4f} "
                            f"-m comment --comment {tag} -j DROP")
                    self._nfq_helper(egress.host).sh(f"iptables -t mangle -I {rule}")
                    applied.append((egress.host, rule))
        except Exception:
            self._undrop(applied)
            raise
        return lambda: self._undrop(applied)

    def _undrop(self, applied: list[tuple[str, str]]) -> None:
        for host, rule in applied:
            self.helpers[host].sh(f"iptables -t mangle -D {rule}", check=False)

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

