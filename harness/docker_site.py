"""A docker "site" to accept: three containers with sshd running a group the harness built by the seed's
procedure (docker backend), described by a site.toml for the ssh backend, as if someone else's.

    python -m harness.docker_site [--lock F] DIR   # builds it, writes DIR/site.toml and DIR/id_ed25519, then holds
                                          # the site until Ctrl-C/SIGTERM, when it removes the containers
    export DMDW_SYSDBA_PASSWORD=...       # the seed's SYSDBA password (printed as an export line)
    pytest suites/smoke suites/conformance --dw-backend ssh --dw-inventory DIR/site.toml --dw-existing

Why it holds the site in the foreground: the docker backend labels its containers with their owner
process and other runs remove the objects of dead owners, so the process that made the site stays alive
for as long as the site is used (tests/ builds it inside the test session the same way).
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from harness.group import Group
from harness.images import file_lock
from harness.settings import Settings

PASSWORD_ENV = "DMDW_SYSDBA_PASSWORD"


class DockerSite:
    """The site: a kept docker group with sshd on every host, and its inventory file."""

    def __init__(self, folder: str | Path, *, deadman_seconds: int = 60) -> None:
        self.folder = Path(folder).resolve()
        self.deadman_seconds = deadman_seconds
        self.group: Group | None = None
        self.inventory = self.folder / "site.toml"
        self.key = self.folder / "id_ed25519"

    def make(self) -> Path:
        """Build the group, start sshd with this site's key for root and dmdba; write site.toml."""
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = Settings.build(target="emulator", backend="docker", keep=True)
        self.group = Group(settings, self.folder / "build", run_id=f"site-{uuid.uuid4().hex[:6]}")
        self.group.up()
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dmdw-site", "-f", str(self.key)],
                           check=True)
        pub = shlex.quote(self.key.with_suffix(".pub").read_text().strip())
        user = settings.topology.os.user
        for h in self.group.hosts.values():
            h.run(f"for d in /root /home/{user}; do mkdir -p $d/.ssh && echo {pub} > $d/.ssh/authorized_keys && "
                  f"chmod 700 $d/.ssh && chmod 600 $d/.ssh/authorized_keys; done && chown -R {user}: /home/{user}/.ssh"
                  " && mkdir -p /run/sshd && ssh-keygen -A >/dev/null && /usr/sbin/sshd", user="root")
        self.inventory.write_text(self.render())
        return self.inventory

    def render(self, **override: object) -> str:
        """site.toml for this site; override replaces host keys for every host (bad-inventory tests)."""
        assert self.group is not None
        t = self.group.topology
        out = ["[site]", 'name = "docker-site"', f'sysdba_password = "env:{PASSWORD_ENV}"',
               f"deadman_seconds = {self.deadman_seconds}", ""]
        for spec in t.hosts.values():
            keys: dict[str, object] = {"role": spec.role, "address": spec.internal_ip, "port": 22, "user": "root",
                                       "key_file": str(self.key), "sudo": False, "dm_home": t.paths.dm_home,
                                       "data_path": t.paths.data_path, "os_user": t.os.user, **override}
            out.append(f"[hosts.{spec.name}]")
            for k, v in keys.items():
                if v is not None:
                    out.append(f"{k} = {_toml(v)}")
            out.append("")
        return "\n".join(out)

    @property
    def password(self) -> str:
        assert self.group is not None
        return self.group.topology.password

    def remove(self) -> None:
        """Remove the containers and networks (the kept group, torn down for real)."""
        if self.group is not None and self.group.backend is not None:
            self.group.backend.options.keep = False
            self.group.backend.down()


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str]) -> int:
    lock = None
    if len(argv) == 3 and argv[0] == "--lock":  # hold this flock(1) file while the site is built only
        lock, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print("usage: python -m harness.docker_site [--lock FILE] DIR", file=sys.stderr)
        return 2
    site = DockerSite(argv[0])

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if lock:
            with file_lock(Path(lock)):
                path = site.make()
        else:
            path = site.make()
        print(f"site ready: {path}\nexport {PASSWORD_ENV}={site.password}\n(Ctrl-C removes the site)", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        site.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
