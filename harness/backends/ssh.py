"""The ssh backend: hosts that already exist (an inventory, --dw-inventory), reached over ssh.

Why plain `ssh` with one generated ssh_config and a ControlMaster socket per host (through testinfra's
ssh:// backend, as the vagrant backend does) rather than paramiko: the operator's own ssh client honours
the same keys, agents, known_hosts and jump settings an operator uses; one master connection per host makes
each command cheap (no new handshake) and is what interactive tools (dmmonitor over `ssh -tt`) reuse; and
ssh's own exit status 255 and messages tell an unreachable host from a refused key. Password logins are
made once, for the master, through SSH_ASKPASS with the password in that one process's environment (never
on disk, never on a command line); every later command rides on the master with BatchMode on, so nothing
can hang on a prompt.

up() only connects and checks (read-only: login, sudo, the OS user, DM_HOME, the data path), each
failure one sentence naming the host and the inventory key to fix, before anything is written to a host.
Link faults use iptables through sudo (net_mechanism "iptables"), behind a dead-man switch: a watchdog
started on each host flushes the harness's chains (DMDW_IN, DMDW_OUT, mangle DMDW_DELAY) and removes its tc
qdiscs once a lease file stops being renewed, so a killed harness leaves no fault behind. The ssh session
itself is exempt from every fault (a RETURN at the top of those chains): isolating a host cuts its DM links,
not the harness's way in.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.base import BackendOptions, Host, NetShell
from harness.backends.shell import LOG_DIR, RootShell, ShellBackend
from harness.backends.ssh_host import SshHost
from harness.errors import HarnessError, UsageError
from harness.inventory import Inventory, InventoryHost, load_inventory
from harness.redact import add_secret

if TYPE_CHECKING:
    from harness.topology import Topology

DEADMAN_DIR = "/run/dmdw-deadman"
_UNREACHABLE = ("Connection refused", "timed out", "No route to host", "Could not resolve", "Network is unreachable",
                "Connection reset", "Connection closed")
_REFUSED = ("Permission denied", "Too many authentication failures", "Authentication failed")


def ssh_config_block(h: InventoryHost, control_dir: str, known_hosts: str) -> str:
    """The ssh_config Host block of one inventory host (master socket, key, known_hosts, timeouts)."""
    lines = [f"Host {h.name}", f"  HostName {h.address}", f"  Port {h.port}", f"  User {h.user}",
             "  ControlMaster auto", f"  ControlPath {control_dir}/%n", "  ControlPersist 900",
             "  BatchMode yes", "  ConnectTimeout 8", "  ServerAliveInterval 5", "  ServerAliveCountMax 4",
             f"  UserKnownHostsFile {h.known_hosts or known_hosts}",
             f"  StrictHostKeyChecking {'yes' if h.known_hosts else 'accept-new'}", "  LogLevel ERROR"]
    if h.key_file:
        lines += [f"  IdentityFile {h.key_file}", "  IdentitiesOnly yes"]
    return "\n".join(lines) + "\n"


def classify_ssh_failure(h: InventoryHost, stderr: str) -> str:
    """One sentence for a failed ssh login, naming the inventory entry to fix."""
    last = next((ln.strip() for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "no message")
    where = f"{h.name} ({h.user}@{h.address}:{h.port})"
    if any(s in stderr for s in _UNREACHABLE):
        return f"{where}: host unreachable over ssh ({last}); check hosts.{h.name}.address and .port"
    if any(s in stderr for s in _REFUSED):
        what = f"key_file {h.key_file}" if h.key_file else f"password from {h.password_source}"
        return f"{where}: ssh login refused ({last}); check hosts.{h.name}.user and the {what}"
    if "Host key verification failed" in stderr or "IDENTIFICATION HAS CHANGED" in stderr:
        return f"{where}: host key does not match known_hosts ({last}); check hosts.{h.name}.known_hosts"
    return f"{where}: ssh failed ({last})"


class DeadManShell(RootShell):
    """A root shell on a real host whose fault rules expire unless the harness renews its lease.

    The watchdog (started once per host by SshBackend.deadman()) flushes the harness's chains and the tc
    qdiscs recorded in its folder when the lease file is older than the timeout."""

    def __init__(self, host: Host, folder: str, ssh_port: int) -> None:
        super().__init__(host)
        self.folder, self.ssh_port = folder, ssh_port

    def sh(self, cmd: str, check: bool = True) -> str:
        devs = re.findall(r"tc qdisc add dev (\S+) root", cmd)
        if devs:  # remember shaped devices so the watchdog removes their root qdisc too
            self.host.run(" ; ".join(f"echo {shlex.quote(d)} >> {self.folder}/tcdevs" for d in devs), user="root",
                          check=False)
        if re.search(r"iptables -A DMDW_(IN|OUT) ", cmd):  # the harness's own ssh survives every fault
            cmd = f"{self._keep_ssh()}; {cmd}"
        return super().sh(cmd, check)

    def _keep_ssh(self) -> str:
        """RETURN for the ssh session at the top of the fault chains, so isolating a host does not cut the
        harness off the host it must heal (the DM links are cut all the same)."""
        port = int(self.ssh_port)
        rules = (f"DMDW_IN -p tcp --dport {port} -m comment --comment dmdw-ssh -j RETURN",
                 f"DMDW_OUT -p tcp --sport {port} -m comment --comment dmdw-ssh -j RETURN")
        return "; ".join(f"(iptables -C {r} 2>/dev/null || iptables -I {r.replace(' ', ' 1 ', 1)})" for r in rules)


def watchdog_script(folder: str, seconds: int) -> str:
    """The host-side dead-man loop: while the lease is fresh, sleep; when stale, flush and record it."""
    flush = ("iptables -F DMDW_IN 2>/dev/null; iptables -F DMDW_OUT 2>/dev/null; "
             "iptables -t mangle -F DMDW_DELAY 2>/dev/null; "
             f"for d in $(sort -u {folder}/tcdevs 2>/dev/null); do tc qdisc del dev $d root 2>/dev/null; done")
    return (f"while [ -f {folder}/lease ]; do "
            f"age=$(( $(date +%s) - $(stat -c %Y {folder}/lease 2>/dev/null || date +%s) )); "
            f"if [ $age -ge {int(seconds)} ]; then {flush}; date > {folder}/expired; rm -f {folder}/lease; exit 0; fi; "
            "sleep 1; done")


class SshBackend(ShellBackend):
    """Existing hosts from an inventory, over ssh; up() connects and checks, down() disconnects only."""

    name = "ssh"
    provisions_os_users = True  # the seed's OS rules (三) apply to a real deployment: conformance checks them

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        inv = options.extra.get("inventory")
        if inv is None:
            raise UsageError("--dw-backend ssh needs --dw-inventory site.toml")
        self.inventory: Inventory = inv if isinstance(inv, Inventory) else load_inventory(inv)
        if not shutil.which("ssh"):
            raise HarnessError("the ssh backend needs the ssh client: apt-get install openssh-client")
        self.run_id = f"{options.run_id}-{uuid.uuid4().hex[:6]}"
        self.work = Path(tempfile.mkdtemp(prefix="dmdw-ssh-"))  # short: ControlPath sockets live here
        self.ssh_config = self.work / "ssh_config"
        self.hosts: dict[str, Host] = {}
        self.extra_env: dict[str, str] = {}
        self.topology: Topology | None = None
        self._down = False
        self._leases: dict[str, str] = {}  # host -> dead-man folder
        self._renew_stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._log_ready: set[str] = set()
        self.scratch: dict[str, str] = {}  # host -> a /tmp folder of this run, removed by down()
        atexit.register(self._atexit)

    # ---- connect and check ---------------------------------------------------------------------
    def _ssh(self, name: str, cmd: str, *, env: dict[str, str] | None = None, extra: tuple[str, ...] = (),
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["ssh", "-F", str(self.ssh_config), *extra, name, cmd], capture_output=True,
                                  text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            h = self.inventory.hosts[name]
            raise HarnessError(f"{name} ({h.user}@{h.address}:{h.port}): host unreachable over ssh (no answer in "
                               f"{timeout:.0f} s); check hosts.{name}.address and .port") from None

    def _open_master(self, h: InventoryHost) -> None:
        """The master connection (password logins through SSH_ASKPASS, in this process's child only)."""
        env, extra = None, ()
        if h.password_source:
            secret = self.inventory.password(h.password_source, f"ssh password of {h.user}@{h.name}")
            add_secret(secret)
            askpass = self.work / "askpass"
            askpass.write_text("#!/bin/sh\nprintf '%s\\n' \"$DMDW_SSH_SECRET\"\n")
            askpass.chmod(stat.S_IRWXU)
            env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": "none",
                   "DMDW_SSH_SECRET": secret}
            extra = ("-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1",
                     "-o", "PreferredAuthentications=password,keyboard-interactive")
        r = self._ssh(h.name, "true", env=env, extra=extra)
        if r.returncode != 0:
            raise HarnessError(classify_ssh_failure(h, r.stderr))

    def _check(self, h: InventoryHost, host: SshHost) -> None:
        """Read-only checks of one host after login; HarnessError names the inventory key to fix."""
        where = f"{h.name} ({h.address})"
        if h.sudo:
            r = self._ssh(h.name, "sudo -n true")
            if r.returncode != 0:
                msg = (r.stderr.strip().splitlines() or ["no message"])[-1]
                raise HarnessError(f"{where}: `sudo -n true` fails for {h.user} ({msg}); passwordless sudo is "
                                   f"needed, or set hosts.{h.name}.user = \"root\"")
        if host.run(f"id -u {shlex.quote(h.os_user)}", user="root", check=False).rc != 0:
            raise HarnessError(f"{where}: OS user {h.os_user} does not exist; check hosts.{h.name}.os_user")
        tools = ("dmmonitor",) if h.role == "monitor" else ("dmserver", "dmwatcher", "disql")
        for tool in tools:
            exe = f"{h.dm_home}/bin/{tool}"
            if host.run(f"test -x {shlex.quote(exe)}", user="root", check=False).rc != 0:
                raise HarnessError(f"{where}: DM not found: {exe} is not an executable file; check "
                                   f"hosts.{h.name}.dm_home")
        if host.run(f"test -d {shlex.quote(h.data_path)}", user="root", check=False).rc != 0:
            raise HarnessError(f"{where}: data_path {h.data_path} is not a directory; check hosts.{h.name}.data_path")

    def up(self, topology: Topology | None = None) -> dict[str, Host]:
        """Connect to every inventory host and check it; nothing is written on a host."""
        inv = self.inventory
        known = self.work / "known_hosts"
        self.ssh_config.write_text("".join(ssh_config_block(h, str(self.work), str(known))
                                           for h in inv.hosts.values()))
        lang = topology.lang if topology is not None else inv.lang
        try:
            for h in inv.hosts.values():
                self._open_master(h)
                host = SshHost(self, h.name, h.role, h.address, None, str(self.ssh_config), h.user, h.dm_home, lang)
                self._check(h, host)
                self.hosts[h.name] = host
        except BaseException:
            self._remove()
            self._down = True
            raise
        return self.hosts

    def spawn_log_dir(self, host: Host) -> None:
        """The daemons' log folder, made on first use (a start by the harness is a change to the host)."""
        if host.name not in self._log_ready:
            host.run(f"mkdir -p {LOG_DIR} && chmod 1777 {LOG_DIR}", user="root")
            self._log_ready.add(host.name)

    # ---- dead-man switch for faults ------------------------------------------------------------
    def deadman(self, host: Host) -> str:
        """Start the host's watchdog (once) and the lease renewer; returns the host's dead-man folder."""
        if host.name in self._leases:
            return self._leases[host.name]
        folder = f"{DEADMAN_DIR}/{self.run_id}"
        loop = watchdog_script(folder, self.inventory.deadman_seconds)
        host.run(f"mkdir -p {folder} && touch {folder}/lease && : > {folder}/tcdevs || exit 1; "
                 f"setsid -f sh -c {shlex.quote(loop)} >/dev/null 2>&1 </dev/null", user="root")
        self._leases[host.name] = folder
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="dmdw-deadman-renew", daemon=True)
            self._renewer.start()
        return folder

    def _renew(self) -> None:
        period = max(0.5, self.inventory.deadman_seconds / 4)
        while not self._renew_stop.wait(period):
            for name, folder in list(self._leases.items()):
                with contextlib.suppress(Exception):
                    self.hosts[name].run(f"test -f {folder}/lease && touch {folder}/lease", user="root",
                                         check=False, timeout=10)

    def net_mechanism(self) -> str:
        return "iptables"

    def net_shell(self, host: Host) -> NetShell:
        """The host itself as root (sudo), with the dead-man watchdog running."""
        return DeadManShell(host, self.deadman(host), self.inventory.hosts[host.name].port)

    # ---- teardown ------------------------------------------------------------------------------
    def _remove(self) -> None:
        """Stop renewing, end the watchdogs (their lease removed: rules were healed by chaos), close the
        master connections. The hosts and their DM processes stay as they are."""
        self._renew_stop.set()
        for name, folder in list(self._leases.items()):
            with contextlib.suppress(Exception):
                self.hosts[name].run(f"rm -rf {folder}", user="root", check=False, timeout=10)
        self._leases.clear()
        for name, folder in list(self.scratch.items()):
            with contextlib.suppress(Exception):
                self.hosts[name].run(f"rm -rf {shlex.quote(folder)}", user="root", check=False, timeout=10)
        self.scratch.clear()
        if self.ssh_config.exists():
            for name in self.inventory.hosts:
                with contextlib.suppress(Exception):
                    subprocess.run(["ssh", "-F", str(self.ssh_config), "-O", "exit", name], capture_output=True,
                                   timeout=10, stdin=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)

    def down(self) -> None:
        """Disconnect (the hosts are someone else's: never removed, --keep-topology or not)."""
        if self._down:
            return
        self._remove()
        self._down = True

    def reachable(self, host: Host, port: int) -> tuple[str, int]:
        return (host.external_ip or host.internal_ip, port)

    def cleanup_hint(self) -> str:
        return "nothing to clean: the ssh backend leaves the deployment as it found it"
