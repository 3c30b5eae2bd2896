"""harness.chaos: link resolution, block files, iptables rules, Toxiproxy steering, host faults, records."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from chaos_helpers import EchoServer

from harness.chaos import (
    BlockFileNet,
    Chaos,
    IptablesNet,
    ToxiproxyNet,
    resolve_flows,
    select_streams,
)
from harness.errors import HarnessError
from harness.hostside.toxiproxy import ToxiproxyServer
from harness.topology import Topology


class FakeHost:
    """Just enough of backends.base.Host for chaos: env, path, write_file, signal."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.env = {"DMEMU_NET_BLOCK_FILE": str(root / name / "netblock")}
        self.signals: list[tuple[str, int]] = []

    def path(self, p: str) -> str:
        return str(self.root / self.name) + p

    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        Path(p).write_text(text)

    def signal(self, pattern: str, sig: int) -> None:
        self.signals.append((pattern, sig))


class FakeBackend:
    """A backend whose hosts take link faults through the emulator's block files."""

    name = "fake"

    def net_mechanism(self) -> str:
        return "blockfile"


@pytest.fixture
def topo() -> Topology:
    t = Topology()
    for i, h in enumerate(t.hosts.values()):
        h.internal_ip = f"127.0.56.{201 + i}"
        if h.external_ip:
            h.external_ip = f"127.0.0.{201 + i}"
    return t


@pytest.fixture
def hosts(tmp_path: Path, topo: Topology) -> dict[str, FakeHost]:
    return {name: FakeHost(name, tmp_path) for name in topo.hosts}


def blocks(hosts: dict[str, FakeHost], name: str) -> list[str]:
    p = Path(hosts[name].env["DMEMU_NET_BLOCK_FILE"])
    return p.read_text().split() if p.exists() else []


def test_resolve_flows_by_role(topo: Topology) -> None:
    mal = resolve_flows(topo, "MAL")
    assert {(f.dialer, f.target, f.port) for f in mal} == {("host1", "host2", 5238), ("host2", "host1", 5238)}
    mon = resolve_flows(topo, "MON", between=("monitor", "host1"))
    assert [(f.dialer, f.target, f.ip, f.port) for f in mon] == [("monitor", "host1", "127.0.56.201", 5239)]
    inst = resolve_flows(topo, "INST_DW", between=("host2",))
    assert [(f.dialer, f.target, f.port) for f in inst] == [("host2", "host2", 5237)]
    client = resolve_flows(topo, "CLIENT")
    assert {(f.ip, f.port) for f in client} == {("127.0.0.201", 5236), ("127.0.0.202", 5236)}
    with pytest.raises(HarnessError, match="unknown link"):
        resolve_flows(topo, "NOPE")
    with pytest.raises(HarnessError, match="unknown host"):
        resolve_flows(topo, "MAL", between=("host9", "host1"))


def test_direction_picks_streams(topo: Topology) -> None:
    sel = select_streams(resolve_flows(topo, "MAL"), "host1->host2")
    got = {(f.dialer, f.target): s for f, s in sel}
    assert got == {("host1", "host2"): ("upstream",), ("host2", "host1"): ("downstream",)}
    with pytest.raises(HarnessError, match="must read"):
        select_streams(resolve_flows(topo, "MAL"), "host1 to host2")


