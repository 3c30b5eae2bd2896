"""The ssh backend against a docker "site" (a group the harness built, accepted as someone else's):
discovery, one-line errors for bad inventories with nothing changed on the hosts, the dead-man switch."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions
from harness.backends.ssh import SshBackend
from harness.discover import discover
from harness.docker_site import PASSWORD_ENV, DockerSite
from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.settings import default_topology
from harness.sql import Sql

DEADMAN = 4  # seconds: the site's dead-man timeout


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerSite]:
    """The docker site, built once (owned by this test process, removed at the end)."""
    s = DockerSite(tmp_path_factory.mktemp("site"), deadman_seconds=DEADMAN)
    try:
        s.make()
        os.environ[PASSWORD_ENV] = s.password
        yield s
    finally:
        s.remove()


def backend(path: Path | str) -> SshBackend:
    return SshBackend(BackendOptions(extra={"inventory": load_inventory(path)}))


def snapshot(site: DockerSite) -> dict[str, str]:
    """What a failed acceptance must not change: /tmp, /run and the DM processes of every host."""
    assert site.group is not None
    return {n: h.run("ls -1A /tmp /run /var/log/dmdw /opt/dm8/data; ps -eo pid,args | grep -E 'dm(server|watcher)' "
                     "| grep -v grep", user="root", check=False).stdout for n, h in site.group.hosts.items()}


def discover_site(site: DockerSite, tmp_path: Path) -> tuple:
    """(topology, what was found) discovered through the ssh backend, as an acceptance run does."""
    b = backend(site.inventory)
    try:
        hosts = b.up()
        return discover(hosts, b.inventory, default_topology("emulator"),
                        lambda topo: Sql(topo, b, hosts, tmp_path), tmp_path)
    finally:
        b.down()


def test_discovers_the_running_group(site: DockerSite, tmp_path: Path) -> None:
    t, found = discover_site(site, tmp_path)
    built = site.group.topology
    assert {s.name: (s.instance, s.role, s.internal_ip, s.external_ip, s.port_num, s.mal_port) for s in t.db_hosts} == \
        {s.name: (s.instance, s.role, s.internal_ip, s.external_ip, s.port_num, s.mal_port) for s in built.db_hosts}
    assert (t.oguid, t.group, t.dw.dw_mode, t.db_name) == (built.oguid, built.group, built.dw.dw_mode, built.db_name)
    assert vars(t.timers) == vars(built.timers)
    assert t.monitor_host.internal_ip == built.monitor_host.internal_ip
    assert found.archives == {"mema1": ["LOCAL", "REALTIME"], "mema2": ["LOCAL", "REALTIME"]}


def bad_cases(site: DockerSite, tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (site.toml text with that entry wrong, what the one-line error must say)."""
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    return {
        "unreachable": (site.render(address="127.0.0.1", port=1), "host unreachable over ssh"),
        "wrong-key": (site.render(key_file=str(wrong_key)), "ssh login refused"),
        "no-sudo": (site.render(user="dmdba", sudo=True), "`sudo -n true` fails for dmdba"),
        "dm-not-found": (site.render(dm_home="/opt/nowhere"), "DM not found: /opt/nowhere/bin/"),
        "no-data-path": (site.render(data_path="/srv/none"), "data_path /srv/none is not a directory"),
        "no-os-user": (site.render(os_user="nobody2"), "OS user nobody2 does not exist"),
    }


def test_bad_inventories_one_line_nothing_changed(site: DockerSite, tmp_path: Path) -> None:
    before = snapshot(site)
    for name, (text, message) in bad_cases(site, tmp_path).items():
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        b = backend(path)
        with pytest.raises(HarnessError) as exc:
            b.up()
        b.down()
        msg = str(exc.value)
        assert message in msg and "\n" not in msg and "hosts.host1" in msg, (name, msg)
    assert snapshot(site) == before


def test_bad_inventory_run_prints_no_traceback(site: DockerSite, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(site.render(dm_home="/opt/nowhere"))
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "suites/smoke/test_smoke.py::test_group_is_built_and_healthy",
                        "--dw-backend", "ssh", "--dw-inventory", str(path), "--dw-existing",
                        "--dw-report-dir", str(tmp_path / "reports")],
                       cwd=root, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "DM not found: /opt/nowhere/bin/dmserver" in out, out[-2000:]
    assert "Traceback" not in out and "harness/backends/ssh.py" not in out, out[-3000:]


