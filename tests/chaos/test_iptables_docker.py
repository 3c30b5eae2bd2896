"""IptablesNet for real: two containers, helpers sharing their namespaces, per-port per-direction cuts,
rate limits and delay (netem, or the NFQUEUE delayer where the kernel has no netem) on the MAL port,
healed afterwards. Needs a Docker engine and a dmdw/base image."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from harness.backends.docker import LABEL_OWNER, LABEL_RUN, owner_label
from harness.chaos import (
    IptablesNet,
    NetnsHelper,
    ToxiproxyContainer,
    ToxiproxyNet,
    resolve_flows,
    select_streams,
)
from harness.topology import Topology

pytestmark = [pytest.mark.docker, pytest.mark.chaos]

ECHO = ("import socket,threading\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',5238));s.listen()\n"
        "def h(c):\n"
        "  while True:\n"
        "    d=c.recv(100)\n"
        "    if not d: return\n"
        "    c.sendall(d)\n"
        "while True:\n"
        "  c,_=s.accept();threading.Thread(target=h,args=(c,),daemon=True).start()\n")
PROBE = ("import socket,sys,time\n"
         "t=time.time()\n"
         "try:\n"
         "  c=socket.create_connection((sys.argv[1],5238),timeout=1.5);c.settimeout(1.5);c.sendall(b'x');"
         "print('ok' if c.recv(10)==b'x' else 'bad', round(time.time()-t,3))\n"
         "except Exception as e: print(type(e).__name__, round(time.time()-t,3))\n")


def _docker(*args: str, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout.strip()


def _base_image() -> str | None:
    try:
        tags = _docker("images", "--format", "{{.Repository}}:{{.Tag}}", "dmdw/base").splitlines()
    except (OSError, RuntimeError):
        return None
    return tags[0] if tags else None


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[dict[str, NetnsHelper], Topology, dict[str, str]]]:
    image = _base_image()
    if image is None:
        pytest.skip("no Docker engine or no dmdw/base image (build it with the docker backend first)")
    run = f"chaos-test-{os.getpid()}"
    # the owner label keeps the docker backend's cleanup_stale() (other runs) off our live containers
    labels = {LABEL_RUN: run, LABEL_OWNER: owner_label()}
    lab = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
    net = f"dmdw-{run}"
    _docker("network", "create", *lab, net)
    names: dict[str, str] = {}
    helpers: dict[str, NetnsHelper] = {}
    try:
        for h in ("host1", "host2"):
            names[h] = f"dmdw-{run}-{h}"
            _docker("run", "-d", "--rm", *lab, "--name", names[h], "--network", net,
                    "--entrypoint", "python3", image, "-c", ECHO)
            helpers[h] = NetnsHelper(names[h], image, labels)
        topo = Topology()
        for h in ("host1", "host2"):
            topo.hosts[h].internal_ip = _docker("inspect", "-f",
                                                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", names[h])
        names["_net"] = net
        names["_image"] = image
        names["_run"] = run
        yield helpers, topo, names
    finally:
        for hp in helpers.values():
            hp.close()
        for k, n in names.items():
            if not k.startswith("_"):
                _docker("rm", "-f", n, check=False)
        _docker("network", "rm", net, check=False)


def probe(names: dict[str, str], src: str, topo: Topology, dst: str) -> tuple[str, float]:
    out = _docker("exec", names[src], "python3", "-c", PROBE, topo.hosts[dst].internal_ip)
    word, secs = out.split()
    return word, float(secs)


def test_cut_modes_and_heal(pair) -> None:
    helpers, topo, names = pair
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    assert probe(names, "host1", topo, "host2")[0] == "ok"
    sel_all = select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), None)
    heal = net.cut(sel_all, "blackhole")
    try:
        assert probe(names, "host1", topo, "host2")[0] in ("timeout", "TimeoutError")
    finally:
        heal()
    assert probe(names, "host1", topo, "host2")[0] == "ok"
    heal = net.cut(sel_all, "reset")
    try:
        assert probe(names, "host1", topo, "host2")[0] == "ConnectionRefusedError"
    finally:
        heal()
    # one way: host2 -> host1 dropped; host1 still dials host2 but gets no answer; host2 -> host1 blocked too
    heal = net.cut(select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), "host2->host1"), "blackhole")
    try:
        assert probe(names, "host1", topo, "host2")[0] in ("timeout", "TimeoutError")
    finally:
        heal()
    assert probe(names, "host2", topo, "host1")[0] == "ok"
    net.close()


BULK = ("import socket,sys,time\n"
        "c=socket.create_connection((sys.argv[1],5238),timeout=20);c.settimeout(20)\n"
        "t=time.time();data=b'z'*40000;c.sendall(data);got=0\n"
        "while got<len(data):\n"
        "  d=c.recv(65536)\n"
        "  if not d: break\n"
        "  got+=len(d)\n"
        "print(got, round(time.time()-t,3))\n")


def test_isolate(pair) -> None:
    helpers, topo, names = pair
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    heal = net.isolate("host2")
    try:
        assert probe(names, "host1", topo, "host2")[0] in ("timeout", "TimeoutError")
    finally:
        heal()
        net.close()
    assert probe(names, "host1", topo, "host2")[0] == "ok"


def test_bandwidth_and_latency(pair) -> None:
    helpers, topo, names = pair
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    one_way = select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), "host1->host2")
    heal = net.bandwidth(one_way, 200)  # 200 kbit/s = 25 KB/s: 40 KB take >= 1.2 s
    try:
        got, secs = _docker("exec", names["host1"], "python3", "-c", BULK, topo.hosts["host2"].internal_ip).split()
        assert int(got) == 40000 and float(secs) >= 1.0, secs
    finally:
        heal()
    got, secs = _docker("exec", names["host1"], "python3", "-c", BULK, topo.hosts["host2"].internal_ip).split()
    assert int(got) == 40000 and float(secs) < 0.5
    netem = subprocess.run(["docker", "exec", helpers["host1"].name, "sh", "-c",
                            "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root"],
                           capture_output=True, text=True).returncode == 0
    with held_connection(names, "host1", topo, "host2") as rtt:
        assert rtt() < 0.2
        heal = net.latency(one_way, 300, 0)
        try:
            # netem, or without it (this kernel) an NFQUEUE in mangle OUTPUT served by harness/hostside/nfqdelay.py
            assert ("NFQUEUE" in helpers["host1"].sh("iptables -t mangle -S DMDW_DELAY 2>&1", check=False)) != netem
            assert rtt() >= 0.29  # an established connection is slowed too (MAL links are long-lived)
            word, secs = probe(names, "host1", topo, "host2")
            assert word == "ok" and secs >= 0.55  # SYN and data both cross host1's delayed egress
            assert probe(names, "host2", topo, "host1")[1] >= 0.55  # host1's SYN-ACK and echo to host2 too
        finally:
            heal()
        assert rtt() < 0.2  # healed, and nothing left held
    assert "NFQUEUE" not in helpers["host1"].sh("iptables -t mangle -S 2>&1", check=False)
    assert "nfqdelay" not in helpers["host1"].sh("ps -eo args | grep [n]fqdelay", check=False)
    net.close()
    assert probe(names, "host1", topo, "host2")[0] == "ok"


HELD = ("import socket,sys,time\n"
        "c=socket.create_connection((sys.argv[1],5238),timeout=5);c.settimeout(5)\n"
        "for line in sys.stdin:\n"
        "  t=time.time();c.sendall(b'x');c.recv(10);print(round(time.time()-t,3),flush=True)\n")


@contextlib.contextmanager
def held_connection(names: dict[str, str], src: str, topo: Topology, dst: str) -> Iterator[Callable[[], float]]:
    """One TCP connection src -> dst's echo port kept open; the yielded function times one round trip."""
    proc = subprocess.Popen(["docker", "exec", "-i", names[src], "python3", "-c", HELD, topo.hosts[dst].internal_ip],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None

    def rtt() -> float:
        proc.stdin.write("\n")
        proc.stdin.flush()
        return float(proc.stdout.readline())

    try:
        yield rtt
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_toxiproxy_container_with_dnat_steering(pair) -> None:
    """The built-in server in its own container; host1's dials to host2:MAL are DNATed into it."""
    helpers, topo, names = pair
    labels = {LABEL_RUN: names["_run"], LABEL_OWNER: owner_label()}
    server = ToxiproxyContainer(names["_net"], names["_image"], labels, f"dmdw-{names['_run']}-toxiproxy")
    net = ToxiproxyNet(server.api, topo, {h: object() for h in topo.hosts}, listen_host="0.0.0.0",
                       ports=iter(range(21000, 21100)), helpers=helpers, dnat_ip=server.ip, links=("MAL",))
    try:
        net.prepare()
        assert any("dmdw-steer" in line for line in helpers["host1"].sh("iptables -t nat -S OUTPUT").splitlines())
        assert probe(names, "host1", topo, "host2")[0] == "ok"
        sel = select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), "host1->host2")
        heal = net.latency(sel, 400, 0)
        try:
            word, secs = probe(names, "host1", topo, "host2")
            assert word == "ok" and secs >= 0.35  # the traffic really crosses the proxy
        finally:
            heal()
        heal = net.cut(select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), None), "blackhole")
        try:
            assert probe(names, "host1", topo, "host2")[0] in ("timeout", "TimeoutError")
        finally:
            heal()
        assert probe(names, "host1", topo, "host2")[0] == "ok"
    finally:
        net.close()
        server.close()
    assert not any("dmdw-steer" in line for line in helpers["host1"].sh("iptables -t nat -S OUTPUT").splitlines())
