"""vagrant/Vagrantfile and the vagrant backend. VirtualBox is not available here, so the same Vagrantfile
is brought up with Vagrant's docker provider (containers of the base image, both networks as docker
networks): provisioning (seed 三), ssh + testinfra access and destroy are real; the VirtualBox-only
parts (host-only/bridged NICs, rsync folders) are validated, not run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.backends import vagrant as vg
from harness.backends.base import BackendOptions
from harness.backends.docker import LABEL_RUN
from harness.errors import HarnessError, UsageError
from harness.images import REPO
from harness.topology import Topology


def vagrant(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "VAGRANT_CWD": str(vg.VAGRANT_DIR), **env}
    return subprocess.run(["vagrant", *args], env=full, capture_output=True, text=True, timeout=120)


def test_vagrantfile_validates_with_the_seed_plan_and_a_given_plan(tmp_path: Path) -> None:
    r = vagrant("validate", "--ignore-provider")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("host1", "host2", "monitor"):
        assert f"==> {name}:" in r.stdout
    plan = tmp_path / "hosts.json"
    plan.write_text(json.dumps([{"name": "pri", "internal_ip": "10.1.1.201", "external_ip": "10.1.2.201"}]))
    r = vagrant("status", "--machine-readable", DMDW_HOSTS_JSON=str(plan), VAGRANT_DEFAULT_PROVIDER="docker",
                VAGRANT_DOTFILE_PATH=str(tmp_path / "state"))
    assert r.returncode == 0 and ",pri,state," in r.stdout and "host1" not in r.stdout, r.stdout + r.stderr


def test_vagrantfile_refuses_bad_settings(tmp_path: Path) -> None:
    r = vagrant("validate", "--ignore-provider", DMDW_TARGET="oracle")
    assert r.returncode != 0 and "DMDW_TARGET must be emulator or dm8" in r.stdout + r.stderr
    r = vagrant("validate", "--ignore-provider", DMDW_TARGET="dm8", DMDW_DM8_INSTALLER=str(tmp_path / "none.bin"))
    assert r.returncode != 0 and "DMDW_DM8_INSTALLER" in r.stdout + r.stderr


def test_vagrant_backend_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMDW_VAGRANT_PROVIDER", "virtualbox")
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                                if not Path(p, "VBoxManage").exists()))
    with pytest.raises(HarnessError, match="VirtualBox is not installed"):
        vg.VagrantBackend(BackendOptions(run_id="t"))
    monkeypatch.setenv("DMDW_VAGRANT_PROVIDER", "hyperv")
    with pytest.raises(UsageError, match="provider must be one of"):
        vg.VagrantBackend(BackendOptions(run_id="t"))
    monkeypatch.setenv("DMDW_VAGRANT_PROVIDER", "docker")
    with pytest.raises(UsageError, match="--dm8-installer"):
        vg.VagrantBackend(BackendOptions(run_id="t", target="dm8"))


def test_vagrantfile_up_with_the_docker_provider(client: Any, base_image: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`vagrant up` provisions the seed's 三 and the emulator; testinfra checks it over ssh; destroy
    leaves no container and no network."""
    monkeypatch.setenv("DMDW_VAGRANT_PROVIDER", "docker")
    b = vg.VagrantBackend(BackendOptions(run_id="test-vagrant"))
    try:
        t = b.adapt(Topology())
        hosts = b.up(t)
        assert set(hosts) == {"host1", "host2", "monitor"}
        for name, h in hosts.items():
            ti = h.ti
            assert ti.backend.NAME == "ssh"
            assert ti.user("dmdba").uid == 12345 and ti.group("dinstall").gid == 12349
            assert ti.file("/opt/dm8").user == "dmdba"
            assert "dmdba\thard\tnofile\t65536" in ti.file("/etc/security/limits.conf").content_string
            assert h.run("hostname").stdout.strip() == name
            assert h.run("command -v dmwatcher").stdout.strip() == "/opt/dm8/bin/dmwatcher"
            addrs = h.run("ip -4 -o addr", user="root").stdout
            assert t.hosts[name].internal_ip in addrs
            if t.hosts[name].external_ip:
                assert t.hosts[name].external_ip in addrs
        assert client.containers.list(filters={"label": f"{LABEL_RUN}={b.run_id}"})
    finally:
        b.down()
    assert client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={b.run_id}"}) == []
    subnets = {f"{t.hosts['host1'].internal_ip.rsplit('.', 1)[0]}.0/24", f"{t.hosts['host1'].external_ip.rsplit('.', 1)[0]}.0/24"}
    assert [n.name for n in client.networks.list() if any(s in n.name for s in subnets)] == []
    assert not b.work.exists()


@pytest.mark.slow
def test_smoke_suite_on_the_vagrant_backend(tmp_path: Path, client: Any, base_image: str) -> None:
    """The whole seed procedure on the Vagrantfile's hosts (docker provider), through the real plugin."""
    env = {**os.environ, "DMDW_VAGRANT_PROVIDER": "docker"}
    r = subprocess.run([sys.executable, "-m", "pytest", "suites/smoke", "--dw-backend", "vagrant", "-q",
                        "-p", "no:cacheprovider"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert " passed" in r.stdout
