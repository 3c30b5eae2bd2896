"""A second "machine" for remote-worker tests: an sshd of the test's own on 127.0.0.2 (loopback only).

Own config, port, host key and authorized key under a temp dir; public-key login only; stopped (its
process, by pid) when the context ends. openssh-server (Debian) is installed here only when the tests run
as root and it is missing; Debian's policy-rc.d or a machine without an init keeps the package's own
service from starting, and this sshd never touches /etc/ssh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADDRESS = "127.0.0.2"
SSHD = Path("/usr/sbin/sshd")


def ensure_openssh_server() -> str | None:
    """None when /usr/sbin/sshd is there (installed now if root); else why it cannot be."""
    if SSHD.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "openssh-server is not installed and this is not root on Debian: apt-get install openssh-server"
    proc = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                           "-o", "DPkg::Lock::Timeout=600", "openssh-server"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return None if SSHD.exists() else f"apt-get install openssh-server failed: {proc.stdout[-500:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((ADDRESS, 0))
        return s.getsockname()[1]


@dataclass
class LoopSshd:
    """What a client needs: the ssh config (Host `alias`) naming port, key and known-hosts file."""

    alias: str
    port: int
    ssh_config: Path
    pid: int


@contextlib.contextmanager
def loop_sshd(folder: Path, alias: str = "dmdw-remote") -> Iterator[LoopSshd]:
    """Run an sshd on 127.0.0.2 for the duration of the block (keys and config in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"ListenAddress {ADDRESS}", f"Port {port}", f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "UsePAM no", "StrictModes no", "X11Forwarding no", "AllowTcpForwarding no", "PrintMotd no",
        f"AllowUsers {_user()}", "PermitUserEnvironment no", ""]))
    client = folder / "ssh_config"
    client.write_text("\n".join([
        f"Host {alias}", f"  HostName {ADDRESS}", f"  Port {port}", f"  User {_user()}",
        f"  IdentityFile {folder / 'client_key'}", "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {folder / 'known_hosts'}", "  StrictHostKeyChecking accept-new",
        "  BatchMode yes", "  LogLevel ERROR", ""]))
    made_privsep = _privsep_dir()
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "sshd.log", "w"), start_new_session=True)  # noqa: SIM115
    try:
        _wait_listening(port, proc, folder)
        yield LoopSshd(alias, port, client, proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # sshd and the sessions it forked (its own group)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if made_privsep:
            shutil.rmtree("/run/sshd", ignore_errors=True)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _privsep_dir() -> bool:
    """sshd wants /run/sshd (its privilege-separation directory); made here when missing, True if so."""
    path = Path("/run/sshd")
    if path.is_dir():
        return False
    path.mkdir(mode=0o755)
    return True


def _wait_listening(port: int, proc: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection((ADDRESS, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {ADDRESS}:{port} within 15 s")
