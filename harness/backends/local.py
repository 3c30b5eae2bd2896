"""The local backend: the three hosts as process groups on 127.0.x.y with their own root directories.

No root and no Docker: host1/host2/monitor are directories under a per-run temp root, seed paths such as
/opt/dm8/data are re-rooted there by Host.path(), DM_HOME/bin is the venv's bin directory (the emulator's
console scripts), and each host gets its own loopback addresses (internal 127.0.56.20x, external
127.0.0.20x) and free ports. Emulator only (DESIGN.md section 4).

Every process started here carries DMDW_LOCAL_HOST=<run-id>/<host> in its environment; the emulator's
children (a watcher restarting its dmserver) inherit it, so pids() and down() find every process of the
run by scanning /proc, whatever process group or session it ended up in (harness.backends.local_processes).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.base import Backend, BackendOptions, CommandResult, Host, Process, ProxySite
from harness.backends.local_processes import (
    MARK,
    ROOT_VAR,
    cleanup_stale,
    kill_pids,
    marked_pids,
    proc_cmdline,
    reap_marked,
)
from harness.backends.owner import owner_alive, owner_label, process_tag
from harness.errors import HarnessError

if TYPE_CHECKING:
    import pexpect

    from harness.topology import Topology

INTERNAL = {"host1": "127.0.56.201", "host2": "127.0.56.202", "monitor": "127.0.56.203"}
EXTERNAL = {"host1": "127.0.0.201", "host2": "127.0.0.202"}
_PORT_RANGE = (20000, 32000)  # below Linux's ephemeral range, so outgoing connections never take them


def loopback_of(ip: str, prefix: str) -> str:
    """A loopback address for a host beyond the seed's three: prefix + the configured address's last
    octet (192.168.56.204 -> 127.0.56.204), so every host of a larger group gets its own address."""
    return f"{prefix}.{ip.rsplit('.', 1)[1]}"


def venv_bin() -> str:
    """Directory of the running interpreter's console scripts (dminit, dmserver, ... of the emulator)."""
    return str(Path(sys.executable).parent)


