"""The backend contract: where the three hosts live and how the harness runs commands on them.

Every backend (local, docker, vagrant) provides Hosts with the same methods, so the procedure, the
monitor driver and the suites never care which backend runs (DESIGN.md section 4). Commands are shell
command lines as an operator would type them on the host; paths in them are seed paths mapped through
Host.path().
"""

from __future__ import annotations

import abc
import dataclasses
import signal as _signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import CommandError, HarnessError

if TYPE_CHECKING:
    import pexpect

    from harness.topology import Topology


@dataclasses.dataclass
class CommandResult:
    """The outcome of one host command."""

    cmd: str
    rc: int
    stdout: str
    stderr: str
    duration: float
    host: str = ""

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.rc == 0

    @property
    def output(self) -> str:
        """stdout followed by stderr (what an operator would see on a terminal)."""
        if self.stderr and self.stdout:
            return self.stdout.rstrip("\n") + "\n" + self.stderr
        return self.stdout or self.stderr

    def check(self) -> CommandResult:
        """Raise CommandError unless the command succeeded; returns self for chaining."""
        if self.rc != 0:
            raise CommandError(self.host, self.cmd, self.rc, self.output)
        return self


class Process(abc.ABC):
    """A background daemon (dmserver, dmwatcher, dmmonitor ...) started by Host.spawn."""

    name: str
    pid: int
    host: Host
    log_path: str  # path on the host (already mapped) where stdout+stderr go

    @abc.abstractmethod
    def alive(self) -> bool:
        """True while the process runs (a zombie counts as dead)."""

    @abc.abstractmethod
    def stop(self, sig: int = _signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send sig, wait up to timeout for exit, then SIGKILL; returns the exit status if known."""

    def log(self) -> str:
        """The daemon's output so far."""
        try:
            return self.host.read_file(self.log_path, mapped=True)
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pid={self.pid} on {self.host.name}>"


class Host(abc.ABC):
    """One of host1, host2, monitor. Roles are the initial ones from the topology."""

    name: str
    role: str  # "primary" | "standby" | "monitor"
    internal_ip: str
    external_ip: str | None
    ti: Any  # testinfra host (docker://, local://, ssh://)
    dm_home: str = "/opt/dm8"  # seed path of DM_HOME on this host
    env: dict[str, str]  # environment every command on this host gets (LANGUAGE, DM_HOME, PATH ...)
    systemd: bool = False  # systemd is PID 1: the procedure uses the seed's service units (harness.services)

    # ---- paths -------------------------------------------------------------------------------
    def path(self, p: str) -> str:
        """Seed path -> path on this backend (the local backend re-roots /opt/dm8 etc.)."""
        return p

    def bin(self, tool: str) -> str:
        """Mapped path of a DM tool (DM_HOME/bin/<tool>)."""
        return self.path(f"{self.dm_home}/bin/{tool}")

    # ---- commands ----------------------------------------------------------------------------
    @abc.abstractmethod
    def run(
        self,
        cmd: str,
        *,
        user: str = "dmdba",
        timeout: float = 60,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run a shell command line to completion; raise CommandError if check and rc != 0."""

    @abc.abstractmethod
    def spawn(
        self, cmd: str, *, name: str, user: str = "dmdba", env: dict[str, str] | None = None
    ) -> Process:
        """Start a background daemon whose output goes to a log file; it survives this call."""

    @abc.abstractmethod
    def interactive(
        self, cmd: str, *, env: dict[str, str] | None = None, encoding: str = "utf-8"
    ) -> pexpect.spawn:
        """A pexpect session on this host (dmmonitor, disql, dmrman)."""

    # ---- files -------------------------------------------------------------------------------
    @abc.abstractmethod
    def read_file(self, p: str, *, mapped: bool = False) -> str:
        """Text of a file; p is a seed path unless mapped=True (already passed through path())."""

    @abc.abstractmethod
    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        """Create or replace a file (parents created), owned by owner where ownership exists."""

    def exists(self, p: str, *, mapped: bool = False) -> bool:
        """True if the path exists on the host."""
        q = p if mapped else self.path(p)
        return self.run(f"test -e '{q}'", check=False, user="root").rc == 0

    # ---- processes ---------------------------------------------------------------------------
    @abc.abstractmethod
    def pids(self, pattern: str) -> list[int]:
        """Pids of this host's processes whose command line matches the regex pattern."""

    @abc.abstractmethod
    def signal(self, pattern_or_pid: str | int, sig: int) -> None:
        """Send sig to one pid or to every process of this host matching pattern."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ({self.role}) {self.internal_ip}>"


class NetShell(Protocol):
    """A root shell in one host's network namespace (iptables, tc, the NFQUEUE delayer run there)."""

    def sh(self, cmd: str, check: bool = True) -> str:
        """Run a shell command line; its stdout. Raises HarnessError on failure when check."""

    def close(self) -> None:
        """Remove whatever the shell needed (a helper container); the host itself stays."""


@dataclasses.dataclass
class ProxySite:
    """A Toxiproxy server placed by Backend.proxy_site() where the hosts' dials can reach it.

    steer: how a host's dial to ip:port is sent into its proxy: "dial_map" (the emulator's
    DMEMU_DIAL_MAP in Host.env, before the processes start) or "dnat" (iptables DNAT to dnat_ip in the
    dialer's namespace, through Backend.net_shell())."""

    api: tuple[str, int]  # the server's HTTP API as the pytest process dials it
    listen_host: str  # the address its proxies listen on
    steer: str  # "dial_map" | "dnat"
    close: Callable[[], None]
    dnat_ip: str | None = None
    ports: Iterator[int] | None = None  # listen ports for the proxies (None: free loopback ports)


class Backend(abc.ABC):
    """Where the hosts live. up() makes them, down() removes everything it made."""

    name: str
    hosts: dict[str, Host]

    def adapt(self, topology: Topology) -> Topology:
        """The topology as this backend runs it (e.g. the local backend's 127.x addresses and free
        ports). Default: unchanged. Called before up(); rendering uses the adapted topology."""
        return topology

    @abc.abstractmethod
    def up(self, topology: Topology) -> dict[str, Host]:
        """Create the hosts (software installed, DM_HOME ready); returns them by host name."""

    @abc.abstractmethod
    def down(self) -> None:
        """Remove everything up() created; nothing (process, container, network) outlives it."""

    def client_env(self) -> dict[str, str]:
        """Environment for dmPython in the pytest process (DM_SVC_PATH is set by harness.sql)."""
        return {}

    def reachable(self, host: Host, port: int) -> tuple[str, int]:
        """Address the pytest process dials to reach host:port (external IP by default)."""
        return (host.external_ip or host.internal_ip, port)

    def cleanup_hint(self) -> str:
        """How to remove a topology kept with --keep-topology (printed and put in the report)."""
        return ""

    # ---- what chaos needs (harness.chaos never asks which backend it runs on) ----------------------
    def net_mechanism(self) -> str:
        """How link faults reach these hosts: "iptables" (rules and tc through net_shell()), "blockfile"
        (the emulator's DMEMU_NET_BLOCK_FILE in Host.env; no root) or "" (none)."""
        return ""

    def net_shell(self, host: Host) -> NetShell:
        """A root shell in host's network namespace (for the "iptables" mechanism)."""
        raise HarnessError(f"the {self.name} backend gives no shell in a host's network namespace")

    def proxy_site(self, *, binary: str | None = None, image: str | None = None,
                   log_path: str | None = None) -> ProxySite:
        """Start a Toxiproxy server for link faults (the official binary or image when given, else the
        harness's own) where the hosts reach it."""
        raise HarnessError(f"the {self.name} backend cannot host a Toxiproxy server; use Chaos(..., proxy=False)")


@dataclasses.dataclass
class BackendOptions:
    """What the plugin passes to a backend's constructor: Backend(options)."""

    target: str = "emulator"  # emulator | dm8
    dm_home: str = "/opt/dm8"
    dm8_image: str | None = None
    dm8_installer: str | None = None
    lang: str = "cn"  # LANGUAGE for DM tools (cn | en)
    run_id: str = "adhoc"
    run_dir: str | None = None  # reports/<run-id>/ (logs may be copied there)
    keep: bool = False  # --keep-topology
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
