"""Helpers for the emulator tests (imported by conftest.py and the tests): free ports, tool runners,
dminit, and dmserver processes with guaranteed teardown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
PWD = "Mema_1234"
SEED_INIT = ["PAGE_SIZE=32", "EXTENT_SIZE=32", "CHARSET=1", "CASE_SENSITIVE=0", "LENGTH_IN_CHAR=0",
             "BLANK_PAD_MODE=1"]


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DMEMU_BUGS", "LANGUAGE", "DM_LANG")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DM_SVC_PATH"] = str(root / "etc")
    env["DMEMU_LISTEN_HOST"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run(root: Path, *args: str, input: str | None = None, timeout: float = 60, **env: str
        ) -> subprocess.CompletedProcess:
    """Run a console tool (dminit, disql, dmrman...) and capture its output."""
    return subprocess.run([str(BIN / args[0]), *args[1:]], input=input, capture_output=True, text=True,
                          timeout=timeout, env=tool_env(root, **env))


@dataclass
class Server:
    """A dmserver process started on an ini; stop() is SIGTERM with a SIGKILL fallback."""

    root: Path
    ini: Path
    port: int
    mount: bool = False
    env: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def start(self, timeout: float = 30) -> Server:
        self.log = self.root / f"dmserver-{self.port}-{time.monotonic_ns()}.out"
        args = [str(BIN / "dmserver"), str(self.ini)] + (["mount"] if self.mount else [])
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=tool_env(self.root, **self.env), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if "SYSTEM IS READY." in text:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"dmserver exited rc={self.proc.returncode}: {text}")
            time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"dmserver not ready after {timeout}s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def stop(self, timeout: float = 20) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Db:
    """A database created by dminit in a temp install tree."""

    root: Path
    name: str
    instance: str
    port: int
    servers: list[Server] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.root / "opt/dm8/data" / self.name

    @property
    def ini(self) -> Path:
        return self.dir / "dm.ini"

    def server(self, mount: bool = False, **env: str) -> Server:
        s = Server(self.root, self.ini, self.port, mount, env)
        self.servers.append(s)
        return s.start()

    def disql(self, script: str, login: str | None = None, **env: str) -> subprocess.CompletedProcess:
        login = login or f"SYSDBA/{PWD}@127.0.0.1:{self.port}"
        return run(self.root, "disql", login, input=script, **env)

    def connect(self, autocommit: bool = True):
        import dmPython
        return dmPython.connect(user="SYSDBA", password=PWD, server="127.0.0.1", port=self.port,
                                autoCommit=autocommit)

    def stop_all(self) -> None:
        for s in self.servers:
            try:
                s.stop()
            except Exception:                    # noqa: BLE001 - make sure it is gone
                s.kill()


def dminit(root: Path, name: str = "memadb", instance: str = "mema1", port: int | None = None,
           **env: str) -> Db:
    port = port or free_port()
    r = run(root, "dminit", f"PATH={root / 'opt/dm8/data'}", f"DB_NAME={name}", f"INSTANCE_NAME={instance}",
            f"PORT_NUM={port}", *SEED_INIT, f"SYSDBA_PWD={PWD}", **env)
    assert r.returncode == 0, r.stdout + r.stderr
    return Db(root, name, instance, port)


