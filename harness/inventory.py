"""Inventory: the hosts of an existing deployment (--dw-inventory site.toml), validated once.

Why a module of its own: the ssh backend, discovery and the report all read it, and every bad entry must
give one sentence naming the host and the key to fix (a UsageError), before anything touches a host.
Passwords are never in the file: a password field names its source, "env:NAME" or "prompt".

    [site]
    name = "acceptance-lab"
    sysdba_password = "env:DMDW_SYSDBA_PASSWORD"   # or "prompt"
    deadman_seconds = 60                           # iptables rules expire unless the harness renews them

    [hosts.host1]
    role = "primary"            # primary | standby | monitor (what the operator expects; live roles win)
    address = "192.168.0.201"   # where ssh reaches the host
    port = 22
    user = "root"               # ssh login user
    key_file = "~/.ssh/id_ed25519"   # or: password = "env:NAME" | "prompt"
    sudo = false                # true: the login user has passwordless sudo (sudo -n)
    dm_home = "/opt/dm8"
    data_path = "/opt/dm8/data"
    os_user = "dmdba"
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from pathlib import Path
from typing import Any

import tomllib

from harness.errors import UsageError

ROLES = ("primary", "standby", "monitor")
HOST_KEYS = {"role", "address", "port", "user", "key_file", "password", "sudo", "dm_home", "data_path", "os_user",
             "known_hosts"}
HOST_REQUIRED = ("role", "address", "user", "dm_home", "data_path")
SITE_KEYS = {"name", "sysdba_password", "deadman_seconds", "lang"}

DESTRUCTIVE_SKIP = "destructive on an existing deployment"  # skip reason; the report lists these tests


@dataclasses.dataclass
class InventoryHost:
    """One host of the inventory (no secret in it: password_source says where the password comes from)."""

    name: str
    role: str
    address: str
    user: str
    dm_home: str
    data_path: str
    port: int = 22
    key_file: str | None = None
    password_source: str | None = None  # "env:NAME" | "prompt"
    sudo: bool = False
    os_user: str = "dmdba"
    known_hosts: str | None = None


@dataclasses.dataclass
class Inventory:
    """The site: its hosts by name, where the SYSDBA password comes from, the dead-man timeout."""

    path: str
    name: str
    hosts: dict[str, InventoryHost]
    sysdba_password_source: str
    deadman_seconds: int = 60
    lang: str = "cn"

    def password(self, source: str, what: str) -> str:
        """Resolve a password source ("env:NAME" or "prompt"); UsageError names what is missing."""
        if source == "prompt":
            try:
                return getpass.getpass(f"{what}: ")
            except (EOFError, OSError):
                raise UsageError(f"{self.path}: {what} is to be prompted for but there is no terminal; "
                                 f"use \"env:NAME\" instead") from None
        env = source.removeprefix("env:")
        value = os.environ.get(env)
        if not value:
            raise UsageError(f"{self.path}: {what} comes from the environment variable {env}, which is not set")
        return value

    def sysdba_password(self) -> str:
        return self.password(self.sysdba_password_source, "the SYSDBA password")


def _source(path: str, where: str, key: str, raw: Any) -> str:
    """A password field: "env:NAME" or "prompt"; anything else is refused (no passwords in the file)."""
    if raw == "prompt" or (isinstance(raw, str) and raw.startswith("env:") and len(raw) > 4):
        return raw
    raise UsageError(f"{path}: {where}.{key} must be \"env:NAME\" or \"prompt\" (passwords are never written "
                     "in the inventory)")


def _typed(path: str, where: str, key: str, raw: Any, kind: type) -> Any:
    if kind is int and isinstance(raw, bool) or not isinstance(raw, kind):
        raise UsageError(f"{path}: {where}.{key} must be {'an integer' if kind is int else kind.__name__}; "
                         f"got {raw!r}")
    return raw


def _host(path: str, name: str, raw: Any) -> InventoryHost:
    where = f"hosts.{name}"
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: [{where}] must be a table of keys")
    unknown = sorted(set(raw) - HOST_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown key {where}.{unknown[0]} (known: {', '.join(sorted(HOST_KEYS))})")
    missing = [k for k in HOST_REQUIRED if k not in raw]
    if missing:
        raise UsageError(f"{path}: {where} is missing {missing[0]}")
    role = _typed(path, where, "role", raw["role"], str)
    if role not in ROLES:
        raise UsageError(f"{path}: {where}.role must be one of {', '.join(ROLES)}; got {role!r}")
    h = InventoryHost(name=name, role=role, address=_typed(path, where, "address", raw["address"], str),
                      user=_typed(path, where, "user", raw["user"], str),
                      dm_home=_typed(path, where, "dm_home", raw["dm_home"], str),
                      data_path=_typed(path, where, "data_path", raw["data_path"], str),
                      port=_typed(path, where, "port", raw.get("port", 22), int),
                      sudo=_typed(path, where, "sudo", raw.get("sudo", False), bool),
                      os_user=_typed(path, where, "os_user", raw.get("os_user", "dmdba"), str))
    for key in ("dm_home", "data_path"):
        if not getattr(h, key).startswith("/"):
            raise UsageError(f"{path}: {where}.{key} must be an absolute path; got {getattr(h, key)!r}")
    if not 0 < h.port < 65536:
        raise UsageError(f"{path}: {where}.port must be 1..65535; got {h.port}")
    if ("key_file" in raw) == ("password" in raw):
        raise UsageError(f"{path}: {where} needs exactly one of key_file or password (\"env:NAME\" | \"prompt\")")
    if "key_file" in raw:
        key = Path(_typed(path, where, "key_file", raw["key_file"], str)).expanduser()
        if not key.is_file():
            raise UsageError(f"{path}: {where}.key_file {key}: no such file")
        h.key_file = str(key)
    else:
        h.password_source = _source(path, where, "password", raw["password"])
    if "known_hosts" in raw:
        kh = Path(_typed(path, where, "known_hosts", raw["known_hosts"], str)).expanduser()
        if not kh.is_file():
            raise UsageError(f"{path}: {where}.known_hosts {kh}: no such file")
        h.known_hosts = str(kh)
    if not h.sudo and h.user != "root":
        raise UsageError(f"{path}: {where}: user {h.user!r} without sudo cannot act as root or {h.os_user}; "
                         "set sudo = true (passwordless sudo) or user = \"root\"")
    return h


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate site.toml; UsageError (one sentence naming the entry) on anything wrong."""
    p = str(path)
    try:
        raw = tomllib.loads(Path(p).read_text())
    except FileNotFoundError:
        raise UsageError(f"--dw-inventory {p}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--dw-inventory {p}: not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - {"site", "hosts"})
    if unknown:
        raise UsageError(f"{p}: unknown table [{unknown[0]}] (known: [site], [hosts.NAME])")
    site = raw.get("site", {})
    bad = sorted(set(site) - SITE_KEYS)
    if bad:
        raise UsageError(f"{p}: unknown key site.{bad[0]} (known: {', '.join(sorted(SITE_KEYS))})")
    if "sysdba_password" not in site:
        raise UsageError(f"{p}: site is missing sysdba_password (\"env:NAME\" or \"prompt\")")
    hosts = {name: _host(p, name, spec) for name, spec in raw.get("hosts", {}).items()}
    roles = sorted(h.role for h in hosts.values())
    if roles != ["monitor", "primary", "standby"]:
        raise UsageError(f"{p}: [hosts.*] must be one primary, one standby and one monitor; got roles {roles}")
    deadman = _typed(p, "site", "deadman_seconds", site.get("deadman_seconds", 60), int)
    if deadman < 2:
        raise UsageError(f"{p}: site.deadman_seconds must be at least 2; got {deadman}")
    lang = _typed(p, "site", "lang", site.get("lang", "cn"), str)
    if lang not in ("cn", "en"):
        raise UsageError(f"{p}: site.lang must be cn or en; got {lang!r}")
    return Inventory(path=p, name=_typed(p, "site", "name", site.get("name", Path(p).stem), str), hosts=hosts,
                     sysdba_password_source=_source(p, "site", "sysdba_password", site["sysdba_password"]),
                     deadman_seconds=deadman, lang=lang)
