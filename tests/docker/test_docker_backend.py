"""The docker backend: seed networks and addresses, the Host contract over docker exec, nothing left behind."""

from __future__ import annotations

import ipaddress
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from harness.backends import docker as dk
from harness.backends.base import BackendOptions
from harness.errors import HarnessError, UsageError
from harness.topology import Topology
from harness.wait import wait_until


@pytest.fixture
def backend(client: Any, emulator_image: str) -> Iterator[dk.DockerBackend]:
    b = dk.DockerBackend(BackendOptions(run_id="test-backend"), client=client)
    yield b
    b.down()
    assert dk.labelled(client, b.run_id) == []


def test_pick_subnets_prefers_the_seeds_and_falls_back() -> None:
    assert dk.pick_subnets(None, []) == dk.SEED_SUBNETS
    used = [ipaddress.ip_network("192.168.0.0/16")]
    got = dk.pick_subnets(None, used)
    assert got != dk.SEED_SUBNETS
    for cidr in got.values():
        assert not ipaddress.ip_network(cidr).overlaps(used[0])
    assert dk.pick_subnets({"internal": "10.9.1.0/24", "external": "10.9.2.0/24"}, used) == \
        {"internal": "10.9.1.0/24", "external": "10.9.2.0/24"}
    with pytest.raises(UsageError, match="overlaps a network of this machine"):
        dk.pick_subnets({"internal": "192.168.56.0/24", "external": "10.9.2.0/24"}, used)
    with pytest.raises(UsageError, match="must be an IPv4 network"):
        dk.pick_subnets({"internal": "nonsense", "external": "10.9.2.0/24"}, [])


def test_move_ip_keeps_the_host_part() -> None:
    assert dk.move_ip("192.168.56.201", "192.168.56.0/24") == "192.168.56.201"
    assert dk.move_ip("192.168.56.201", "10.56.4.0/24") == "10.56.4.201"
    with pytest.raises(UsageError):
        dk.move_ip("192.168.56.1", "10.56.4.0/24")  # would be the gateway


def test_owner_label_tells_dead_runs_from_live_ones() -> None:
    assert dk.owner_alive(dk.owner_label())
    p = subprocess.Popen(["sleep", "0"])
    label = dk.owner_label(p.pid)
    p.wait()
    assert not dk.owner_alive(label)
    assert dk.owner_alive("some-other-machine:1:1")  # never touch another machine's objects
    assert not dk.owner_alive("garbage")


def test_up_gives_the_seed_topology(backend: dk.DockerBackend, client: Any) -> None:
    t = backend.adapt(Topology())
    hosts = backend.up(t)
    assert set(hosts) == {"host1", "host2", "monitor"}
    subnets = {role: ipaddress.ip_network(c) for role, c in backend.subnets.items()}
    for name, h in hosts.items():
        spec = t.hosts[name]
        assert (h.internal_ip, h.external_ip) == (spec.internal_ip, spec.external_ip)
        assert h.internal_ip.endswith(Topology().hosts[name].internal_ip.rsplit(".", 1)[1])
        addrs = h.run("ip -4 -o addr show scope global", user="root").stdout
        assert h.internal_ip in addrs and ipaddress.ip_address(h.internal_ip) in subnets["internal"]
        if h.external_ip:
            assert h.external_ip in addrs and ipaddress.ip_address(h.external_ip) in subnets["external"]
        assert h.run("hostname").stdout.strip() == name
        assert h.run("id -un").stdout.strip() == "dmdba"
        assert h.run("command -v dmserver").stdout.strip() == "/opt/dm8/bin/dmserver"
        # NET_ADMIN: chaos can add iptables rules and tc qdiscs in the host's namespace
        assert h.run("iptables -A OUTPUT -p tcp --dport 9 -j DROP && iptables -D OUTPUT -p tcp --dport 9 -j DROP",
                     user="root").ok
    assert hosts["monitor"].external_ip is None
    assert hosts["monitor"].run("getent hosts host1").stdout.split()[0] == hosts["host1"].internal_ip
    # the pytest process reaches the containers directly
    addr = backend.reachable(hosts["host1"], 5236)
    assert addr == (hosts["host1"].external_ip, 5236)
    server = hosts["host1"].spawn("python3 -m http.server 5236 --bind 0.0.0.0", name="web")
    conn = wait_until(lambda: socket.create_connection(addr, timeout=2), 20, f"a TCP connection to {addr}")
    conn.close()
    server.stop(timeout=5)
    names = dk.labelled(client, backend.run_id)
    assert len(names) == 5  # three containers, two networks


