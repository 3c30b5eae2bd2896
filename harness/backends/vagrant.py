"""The vagrant backend: the seed's three VMs from vagrant/Vagrantfile, driven by python-vagrant, reached
over ssh with testinfra (DESIGN.md section 4).

The provider is VirtualBox (the seed's lab: host-only internal network, bridged external NIC) unless
DMDW_VAGRANT_PROVIDER (or the backend option vagrant_provider) says docker: then the same Vagrantfile
brings the hosts up as containers of the base image with both networks as docker networks, which is
how this backend is tested on machines without VirtualBox. Each run keeps its Vagrant state in its own
folder (VAGRANT_DOTFILE_PATH), so runs never share machines; down() is `vagrant destroy -f`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import BackendOptions, Host, NetShell
from harness.backends.docker import LABEL_OWNER, LABEL_RUN, move_ip, owner_label, pick_subnets, used_networks
from harness.backends.shell import LOG_DIR, RootShell, ShellBackend
from harness.backends.ssh_host import SshHost
from harness.errors import HarnessError, UsageError

if TYPE_CHECKING:

    from harness.topology import Topology

VAGRANT_DIR = Path(__file__).resolve().parents[2] / "vagrant"
PROVIDERS = ("virtualbox", "docker")


class VagrantHost(SshHost):
    """A VM (or, with the docker provider, a container) reached with ssh through Vagrant's ssh-config."""


