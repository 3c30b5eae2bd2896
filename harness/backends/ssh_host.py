"""SshHost: a host reached over ssh with one ssh_config (shared by the vagrant and ssh backends).

Commands go through testinfra's ssh:// backend (plain `ssh -F <config>`), so the connection options
(ControlMaster socket, key, known_hosts, timeouts) live in that one file; interactive tools (dmmonitor,
disql) get `ssh -tt` with the same file. Users other than the login user are reached with runuser (root
login) or `sudo -n` (a login user with passwordless sudo).
"""

from __future__ import annotations

import base64
import shlex
import subprocess
import time
from typing import TYPE_CHECKING, Any

from harness.backends.base import CommandResult, Process
from harness.backends.shell import ShellHost, ShellProcess, host_env, write_line
from harness.errors import HarnessError

if TYPE_CHECKING:
    import pexpect


class SshHost(ShellHost):
    """A machine (VM, server, container with sshd) reached with ssh through an ssh_config file."""

    def __init__(self, backend: Any, name: str, role: str, internal_ip: str, external_ip: str | None,
                 ssh_config: str, ssh_user: str, dm_home: str, lang: str) -> None:
        self.backend, self.name, self.role = backend, name, role
        self.internal_ip, self.external_ip = internal_ip, external_ip
        self.ssh_config, self.ssh_user, self.dm_home = ssh_config, ssh_user, dm_home
        self.env = host_env(dm_home, lang)
        self.processes: list[ShellProcess] = []
        self._ti: Any = None

    @property
    def ti(self) -> Any:  # type: ignore[override]
        """testinfra host ssh://<name> with the backend's ssh_config."""
        if self._ti is None:
            import testinfra

            self._ti = testinfra.get_host(f"ssh://{self.name}", ssh_config=self.ssh_config)
        return self._ti

    def command_line(self, cmd: str, *, user: str, env: dict[str, str] | None, timeout: float | None) -> str:
        """The remote command line: cmd run by bash as user, in its home, with the host's environment."""
        full = {**self.env, **self.backend.extra_env, **(env or {}),
                "HOME": "/root" if user == "root" else f"/home/{user}"}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in full.items())
        run = f"timeout -k 5 {max(timeout, 1):.0f} bash -c {shlex.quote(cmd)}" if timeout else \
            f"bash -c {shlex.quote(cmd)}"
        inner = f"cd ~{user} 2>/dev/null; exec env {exports} {run}"
        if user == self.ssh_user:
            return f"bash -c {shlex.quote(inner)}"
        if self.ssh_user == "root":
            return f"runuser -u {shlex.quote(user)} -- bash -c {shlex.quote(inner)}"
        return f"sudo -n -H -u {shlex.quote(user)} bash -c {shlex.quote(inner)}"

    def run(self, cmd: str, *, user: str = "dmdba", timeout: float = 60, check: bool = True,
            env: dict[str, str] | None = None) -> CommandResult:
        t0 = time.monotonic()
        try:
            r = self.ti.run(self.command_line(cmd, user=user, env=env, timeout=timeout))
        except RuntimeError as exc:  # testinfra: ssh itself failed (exit status 255)
            detail = getattr(exc.args[0], "stderr", "") if exc.args else ""
            raise HarnessError(f"{self.name}: ssh failed: {str(detail).strip() or exc}") from None
        err = r.stderr
        if r.rc == 124:
            err += f"\n[harness] timed out after {timeout}s"
        res = CommandResult(cmd, r.rc, r.stdout, err, time.monotonic() - t0, self.name)
        return res.check() if check else res

    def spawn(self, cmd: str, *, name: str, user: str = "dmdba", env: dict[str, str] | None = None) -> Process:
        prepare = getattr(self.backend, "spawn_log_dir", None)
        if prepare is not None:  # the ssh backend makes the log folder on first use only
            prepare(self)
        return super().spawn(cmd, name=name, user=user, env=env)

    def interactive(self, cmd: str, *, env: dict[str, str] | None = None,
                    encoding: str = "utf-8") -> pexpect.spawn:
        import pexpect

        line = self.command_line("exec " + cmd, user="dmdba", env=env, timeout=None)
        return pexpect.spawn("ssh", ["-F", self.ssh_config, "-tt", self.name, line], encoding=encoding,
                             codec_errors="replace", timeout=30, dimensions=(200, 400))

    def read_file(self, p: str, *, mapped: bool = False) -> str:
        r = self.run(f"cat {shlex.quote(p)}", user="root", check=False)
        if r.rc != 0:
            raise FileNotFoundError(f"{self.name}:{p}: {r.stderr.strip()}")
        return r.stdout

    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        """The text goes through ssh's stdin (a backup copied between hosts is far past a command line's size)."""
        q = shlex.quote(p)
        if len(text) < 32_000:  # small files (configs, scripts): one command
            data = base64.b64encode(text.encode()).decode()
            r0 = self.run(write_line(q, owner, f"echo {data} | base64 -d"), user="root", check=False)
            if r0.rc != 0:
                raise HarnessError(f"writing {p} on {self.name} failed: {r0.stderr.strip()}")
            return
        line = self.command_line(write_line(q, owner, "cat"), user="root", env=None, timeout=600)
        try:
            r = subprocess.run(["ssh", "-F", self.ssh_config, self.name, line], input=text.encode(),
                               capture_output=True, timeout=660)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"writing {p} on {self.name} timed out") from None
        if r.returncode != 0:
            raise HarnessError(f"writing {p} on {self.name} failed: {r.stderr.decode(errors='replace').strip()}")