def test_host_contract_over_docker_exec(backend: dk.DockerBackend) -> None:
    h = backend.up(Topology())["host1"]
    r = h.run("exit 3", check=False)
    assert r.rc == 3 and not r.ok
    with pytest.raises(HarnessError, match="rc=3"):
        h.run("echo boom >&2; exit 3")
    r = h.run("sleep 30", timeout=1, check=False)
    assert r.rc != 0 and r.duration < 10 and "timed out" in r.stderr
    assert h.pids(r"^sleep 30") == [], "a timed-out command is killed inside the container too"
    h.write_file("/opt/dm8/data/memadb/x.ini", "A = 1\n中文\n")
    assert h.read_file("/opt/dm8/data/memadb/x.ini") == "A = 1\n中文\n"
    assert h.ti.file("/opt/dm8/data/memadb/x.ini").user == "dmdba"
    h.write_file("/opt/dm8/dmdw-new/f", "x\n")  # a directory made for the file keeps chown -R dmdba true
    assert h.ti.file("/opt/dm8/dmdw-new").user == "dmdba"
    h.write_file("/tmp/dmdw-f", "x\n")  # an existing directory keeps its owner
    assert h.ti.file("/tmp").user == "root" and h.ti.file("/tmp/dmdw-f").user == "dmdba"
    assert h.exists("/opt/dm8/data/memadb/x.ini") and not h.exists("/nope")
    with pytest.raises(FileNotFoundError):
        h.read_file("/nope")
    p = h.spawn("sleep 1234", name="sleeper")
    assert p.alive() and h.pids(r"^sleep 1234$") == [p.pid]
    h.signal(r"^sleep 1234$", signal.SIGSTOP)
    assert h.run(f"awk '{{print $3}}' /proc/{p.pid}/stat", user="root").stdout.strip() == "T"
    h.signal(p.pid, signal.SIGCONT)
    p.stop(timeout=5)
    assert not p.alive() and h.pids(r"^sleep 1234$") == []
    q = h.spawn("bash -c 'echo hello from $(id -un); sleep 600'", name="talker")
    wait_until(q.log, 10, "the talker's greeting in its log", ok=lambda text: "hello from dmdba" in text)
    q.stop(timeout=5)
    s = h.interactive("bash -c 'read -p \"SQL> \" x; echo got=$x; echo lang=$LANGUAGE'")
    s.expect("SQL> ")
    s.sendline("select 1")
    s.expect("got=select 1")
    s.expect("lang=cn")
    s.close()


def test_down_removes_everything_even_processes(client: Any, emulator_image: str) -> None:
    b = dk.DockerBackend(BackendOptions(run_id="test-down"), client=client)
    hosts = b.up(Topology())
    hosts["host2"].spawn("sleep 999", name="daemon")
    assert len(dk.labelled(client, b.run_id)) == 5
    b.down()
    assert dk.labelled(client, b.run_id) == []
    with pytest.raises(HarnessError, match="not up"):
        b.reachable(hosts["host1"], 5236)
    b.down()  # idempotent


def test_two_runs_at_once_get_distinct_subnets(client: Any, emulator_image: str) -> None:
    a = dk.DockerBackend(BackendOptions(run_id="test-a"), client=client)
    b = dk.DockerBackend(BackendOptions(run_id="test-b"), client=client)
    try:
        ta, tb = a.adapt(Topology()), b.adapt(Topology())
        assert ta.hosts["host1"].internal_ip != tb.hosts["host1"].internal_ip
        for role in ("internal", "external"):
            assert not ipaddress.ip_network(a.subnets[role]).overlaps(ipaddress.ip_network(b.subnets[role]))
    finally:
        a.down()
        b.down()
    assert dk.labelled(client, a.run_id) == dk.labelled(client, b.run_id) == []


def test_cleanup_stale_removes_what_a_killed_run_left(client: Any) -> None:
    p = subprocess.Popen(["sleep", "0"])
    dead = dk.owner_label(p.pid)
    p.wait()
    labels = {dk.LABEL_RUN: "test-stale", dk.LABEL_OWNER: dead}
    net = client.networks.create("dmdw-test-stale-net", labels=labels)
    live = client.networks.create("dmdw-test-live-net", labels={dk.LABEL_RUN: "test-live",
                                                                dk.LABEL_OWNER: dk.owner_label()})
    try:
        removed = dk.cleanup_stale(client)
        assert "dmdw-test-stale-net" in removed
        assert dk.labelled(client, "test-stale") == []
        assert dk.labelled(client, "test-live") == ["dmdw-test-live-net"]
    finally:
        for n in (net, live):
            try:
                n.remove()
            except Exception:  # noqa: BLE001 - already removed
                pass


def test_keep_topology_leaves_the_hosts_and_the_hint_removes_them(client: Any, emulator_image: str) -> None:
    b = dk.DockerBackend(BackendOptions(run_id="test-keep", keep=True), client=client)
    try:
        b.up(Topology())
        b.down()
        assert len(dk.labelled(client, b.run_id)) == 5, "--keep-topology keeps containers and networks"
        r = subprocess.run(["bash", "-c", b.cleanup_hint()], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert dk.labelled(client, b.run_id) == []
    finally:
        b.options.keep, b._down = False, False
        b.down()