CUT_AND_HANG = """
import sys, time
from harness.backends.base import BackendOptions
from harness.backends.ssh import SshBackend
from harness.chaos import Chaos
from harness.discover import Discoverer
from harness.inventory import load_inventory
from harness.settings import default_topology
inv = load_inventory(sys.argv[1])
b = SshBackend(BackendOptions(extra={"inventory": inv}))
hosts = b.up()
t = Discoverer(hosts, inv, default_topology("emulator")).topology()
Chaos(b, hosts, t, None).cut("MAL").start()
print("CUT", b.ssh_config, flush=True)
time.sleep(600)
"""


def rules(site: DockerSite) -> dict[str, list[str]]:
    return {n: re.findall(r"dmdw-chaos-\d+", h.run("iptables -S", user="root").stdout)
            for n, h in site.group.hosts.items()}


def test_deadman_removes_rules_of_a_killed_harness(site: DockerSite) -> None:
    child = subprocess.Popen([sys.executable, "-c", CUT_AND_HANG, str(site.inventory)], stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).resolve().parents[2])
    config = None
    try:
        line = child.stdout.readline()
        assert line.startswith("CUT"), line
        config = line.split()[1]
        assert any(rules(site).values()), "the MAL cut added no rule"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        time.sleep(DEADMAN + 3)
        assert rules(site) == {n: [] for n in site.group.hosts}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if config:  # the killed harness's ssh master connections
            for name in site.group.hosts:
                subprocess.run(["ssh", "-F", config, "-O", "exit", name], capture_output=True, timeout=10)
            subprocess.run(["rm", "-rf", str(Path(config).parent)], check=False)


def test_conformance_names_file_and_line_of_a_deviation(site: DockerSite, tmp_path: Path) -> None:
    """A deployment whose dm.ini deviates from the seed (ENABLE_OFFLINE_TS = 1) fails conformance with the
    host, the file and the line of the key."""
    h = site.group.hosts["host2"]
    ini = site.group.topology.dm_ini
    original = h.read_file(ini)
    assert re.search(r"(?m)^\s*ENABLE_OFFLINE_TS\s*=\s*2", original)
    h.write_file(ini, re.sub(r"(?m)^(\s*ENABLE_OFFLINE_TS\s*=\s*)2", r"\g<1>1", original))
    line = next(n for n, text in enumerate(original.splitlines(), 1) if text.strip().startswith("ENABLE_OFFLINE_TS"))
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                            "suites/conformance/test_seed_build.py::test_dm_ini_values", "--dw-backend", "ssh",
                            "--dw-inventory", str(site.inventory), "--dw-existing",
                            "--dw-report-dir", str(tmp_path / "reports")],
                           cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=180)
    finally:
        h.write_file(ini, original)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]
    assert f"host2:{ini}:{line} ENABLE_OFFLINE_TS = 1 (seed: 2)" in out, out[-3000:]


def test_a_destructive_takeover_ends_in_the_starting_roles(site: DockerSite, tmp_path: Path) -> None:
    """--dw-allow-destructive on the site: a takeover after isolating the primary host passes, the restore
    rebuilds the split old primary online (十二.2.4) and switches back; afterwards v$instance on the hosts
    shows the starting roles, and the run's sign-off page carries the restore log."""
    reports = tmp_path / "reports"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                        "suites/failover/test_takeover.py::test_takeover_after_the_primary_host_is_isolated",
                        "--dw-backend", "ssh", "--dw-inventory", str(site.inventory), "--dw-existing",
                        "--dw-allow-destructive", "--dw-report-dir", str(reports)],
                       cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    _, found = discover_site(site, tmp_path)
    starting = {s.name: s.role for s in site.group.topology.db_hosts}
    assert {n: (h["live_role"], h["status"]) for n, h in found.hosts.items() if n in starting} == \
        {n: (role, "OPEN") for n, role in starting.items()}
    run = next(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink())
    restores = json.loads((run / "env.json").read_text())["restores"]
    assert [x["ok"] for x in restores] == [True] and any("12.2.4" in a or "十二.2.4" in a for a in restores[0]["actions"])
    html = (run / "report.html").read_text()
    assert 'id="dw-accepted"' in html and "Restores after destructive tests: 1, 0 failed" in html