def test_blockfile_cut_heal_and_records(tmp_path: Path, topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, tmp_path / "run")
    with chaos.cut("MAL") as rec:
        assert blocks(hosts, "host1") == ["127.0.56.202:5238"]
        assert blocks(hosts, "host2") == ["127.0.56.201:5238"]
        assert rec.end is None and rec.link == "MAL"
        with chaos.cut("DW", direction="host1->host2"):
            assert blocks(hosts, "host1") == ["127.0.56.202:5238", "127.0.56.202:5239"]
            assert blocks(hosts, "host2") == ["127.0.56.201:5238"]
        assert blocks(hosts, "host1") == ["127.0.56.202:5238"]
    assert blocks(hosts, "host1") == [] and blocks(hosts, "host2") == []
    assert [r.name for r in chaos.log] == ["cut MAL", "cut DW host1->host2"]
    assert all(r.end is not None and r.end >= r.start for r in chaos.log)
    lines = (tmp_path / "run" / "faults.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["name"] == "cut MAL" and json.loads(lines[0])["end"] is not None


def test_blockfile_overlapping_cuts_are_counted(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    net = BlockFileNet(hosts, topo)
    sel = select_streams(resolve_flows(topo, "MAL"), None)
    heal_a = net.cut(sel, "blackhole")
    heal_b = net.cut(sel, "reset")
    heal_a()
    assert blocks(hosts, "host1") == ["127.0.56.202:5238"]  # still cut by the second fault
    heal_b()
    assert blocks(hosts, "host1") == []


def test_isolate_host_local(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, None)
    with chaos.isolate("host1"):
        for h in hosts:
            assert set(blocks(hosts, h)) == {"127.0.56.201", "127.0.0.201"}
    assert all(blocks(hosts, h) == [] for h in hosts)


def test_blockfile_client_cut_is_written_on_the_instance_side(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, None)
    flows = resolve_flows(topo, "CLIENT")
    with chaos.cut("CLIENT"):
        for f in flows:
            assert blocks(hosts, f.target) == [f"{f.ip}:{f.port}"]
    assert all(blocks(hosts, h) == [] for h in hosts)


def test_local_limits_are_one_clear_error(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, None)
    with pytest.raises(HarnessError, match="latency"):
        chaos.latency("MAL", ms=100).start()
    with pytest.raises(HarnessError, match="mode"):
        chaos.cut("MAL", mode="explode")
    assert chaos.log == []


def test_heal_all_at_teardown_whatever_happens(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, None)
    chaos.cut("MAL").start()
    chaos.isolate("host2").start()
    with pytest.raises(RuntimeError):
        with chaos.cut("DW"):
            raise RuntimeError("suite failed mid-fault")
    assert len(chaos._active) == 2
    chaos.close()
    assert all(blocks(hosts, h) == [] for h in hosts)
    assert all(r.end is not None for r in chaos.log)


def test_pause_and_kill(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    chaos = Chaos(FakeBackend(), hosts, topo, None)
    with chaos.pause("host2", "dmserver"):
        assert hosts["host2"].signals == [("dmserver", signal.SIGSTOP)]
    assert hosts["host2"].signals[-1] == ("dmserver", signal.SIGCONT)
    rec = chaos.kill("host1", "dmwatcher")
    assert hosts["host1"].signals == [("dmwatcher", signal.SIGKILL)]
    assert rec.name == "kill -9 dmwatcher@host1" and rec.end is not None
    with pytest.raises(HarnessError, match="process"):
        chaos.pause("host1", "bash")
    with pytest.raises(HarnessError, match="unknown host"):
        chaos.kill("host9", "dmserver")


class FakeHelper:
    def __init__(self) -> None:
        self.cmds: list[str] = []

    def sh(self, cmd: str, check: bool = True) -> str:
        self.cmds.append(cmd)
        return "eth0\n" if "route get" in cmd else ""

    def close(self) -> None:
        pass


def test_iptables_rules_per_direction_and_mode(topo: Topology) -> None:
    helpers = {h: FakeHelper() for h in topo.hosts}
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    sel = select_streams(resolve_flows(topo, "MAL"), "host1->host2")
    rules = net.rules(sel, "blackhole", "t1")
    assert ("host2", "DMDW_IN -p tcp --dport 5238 -s 127.0.56.201 -m comment --comment t1 -j DROP") in rules
    assert ("host1", "DMDW_OUT -p tcp --sport 5238 -d 127.0.56.202 -m comment --comment t1 -j DROP") in rules
    assert len(rules) == 2
    reset = net.rules(select_streams(resolve_flows(topo, "CLIENT", ("host1",)), None), "reset", "t2")
    assert reset == [
        ("host1", "DMDW_IN -p tcp --dport 5236 --tcp-flags RST NONE -m comment --comment t2 -j REJECT --reject-with tcp-reset"),
        ("host1", "DMDW_OUT -p tcp --sport 5236 --tcp-flags RST NONE -m comment --comment t2 -j REJECT --reject-with tcp-reset")]
    refuse = net.rules(sel[:1], "refuse", "t3")
    assert any("--syn" in r for _, r in refuse) and any(r.endswith("-j DROP") for _, r in refuse)
    heal = net.cut(sel, "reset")
    assert any(c.startswith("iptables -A DMDW_IN") for c in helpers["host2"].cmds)
    heal()
    assert any(c.startswith("iptables -D DMDW_IN") for c in helpers["host2"].cmds)
    heal = net.latency(select_streams(resolve_flows(topo, "DW"), "host1->host2"), 200, 50)
    assert any("netem delay 200ms 50ms" in c for c in helpers["host1"].cmds)
    assert any("match ip dport 5239" in c for c in helpers["host1"].cmds)
    heal()
    assert any("tc filter del" in c for c in helpers["host1"].cmds)


@pytest.fixture
def proxied(topo: Topology, hosts: dict[str, FakeHost]):
    """Topology whose MAL ports are echo servers on 127.0.0.1, and a ToxiproxyNet in front of them."""
    echoes = {name: EchoServer() for name in ("host1", "host2")}
    for name, e in echoes.items():
        topo.hosts[name].internal_ip = "127.0.0.1"
        topo.hosts[name].mal_port = e.port
    server = ToxiproxyServer("127.0.0.1", 0).start()
    net = ToxiproxyNet(("127.0.0.1", server.port), topo, hosts, links=("MAL",))
    try:
        yield net, echoes
    finally:
        net.close()
        server.stop()
        for e in echoes.values():
            e.close()


def _dial_mapped(env: dict[str, str], ip: str, port: int) -> socket.socket:
    """Dial as the emulator does: through DMEMU_DIAL_MAP."""
    mapping = dict(item.split("=") for item in env["DMEMU_DIAL_MAP"].split(","))
    host, p = mapping[f"{ip}:{port}"].rsplit(":", 1)
    return socket.create_connection((host, int(p)), timeout=2)


def _echo_ok(s: socket.socket, timeout: float = 1.0) -> bool:
    s.settimeout(timeout)
    try:
        s.sendall(b"ping")
        return s.recv(10) == b"ping"
    except OSError:
        return False


def test_toxiproxy_steering_cut_latency_refuse(topo: Topology, hosts: dict[str, FakeHost], proxied) -> None:
    net, echoes = proxied
    chaos = Chaos(FakeBackend(), hosts, topo, None, net=net)
    chaos.prepare()
    assert "DMEMU_DIAL_MAP" in hosts["host1"].env and "DMEMU_DIAL_MAP" not in hosts["monitor"].env
    s = _dial_mapped(hosts["host1"].env, "127.0.0.1", echoes["host2"].port)
    assert _echo_ok(s)
    with chaos.cut("MAL"):
        assert not _echo_ok(s, 0.3)
    with chaos.cut("MAL", direction="host2->host1"):  # host1 dialled: only the downstream is dropped
        s.settimeout(0.3)
        s.sendall(b"one-way")
        time.sleep(0.2)
        with pytest.raises(socket.timeout):
            s.recv(10)
    with chaos.latency("MAL", ms=150):
        t0 = time.monotonic()
        s2 = _dial_mapped(hosts["host1"].env, "127.0.0.1", echoes["host2"].port)
        assert _echo_ok(s2)
        assert time.monotonic() - t0 >= 0.14
    with chaos.cut("MAL", mode="refuse"):
        with pytest.raises(ConnectionRefusedError):
            _dial_mapped(hosts["host2"].env, "127.0.0.1", echoes["host1"].port)
    s3 = _dial_mapped(hosts["host2"].env, "127.0.0.1", echoes["host1"].port)
    assert _echo_ok(s3)
    for sock in (s, s2, s3):
        sock.close()
    assert [r.name for r in chaos.log] == ["cut MAL", "cut MAL host2->host1", "latency MAL 150ms", "cut MAL"]


class FakeVmHost(FakeHost):
    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root)
        self.cmds: list[tuple[str, str]] = []

    def run(self, cmd: str, *, user: str = "dmdba", check: bool = True, **kw):
        self.cmds.append((user, cmd))
        return type("R", (), {"rc": 0, "stdout": "eth0\n", "stderr": ""})()


def test_iptables_through_the_backends_root_shell(tmp_path: Path, topo: Topology) -> None:
    vms = {name: FakeVmHost(name, tmp_path) for name in topo.hosts}
    from harness.backends.shell import RootShell

    backend = type("Machines", (), {"name": "machines", "net_mechanism": lambda self: "iptables",
                                    "net_shell": lambda self, host: RootShell(host)})()
    chaos = Chaos(backend, vms, topo, None)
    with chaos.cut("DW", mode="reset"):
        added = [c for u, c in vms["host2"].cmds if c.startswith("iptables -A DMDW_IN")]
        assert added and all(u == "root" for u, _ in vms["host2"].cmds) and "--dport 5239" in added[0]
    assert any(c.startswith("iptables -D DMDW_IN") for _, c in vms["host2"].cmds)
    with pytest.raises(HarnessError, match="no network backend"):
        Chaos(type("B", (), {"name": "k8s"})(), vms, topo, None)


def test_mechanism_comes_from_the_backend_not_its_name(topo: Topology, hosts: dict[str, FakeHost]) -> None:
    """Chaos asks the backend what it offers: a backend called "docker" that names block files gets them."""
    backend = type("B", (), {"name": "docker", "net_mechanism": lambda self: "blockfile"})()
    chaos = Chaos(backend, hosts, topo, None)
    assert isinstance(chaos.net, BlockFileNet) and chaos.isolator is chaos.net
    with chaos.cut("MAL"):
        assert blocks(hosts, "host1") == ["127.0.56.202:5238"]


def test_local_backend_places_a_loopback_proxy(tmp_path: Path, topo: Topology, hosts: dict[str, FakeHost]) -> None:
    """proxy=True: the local backend starts toxiproxy-server on loopback (Backend.proxy_site()), prepare()
    steers each dialer by DMEMU_DIAL_MAP, and close() stops the server."""
    from harness.backends.base import BackendOptions, ProxySite
    from harness.backends.local import LocalBackend

    chaos = Chaos(LocalBackend(BackendOptions(run_id="unit")), hosts, topo, tmp_path / "run", proxy=True)
    site = next(o for o in chaos._owned if isinstance(o, ProxySite))
    try:
        assert isinstance(chaos.net, ToxiproxyNet) and isinstance(chaos.isolator, BlockFileNet)
        chaos.prepare()
        mal = f"{topo.hosts['host2'].internal_ip}:{topo.hosts['host2'].mal_port}"
        assert f"{mal}=127.0.0.1:" in hosts["host1"].env["DMEMU_DIAL_MAP"]
        with chaos.latency("MAL", ms=50):
            toxics = chaos.net.client.get_proxy("MAL_host1_host2").toxics()
            assert [t.type for t in toxics.values()] == ["latency", "latency"]
        with chaos.cut("CLIENT"):  # CLIENT flows start in the test process: the block files take them
            assert blocks(hosts, "host1") == [f"127.0.0.201:{topo.hosts['host1'].port_num}"]
    finally:
        chaos.close()
    with pytest.raises(OSError):
        socket.create_connection(site.api, timeout=1).close()