class VagrantBackend(ShellBackend):
    """python-vagrant up/destroy of vagrant/Vagrantfile; hosts over ssh (testinfra)."""

    name = "vagrant"

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.provider = str(options.extra.get("vagrant_provider") or os.environ.get("DMDW_VAGRANT_PROVIDER")
                            or "virtualbox")
        if self.provider not in PROVIDERS:
            raise UsageError(f"the vagrant provider must be one of {', '.join(PROVIDERS)}, not '{self.provider}'")
        if not shutil.which("vagrant"):
            raise HarnessError("the vagrant backend needs the vagrant command: apt-get install vagrant")
        if self.provider == "virtualbox" and not shutil.which("VBoxManage"):
            raise HarnessError("VirtualBox is not installed (no VBoxManage); install it, or set "
                               "DMDW_VAGRANT_PROVIDER=docker to run the Vagrantfile's hosts as containers")
        if options.target == "dm8":
            if not options.dm8_installer or not Path(options.dm8_installer).is_file():
                raise UsageError("--dw-backend vagrant with --dw-target dm8 needs --dm8-installer DMInstall.bin")
        if not str(options.dm_home).startswith("/"):
            raise UsageError(f"--dm-home must be an absolute path; got {options.dm_home!r}")
        try:
            import vagrant  # noqa: F401
        except ImportError:
            raise HarnessError("the vagrant backend needs python-vagrant: pip install python-vagrant") from None
        self.run_id = f"{options.run_id}-{uuid.uuid4().hex[:6]}"
        self.work = Path(tempfile.mkdtemp(prefix=f"dmdw-vagrant-{self.run_id}-"))
        self.hosts: dict[str, Host] = {}
        self.extra_env: dict[str, str] = {}
        self.topology: Topology | None = None
        self._vagrant: Any = None
        self._down = False
        atexit.register(self._atexit)

    # ---- topology ------------------------------------------------------------------------------
    def adapt(self, topology: Topology) -> Topology:
        """VirtualBox: the topology as given (the user's lab). Docker provider: free subnets, like the
        docker backend, so a run never clashes with this machine's networks or another run."""
        if self.topology is not None:
            return self.topology
        t = topology.copy()
        t.paths.dm_home = self.options.dm_home or t.paths.dm_home
        if self.provider == "docker":
            from harness.images import docker_client

            subnets = pick_subnets(None, used_networks(docker_client()))
            for h in t.hosts.values():
                h.internal_ip = move_ip(h.internal_ip, subnets["internal"])
                if h.external_ip:
                    h.external_ip = move_ip(h.external_ip, subnets["external"])
        self.topology = t
        return t

    def _env(self, t: Topology) -> dict[str, str]:
        plan = [{"name": h.name, "internal_ip": h.internal_ip, "external_ip": h.external_ip}
                for h in t.hosts.values()]
        hosts_json = self.work / "hosts.json"
        hosts_json.write_text(json.dumps(plan, indent=1))
        env = {**os.environ, "VAGRANT_CWD": str(VAGRANT_DIR), "VAGRANT_DOTFILE_PATH": str(self.work / "state"),
               "VAGRANT_DEFAULT_PROVIDER": self.provider, "DMDW_HOSTS_JSON": str(hosts_json),
               "DMDW_TARGET": self.options.target, "DMDW_DM_HOME": t.paths.dm_home, "DMDW_RUN": self.run_id,
               "DMDW_DOCKER_LABELS": f"{LABEL_RUN}={self.run_id},{LABEL_OWNER}={owner_label()}"}
        if self.options.target == "dm8":
            env["DMDW_DM8_INSTALLER"] = str(Path(str(self.options.dm8_installer)).resolve())
        else:
            from harness.images import client_library

            lib = self.work / "clientlib"
            shutil.copytree(client_library(), lib / "dmpy", ignore=shutil.ignore_patterns("__pycache__"))
            env["DMDW_CLIENTLIB"] = str(lib)
        if self.provider == "docker":
            from harness.images import Images

            key = self.work / "id_ed25519"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
            env["DMDW_SSH_KEY"] = str(key)
            env["DMDW_DOCKER_IMAGE"] = Images().base()
        return env

    # ---- lifecycle -----------------------------------------------------------------------------
    def up(self, topology: Topology) -> dict[str, Host]:
        """`vagrant up` (provisioning included), then one ssh-config and testinfra host per machine."""
        import vagrant

        t = self.adapt(topology)
        log = self.work / "vagrant.log"
        self._vagrant = vagrant.Vagrant(root=str(VAGRANT_DIR), env=self._env(t), quiet_stdout=False,
                                        quiet_stderr=False, out_cm=vagrant.make_file_cm(str(log)),
                                        err_cm=vagrant.make_file_cm(str(log)))
        try:
            self._vagrant.up(provider=self.provider)
            ssh_config = self.work / "ssh_config"
            ssh_config.write_text("\n".join(self._vagrant.ssh_config(vm_name=n) for n in t.hosts))
        except subprocess.CalledProcessError:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            self.down()
            raise HarnessError(f"`vagrant up` failed (log {log}):\n{tail}") from None
        except BaseException:
            self.down()
            raise
        users = {}
        for block in ssh_config.read_text().split("Host ")[1:]:
            name = block.split()[0]
            users[name] = next((ln.split()[1] for ln in block.splitlines() if ln.strip().startswith("User ")),
                               "vagrant")
        for spec in t.hosts.values():
            self.hosts[spec.name] = VagrantHost(self, spec.name, spec.role, spec.internal_ip, spec.external_ip,
                                                str(ssh_config), users.get(spec.name, "vagrant"), t.paths.dm_home,
                                                self.options.lang)
        for h in self.hosts.values():
            h.run(f"mkdir -p {LOG_DIR} && chmod 1777 {LOG_DIR}", user="root")
            # the seed's VMs boot systemd: the procedure registers and drives the service units there
            h.systemd = self.provider == "virtualbox"
        return self.hosts

    def _remove(self) -> None:
        """`vagrant destroy -f` of this run's machines, then its state folder."""
        if self._vagrant is not None:
            with contextlib.suppress(Exception):
                self._vagrant.destroy()
        shutil.rmtree(self.work, ignore_errors=True)

    def net_mechanism(self) -> str:
        return "iptables"

    def net_shell(self, host: Host) -> NetShell:
        """The VM itself, as root: iptables and tc act on its own network stack."""
        return RootShell(host)

    def cleanup_hint(self) -> str:
        return (f"VAGRANT_CWD={VAGRANT_DIR} VAGRANT_DOTFILE_PATH={self.work / 'state'} "
                f"DMDW_HOSTS_JSON={self.work / 'hosts.json'} vagrant destroy -f; rm -rf {self.work}")
