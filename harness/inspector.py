"""Inspector: read-only looks at the built group as an operator takes them (ini files, OS accounts, TCP
ports); the conformance suite's `inspect` fixture."""

from __future__ import annotations

import re
import shlex
from typing import Any

from harness.render import parse_ini


class Inspector:
    """Read-only looks at the built hosts: ini files parsed, OS facts, TCP reachability (DM8's interfaces only)."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self.t = group.topology
        self.hosts = group.hosts

    def ini(self, host: str, seed_path: str) -> dict[str, dict[str, Any]]:
        """A DM ini file on a host, parsed ({section: {KEY: value}}, keys before any section under "")."""
        return parse_ini(self.hosts[host].read_file(seed_path))

    def where(self, host: str, seed_path: str, key: str, section: str | None = None) -> str:
        """"host:path:line" of a key in a DM ini file (the first occurrence, inside section when given), so a
        deviation names the line an operator edits; "host:path" when the key is absent."""
        path = self.hosts[host].path(seed_path)
        current = ""
        for n, raw in enumerate(self.hosts[host].read_file(seed_path).splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
            elif "=" in line and line.split("=", 1)[0].strip().upper() == key.upper() and \
                    (section is None or current.upper() == section.upper()):
                return f"{host}:{path}:{n}"
        return f"{host}:{path}"

    def deviations(self, host: str, seed_path: str, got: dict[str, str], want: dict[str, str],
                   section: str | None = None) -> list[str]:
        """One "host:path:line KEY = got (seed: want)" per key whose value differs."""
        return [f"{self.where(host, seed_path, k, section)} {k} = {got.get(k)} (seed: {v})"
                for k, v in want.items() if got.get(k) != v]

    def sh(self, host: str, cmd: str, *, user: str = "root") -> str:
        """stdout of a shell command on a host (it must succeed)."""
        return self.hosts[host].run(cmd, user=user, timeout=30).stdout.strip()

    def accepts(self, from_host: str, ip: str, port: int) -> bool:
        """True if a TCP connection from `from_host` to ip:port is accepted (bash /dev/tcp, like telnet)."""
        probe = f"exec 3<>/dev/tcp/{ip}/{port}"
        res = self.hosts[from_host].run(f"timeout 3 bash -c {shlex.quote(probe)}", user="root", check=False,
                                        timeout=10)
        return res.rc == 0

    def provisions_os(self) -> bool:
        """Whether the backend creates the seed's OS accounts (三.1): docker and vagrant do, local does not
        (its hosts are directories of the current user)."""
        backend = self.group.backend
        flag = getattr(backend, "provisions_os_users", None)
        return bool(flag) if flag is not None else backend.name != "local"


def value(section: dict[str, Any], key: str) -> str:
    """One value of a parsed ini section (KeyError names the missing key)."""
    v = section[key.upper()]
    return v[-1] if isinstance(v, list) else v


def as_list(v: Any) -> list[str]:
    return v if isinstance(v, list) else [v]


def norm_path(p: str) -> str:
    return re.sub(r"/+$", "", p)
