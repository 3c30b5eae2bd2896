"""Hosts reached by command lines (docker exec, ssh) and the backends that own them.

DockerBackend and VagrantBackend share all of this: daemons as their own sessions started through
run(), pids and signals read with ps/kill, the environment every host command gets, and the
down()/atexit/reachable() skeleton (down() cannot be cut short by Ctrl-C; --keep-topology keeps hosts).
"""

from __future__ import annotations

import abc
import contextlib
import re
import shlex
import signal
import threading
import uuid

from harness.backends.base import Backend, BackendOptions, Host, Process
from harness.errors import HarnessError
from harness.wait import wait_until

LOG_DIR = "/var/log/dmdw"
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def write_line(q: str, owner: str, fill: str) -> str:
    """The root shell line that writes file `q` (quoted) with `fill` (`cat` for stdin), owned by `owner`; a
    missing parent directory is made and given to `owner` too, so a file the harness adds under DM_HOME keeps
    the seed's `chown -R dmdba:dinstall` true."""
    d = f"\"$(dirname {q})\""
    line = f"{fill} > {q}"
    if owner == "root":
        return f"mkdir -p {d} && {line}"
    o = shlex.quote(owner)
    return f"{{ [ -d {d} ] || {{ mkdir -p {d} && chown {o}: {d}; }}; }} && {line} && chown {o}: {q}"


def host_env(dm_home: str, lang: str) -> dict[str, str]:
    """The environment every command on a shell host runs with (DM tools on PATH, their language)."""
    return {"PATH": f"{SYS_PATH}:{dm_home}/bin", "DM_HOME": dm_home, "LANGUAGE": lang,
            "LANG": "C.UTF-8", "LD_LIBRARY_PATH": f"{dm_home}/bin"}


class ShellProcess(Process):
    """A daemon started by ShellHost.spawn: its own session on the host; the pid is the host's own."""

    def __init__(self, name: str, pid: int, host: ShellHost, log_path: str, marker: str = "") -> None:
        self.name, self.pid, self.host, self.log_path = name, pid, host, log_path
        self.marker = marker

    def log(self) -> str:
        """This process's output only: the log file is appended to by every start under the same name (a
        restore's procedure numbers its daemons afresh), so an earlier run's `SYSTEM IS READY` must not count."""
        text = super().log()
        if self.marker and self.marker in text:
            return text.rsplit(self.marker + "\n", 1)[-1]
        return text

    def alive(self) -> bool:
        r = self.host.run(f"awk '{{print $3}}' /proc/{self.pid}/stat 2>/dev/null", user="root", check=False)
        return r.rc == 0 and r.stdout.strip() not in ("", "Z", "X")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if not self.alive():
            return None
        self.host.run(f"kill -{int(sig)} -- -{self.pid} 2>/dev/null || kill -{int(sig)} {self.pid}",
                      user="root", check=False)
        try:
            wait_until(lambda: not self.alive(), timeout, f"{self.name} (pid {self.pid}) on {self.host.name} to exit")
        except TimeoutError:
            self.host.run(f"kill -9 -- -{self.pid} 2>/dev/null; kill -9 {self.pid}", user="root", check=False)
            wait_until(lambda: not self.alive(), 10, f"{self.name} (pid {self.pid}) to die after SIGKILL")
        return None


class ShellHost(Host):
    """A host reached by command lines (docker exec, ssh): daemons, pids and signals built on run().

    Subclasses provide run(), interactive(), read_file(), write_file() and `processes`."""

    processes: list[ShellProcess]

    def spawn(self, cmd: str, *, name: str, user: str = "dmdba", env: dict[str, str] | None = None) -> Process:
        log_path = f"{LOG_DIR}/{name}.log"
        marker = f"#dmdw spawn {name} {uuid.uuid4().hex}"
        launcher = (f"cd ~ || exit 1; echo {shlex.quote(marker)} >>{shlex.quote(log_path)} || exit 1; "
                    f"setsid bash -c {shlex.quote('exec ' + cmd)} >>{shlex.quote(log_path)} 2>&1 "
                    "</dev/null & echo $!")
        r = self.run(launcher, user=user, env=env, timeout=30)
        pid = int(r.stdout.strip().splitlines()[-1])
        p = ShellProcess(name, pid, self, log_path, marker)
        self.processes.append(p)
        return p

    def pids(self, pattern: str) -> list[int]:
        r = self.run("ps -eo pid=,args=", user="root", check=False)
        rx = re.compile(pattern)
        out = []
        for line in r.stdout.splitlines():
            pid, _, args = line.strip().partition(" ")
            if pid.isdigit() and rx.search(args) and not args.startswith(("ps -eo", "timeout -k")):
                out.append(int(pid))
        return out

    def signal(self, pattern_or_pid: str | int, sig: int) -> None:
        pids = [pattern_or_pid] if isinstance(pattern_or_pid, int) else self.pids(pattern_or_pid)
        if pids:
            self.run(f"kill -{int(sig)} {' '.join(map(str, pids))}", user="root", check=False)


class RootShell:
    """A NetShell over Host.run as root, for hosts that are real machines (their namespace is theirs)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def sh(self, cmd: str, check: bool = True) -> str:
        res = self.host.run(cmd, user="root", check=False)
        if check and res.rc != 0:
            raise HarnessError(f"{self.host.name}: `{cmd}` failed: {(res.stderr or res.stdout).strip()}")
        return res.stdout

    def close(self) -> None:
        """Nothing to remove: the machine is the host."""


class ShellBackend(Backend):
    """A backend of ShellHosts: subclasses set `run_id`, `options`, `hosts`, `_down` and write _remove()."""

    options: BackendOptions
    run_id: str
    _down: bool

    @abc.abstractmethod
    def _remove(self) -> None:
        """Remove what up() made (containers and networks, machines); errors are the caller's to bear."""

    def down(self) -> None:
        """Remove this run's hosts (unless --keep-topology); Ctrl-C cannot cut it short."""
        if self._down:
            return
        if self.options.keep and self.hosts:
            self._down = True
            return
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._remove()
            self._down = True
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)

    def _atexit(self) -> None:
        with contextlib.suppress(Exception):
            self.down()

    def reachable(self, host: Host, port: int) -> tuple[str, int]:
        """The host's external address, else its internal one (the pytest host routes to both)."""
        if self._down or not self.hosts:
            raise HarnessError(f"the {self.name} topology {self.run_id} is not up; nothing to dial on {host.name}")
        return (host.external_ip or host.internal_ip, port)
