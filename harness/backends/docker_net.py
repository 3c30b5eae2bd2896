"""The docker backend's helpers for chaos: a shell in a container's network namespace and a Toxiproxy
server in its own container, both labelled so the backend's down() removes them whatever happens."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from harness.errors import HarnessError


class NetnsHelper:
    """A helper container sharing a docker host's network namespace, with NET_ADMIN, for iptables/tc
    (the hosts' own image need not carry them)."""

    def __init__(self, container: str, image: str, labels: dict[str, str], docker: str = "docker") -> None:
        self.container = container
        self.name = f"{container}-nethelper"
        self.docker = docker
        running = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", self.name],
                                 capture_output=True, text=True, timeout=60)
        if running.returncode == 0 and running.stdout.strip() == "true":
            return  # a helper left by an earlier Chaos of this run: reuse it
        subprocess.run([docker, "rm", "-f", self.name], capture_output=True, timeout=60)
        args = [docker, "run", "-d", "--rm", "--name", self.name, "--network", f"container:{container}",
                "--cap-add", "NET_ADMIN", "--init", "--entrypoint", "sleep"]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        res = subprocess.run([*args, image, "infinity"], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise HarnessError(f"cannot start the network helper for {container}: {res.stderr.strip()}")

    def sh(self, cmd: str, check: bool = True) -> str:
        res = subprocess.run([self.docker, "exec", self.name, "sh", "-c", cmd], capture_output=True,
                             text=True, timeout=60)
        if check and res.returncode != 0:
            raise HarnessError(f"{self.container}: `{cmd}` failed: {res.stderr.strip() or res.stdout.strip()}")
        return res.stdout

    def close(self) -> None:
        subprocess.run([self.docker, "rm", "-f", self.name], capture_output=True, timeout=60)


class ToxiproxyContainer:
    """A Toxiproxy server in its own container on the group's internal network, API published on loopback.

    `image` is the official image (ghcr.io/shopify/toxiproxy) when the user names one; otherwise the
    helper image runs the harness's server (harness/hostside/toxiproxy) copied in as a zip application,
    with the same flags."""

    API = 8474
    ZIPAPP = "/opt/toxiproxy-server.pyz"

    def __init__(self, network: str, helper_image: str, labels: dict[str, str], name: str,
                 image: str | None = None, docker: str = "docker") -> None:
        self.docker, self.name = docker, name
        lab = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
        flags = ["-host=0.0.0.0", f"-port={self.API}"]
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
        publish = ["--network", network, "-p", f"127.0.0.1::{self.API}"]
        if image:
            self._run([docker, "create", "--name", name, *lab, *publish, image, *flags])
        else:
            from harness.hostside import toxiproxy_zipapp

            self._run([docker, "create", "--name", name, *lab, *publish, "--entrypoint", "python3", helper_image,
                       self.ZIPAPP, *flags])
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "toxiproxy-server.pyz"
                src.write_bytes(toxiproxy_zipapp())
                self._run([docker, "cp", str(src), f"{name}:{self.ZIPAPP}"])
        self._run([docker, "start", name])
        mapped = self._run([docker, "port", name, f"{self.API}/tcp"]).splitlines()[0]
        self.port = int(mapped.rsplit(":", 1)[1])
        self.ip = self._run([docker, "inspect", "-f",
                             f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', name]).strip()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as c:
                c.sendall(b"GET /version HTTP/1.0\r\n\r\n")
                if c.recv(100).startswith(b"HTTP/1."):
                    return
            time.sleep(0.1)
        self.close()
        raise HarnessError(f"the toxiproxy container {name} did not answer within 20 s")

    def _run(self, args: list[str]) -> str:
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise HarnessError(f"`{' '.join(args[:3])} ...` failed: {res.stderr.strip()}")
        return res.stdout

    @property
    def api(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        subprocess.run([self.docker, "rm", "-f", self.name], capture_output=True, timeout=60)