def port_free(port: int, ip: str = "0.0.0.0") -> bool:
    """True if a TCP listener could bind ip:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


PORT_CLAIMS = Path(tempfile.gettempdir()) / "dmdw-port-claims"  # one file per claimed port, holding its owner label


def _claim(port: int) -> bool:
    """Claim a port for this process until release_ports(): two local runs picking at the same moment never
    get the same port (a port is only bound when the group starts, seconds after it is picked). A claim
    whose process is gone is taken over."""
    PORT_CLAIMS.mkdir(exist_ok=True)
    f = PORT_CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = f.read_text()
            except OSError:
                return False
            if not owner or owner_alive(owner):  # empty: the claimer is writing it now
                return False
            f.unlink(missing_ok=True)
            continue
        os.write(fd, owner_label().encode())
        os.close(fd)
        return True
    return False


def release_ports(ports: list[int]) -> None:
    """Give back the claims of free_ports() (this process's only)."""
    for port in ports:
        f = PORT_CLAIMS / str(port)
        with contextlib.suppress(OSError):
            if f.read_text() == owner_label():
                f.unlink()


def free_ports(n: int, *, avoid: set[int] | None = None, rng: random.Random | None = None) -> list[int]:
    """n distinct TCP ports that are free on every address and claimed for this process (see _claim)."""
    rng = rng or random.Random()
    taken = set(avoid or ())
    out: list[int] = []
    for _ in range(2000):
        p = rng.randint(*_PORT_RANGE)
        if p in taken:
            continue
        taken.add(p)
        if port_free(p) and _claim(p):
            out.append(p)
            if len(out) == n:
                return out
    raise HarnessError(f"could not find {n} free TCP ports in {_PORT_RANGE}; free some ports and retry")


class LocalProcess(Process):
    """A daemon started by LocalHost.spawn: its own session, output in a log file."""

    def __init__(self, name: str, popen: subprocess.Popen, host: LocalHost, log_path: str) -> None:
        self.name, self.popen, self.host, self.log_path = name, popen, host, log_path
        self.pid = popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.popen.poll() is not None:
            return self.popen.returncode
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return self.popen.wait(10)


class LocalHost(Host):
    """A host as a directory tree plus marked processes."""

    def __init__(self, backend: LocalBackend, name: str, role: str, internal_ip: str,
                 external_ip: str | None, root: Path, dm_home: str, lang: str) -> None:
        self.backend, self.name, self.role = backend, name, role
        self.internal_ip, self.external_ip = internal_ip, external_ip
        self.root = root
        self.dm_home = dm_home
        self.mark = f"{backend.run_id}/{name}"
        self._ti = None
        self.processes: list[LocalProcess] = []
        self.env = {
            "PATH": venv_bin() + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "DM_HOME": self.path(dm_home),
            "LANGUAGE": lang,
            "DM_SVC_PATH": self.path("/etc"),
            "DMEMU_NET_BLOCK_FILE": str(root / "netblock"),
            "HOME": str(root / "home" / "dmdba"),
            MARK: self.mark,
            ROOT_VAR: str(backend.root),
        }

    @property
    def ti(self):  # type: ignore[override]
        """testinfra host (local://): the same machine for every local host; use paths from path()."""
        if self._ti is None:
            import testinfra

            self._ti = testinfra.get_host("local://")
        return self._ti

    def path(self, p: str) -> str:
        if not p.startswith("/"):
            return p
        if p == self.dm_home + "/bin" or p.startswith(self.dm_home + "/bin/"):
            return venv_bin() + p[len(self.dm_home) + 4:]
        if p.startswith(str(self.root) + "/"):
            return p  # already mapped
        return str(self.root) + p

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        full = dict(os.environ)
        full.update(self.env)
        full.update(self.backend.extra_env)
        if env:
            full.update(env)
        full[MARK] = self.mark  # never overridable: it is how teardown finds the process
        return full

    def run(self, cmd: str, *, user: str = "dmdba", timeout: float = 60, check: bool = True,
            env: dict[str, str] | None = None) -> CommandResult:
        t0 = time.monotonic()
        proc = subprocess.Popen(["bash", "-c", cmd], cwd=self.root, env=self._env(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            err += f"\n[harness] timed out after {timeout}s".encode()
            rc = -9
        res = CommandResult(cmd, rc, out.decode(errors="replace"), err.decode(errors="replace"),
                            time.monotonic() - t0, self.name)
        return res.check() if check else res

    def spawn(self, cmd: str, *, name: str, user: str = "dmdba", env: dict[str, str] | None = None) -> Process:
        logdir = self.root / "var" / "log" / "dmdw"
        logdir.mkdir(parents=True, exist_ok=True)
        log_path = logdir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=self.root, env=self._env(env),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        p = LocalProcess(name, popen, self, str(log_path))
        self.processes.append(p)
        return p

    def interactive(self, cmd: str, *, env: dict[str, str] | None = None,
                    encoding: str = "utf-8") -> pexpect.spawn:
        import pexpect

        return pexpect.spawn("bash", ["-c", "exec " + cmd], cwd=str(self.root), env=self._env(env),
                             encoding=encoding, codec_errors="replace", timeout=30, dimensions=(200, 400))

    def read_file(self, p: str, *, mapped: bool = False) -> str:
        return Path(p if mapped else self.path(p)).read_text(errors="replace")

    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        q = Path(p if mapped else self.path(p))
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_text(text)

    def exists(self, p: str, *, mapped: bool = False) -> bool:
        return Path(p if mapped else self.path(p)).exists()

    def pids(self, pattern: str) -> list[int]:
        rx = re.compile(pattern)
        return [pid for pid in marked_pids(self.mark) if rx.search(proc_cmdline(pid))]

    def signal(self, pattern_or_pid: str | int, sig: int) -> None:
        if isinstance(pattern_or_pid, int):
            kill_pids([pattern_or_pid], sig)
        else:
            kill_pids(self.pids(pattern_or_pid), sig)


class LoopbackToxiproxy:
    """A Toxiproxy server as its own process on 127.0.0.1: the official binary when given, else ours."""

    def __init__(self, binary: str | None = None, log_path: str | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cmd = [binary] if binary else [sys.executable, "-m", "harness.hostside.toxiproxy"]
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen([*cmd, "-host", "127.0.0.1", "-port", str(self.port)],
                                     stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"toxiproxy-server exited with status {self.proc.returncode}; see {log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        self.close()
        raise HarnessError("toxiproxy-server did not answer on 127.0.0.1 within 15 s")

    @property
    def api(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


class LocalBackend(Backend):
    """Three hosts as directories + marked process groups on loopback addresses."""

    name = "local"

    def __init__(self, options: BackendOptions) -> None:
        if options.target != "emulator":
            raise HarnessError("the local backend runs the emulator only; use --dw-backend docker or vagrant")
        self.options = options
        self.run_id = f"{options.run_id}-{process_tag()}"
        self.root: Path | None = None
        self.hosts: dict[str, Host] = {}
        self.extra_env: dict[str, str] = {}  # added to every host command (e.g. DMEMU_BUGS for defect runs)
        self.stop_grace = 10.0  # seconds down() waits after SIGTERM before SIGKILL
        self.ports: list[int] = []  # claimed by adapt(), given back by down()

    def adapt(self, topology: Topology) -> Topology:
        t = topology.copy()
        t.paths.dm_home = self.options.dm_home if self.options.dm_home else t.paths.dm_home
        release_ports(self.ports)
        self.ports = free_ports(4 * len(t.db_hosts))
        ports = iter(self.ports)
        for h in t.hosts.values():
            h.internal_ip = INTERNAL.get(h.name) or loopback_of(h.internal_ip, "127.0.56")
            h.external_ip = (EXTERNAL.get(h.name) or loopback_of(h.external_ip or h.internal_ip, "127.0.0")
                             if h.is_db else None)
            if h.is_db:
                h.port_num, h.mal_inst_dw_port, h.mal_port, h.mal_dw_port = (next(ports) for _ in range(4))
        return t

    def up(self, topology: Topology) -> dict[str, Host]:
        if shutil.which("dmserver", path=venv_bin()) is None:
            raise HarnessError(f"the emulator's tools are not installed in {venv_bin()}; "
                               "run scripts/setup (pip install -e emulator)")
        cleanup_stale()
        self.root = Path(tempfile.mkdtemp(prefix=f"dmdw-{self.options.run_id}-"))
        if self.options.keep:
            (self.root / "KEEP").write_text("--keep-topology: processes here are not cleaned by later runs\n")
        for spec in topology.hosts.values():
            hroot = self.root / spec.name
            for d in (topology.paths.dm_home, topology.paths.data_path, "/etc", "/home/dmdba", "/tmp"):
                (hroot / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
            self.hosts[spec.name] = LocalHost(self, spec.name, spec.role, spec.internal_ip, spec.external_ip,
                                              hroot, topology.paths.dm_home, self.options.lang)
        return self.hosts

    def live_pids(self) -> list[int]:
        """Every live process of this run (on any host)."""
        return marked_pids(self.run_id)

    def down(self) -> None:
        """Stop every process of the run, then remove the root; returns only once none is left.

        Each round re-reads /proc and signals what it finds: a process forked after an earlier scan
        (a daemon still starting its children) is found by the next one, and a SIGTERM that a shell
        swallowed just before exec is sent again. SIGTERM for the grace period, SIGKILL after it; our
        own children are reaped so none lingers as a zombie. Done means two scans in a row found no
        live marked process; past the deadline a HarnessError names what is left."""
        left = reap_marked(self.run_id, grace=self.stop_grace, deadline=self.stop_grace + 20, reap=self._reap)
        if left:
            raise HarnessError(f"local run {self.run_id}: processes {left} still alive 20 s after SIGKILL; "
                               f"kill them and remove {self.root}")
        if self.root and not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        if not self.options.keep:
            release_ports(self.ports)

    def _reap(self) -> None:
        """Collect the exit status of the daemons this process started (they are its children)."""
        for h in self.hosts.values():
            for p in getattr(h, "processes", []):
                p.popen.poll()

    def net_mechanism(self) -> str:
        return "blockfile"

    def proxy_site(self, *, binary: str | None = None, image: str | None = None,
                   log_path: str | None = None) -> ProxySite:
        """A toxiproxy-server process on loopback; the emulator's dials reach it through DMEMU_DIAL_MAP."""
        server = LoopbackToxiproxy(binary, log_path)
        return ProxySite(server.api, "127.0.0.1", "dial_map", server.close)

    def reachable(self, host: Host, port: int) -> tuple[str, int]:
        return (host.external_ip or host.internal_ip, port)

    def cleanup_hint(self) -> str:
        # kill until none is left (a watcher may restart its dmserver meanwhile; SIGKILL after ~20 s),
        # and remove the root only then: exiting daemons still write there
        find = f"grep -l {MARK}={self.run_id} /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3"
        return (f"kept local topology under {self.root}; stop it with: "
                f"for i in $(seq 100); do p=$({find}); [ -z \"$p\" ] && break; "
                f"kill $([ $i -gt 60 ] && echo -9) $p 2>/dev/null; sleep 0.3; done; rm -rf {self.root}")
