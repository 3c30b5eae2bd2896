"""Parallel runs on docker leave nothing: two `-n 2` runs started together from two checkouts (each its own
rootdir and report folder), one of them with a worker killed by `kill -9` while its hosts are up. Afterwards
no container, network, `docker exec` client or host iptables rule of either run is left (the killed
worker's objects are removed by its controller's sweep). The hosts are brought up through the docker
backend under each worker's run id (no DM procedure: the property is about containers and networks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from harness.backends import docker as dk
from harness.images import REPO
from harness.report import RUN_ID
from harness.wait import wait_until
from tests.docker.test_docker_smoke import host_processes_naming

HOSTS = """
    import os, signal, pytest
    from harness.backends.base import BackendOptions
    from harness.backends.docker import DockerBackend
    from harness.report.runfolder import run_id
    from harness.topology import Topology

    @pytest.fixture(scope="session")
    def hosts(request):
        backend = DockerBackend(BackendOptions(run_id=run_id(request.config)))
        try:
            up = backend.up(Topology())
            up["host1"].spawn("sleep 1000", name="daemon")
            yield up
        finally:
            backend.down()
"""
TESTS = {  # each holds its worker's hosts up a few seconds, so both runs are seen up at once
    "test_a.py": "import os, signal, time\n\ndef test_a(hosts):\n    time.sleep(5)\n    {action}\n",
    "test_b.py": "import time\n\ndef test_b(hosts):\n    time.sleep(5)\n    assert hosts['host1'].pids('sleep 1000')\n",
}


def _checkout(root: Path, die: bool) -> Path:
    suite = root / "suites" / "parallel"
    suite.mkdir(parents=True)
    (suite / "conftest.py").write_text(textwrap.dedent(HOSTS))
    action = "os.kill(os.getpid(), signal.SIGKILL)" if die else "assert hosts"
    for name, body in TESTS.items():
        (suite / name).write_text(body.format(action=action) if "{action}" in body else body)
    return root


def _start(root: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pytest", "-p", "harness.plugin", "-p", "harness.report", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--rootdir", str(root), "-c", os.devnull, "--dw-backend", "docker",
           "--dw-report-dir", str(root / "reports"), "-n", "2", "-q", str(root / "suites")]
    return subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _run_ids(root: Path) -> list[str]:
    folder = root / "reports"
    return [p.name for p in folder.iterdir() if RUN_ID.match(p.name)] if folder.is_dir() else []


def _networks(client: Any, prefix: str) -> dict[str, str]:
    """Bridge interface -> subnet of the run's networks (what docker's host iptables rules name)."""
    out = {}
    for net in client.networks.list(filters={"label": dk.LABEL_RUN}):
        if (net.attrs.get("Labels") or {}).get(dk.LABEL_RUN, "").startswith(prefix):
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
                out["br-" + net.id[:12]] = cfg.get("Subnet", "")
    return out


def _host_rules() -> str:
    """The host's iptables rules, every table (docker adds its bridges' rules there)."""
    return subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=30, check=True).stdout


def test_two_xdist_runs_one_with_a_killed_worker_leave_nothing(tmp_path: Path, client: Any,
                                                               emulator_image: str) -> None:
    roots = [_checkout(tmp_path / "one", die=True), _checkout(tmp_path / "two", die=False)]
    procs = [_start(root) for root in roots]
    seen: dict[str, dict[str, str]] = {}  # run id -> its workers' bridges and subnets
    try:
        def both_up() -> bool:
            for rid in (rid for root in roots for rid in _run_ids(root)):
                seen.setdefault(rid, {}).update(_networks(client, rid + "-"))
            return (len(seen) == 2 and all(seen.values())) or any(proc.poll() is not None for proc in procs)

        wait_until(both_up, 180, "the networks of both runs", interval=0.5)
        outs = [proc.communicate(timeout=300)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert "crashed" in outs[0] and "1 passed" in outs[0], outs[0][-3000:]
    assert "2 passed" in outs[1], outs[1][-3000:]
    assert len(seen) == 2 and all(seen.values()), f"both runs' networks were up at once: {seen}"
    rules = _host_rules()
    for root in roots:
        (rid,) = _run_ids(root)
        assert dk.leftovers(rid + "-", client=client) == [], f"{rid}: containers/networks outlived the run"
        assert host_processes_naming(f"dmdw-{rid}-") == [], f"{rid}: docker exec clients outlived the run"
    bridges = {bridge: subnet for nets in seen.values() for bridge, subnet in nets.items()}
    left = [f"{bridge} ({subnet})" for bridge, subnet in bridges.items() if bridge in rules]  # ids are not reused
    assert left == [], f"host iptables rules of removed networks: {left}"
    for root in roots:
        assert (root / "reports" / _run_ids(root)[0] / "report.html").is_file(), "each run wrote its report"
