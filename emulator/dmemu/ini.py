"""DM8 configuration files: dm.ini, dmmal.ini, dmarch.ini, dmwatcher.ini, dmmonitor.ini, dm_svc.conf.

DM ini syntax: `KEY = value  # comment`, `[SECTION]` headers, keys case-insensitive, some keys
repeated (MON_DW_IP). Values keep their text; callers convert. dm_svc.conf uses `KEY=(value)`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field

from .errors import DmError


@dataclass
class Section:
    name: str                                   # "" for keys before the first header
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        key = key.upper()
        for k, v in self.items:
            if k == key:
                return v
        return default

    def getall(self, key: str) -> list[str]:
        key = key.upper()
        return [v for k, v in self.items if k == key]

    def int(self, key: str, default: int | None = None) -> int | None:
        v = self.get(key)
        if v is None or v == "":
            return default
        try:
            return int(v, 0) if v.lower().startswith("0x") else int(v)
        except ValueError as e:
            raise DmError(-803, f"invalid value for {key}: {v}") from e

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.items}


@dataclass
class Ini:
    path: str
    sections: list[Section]

    @property
    def top(self) -> Section:
        return self.sections[0]

    def section(self, name: str) -> Section | None:
        for s in self.sections[1:]:
            if s.name.upper() == name.upper():
                return s
        return None

    def named(self) -> list[Section]:
        return self.sections[1:]


_COMMENT = re.compile(r"\s#.*$|^#.*$")


def parse_text(text: str, path: str = "<text>") -> Ini:
    sections = [Section("")]
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw.replace("\t", " ")).strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1].strip()))
            continue
        if "=" not in line:
            raise DmError(-803, f"{path}: cannot parse line: {raw.strip()}")
        k, v = line.split("=", 1)
        sections[-1].items.append((k.strip().upper(), v.strip()))
    return Ini(path, sections)


def load(path: str) -> Ini:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_text(f.read(), path)
    except FileNotFoundError as e:
        raise DmError(-803, f"ini file {path} not found") from e


def set_keys(path: str, values: dict[str, object]) -> None:
    """Rewrite top-level `KEY = value` lines of an ini in place (appending missing keys), keeping comments."""
    want = {k.upper(): str(v) for k, v in values.items()}
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for raw in lines:
        m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)([^#]*?)(\s*(#.*)?)$", raw)
        if m and m.group(2).upper() in want and m.group(2).upper() not in seen:
            key = m.group(2).upper()
            seen.add(key)
            out.append(f"{m.group(1)}{m.group(2)}{m.group(3)}{want[key]}{m.group(5)}")
        else:
            out.append(raw)
    out.extend(f"{k} = {v}" for k, v in want.items() if k not in seen)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.chmod(tmp, os.stat(path).st_mode & 0o777)
    os.replace(tmp, path)


# ---- dm_svc.conf -------------------------------------------------------------------------

@dataclass
class Service:
    name: str
    endpoints: list[tuple[str, int | None]]
    options: dict[str, str]


def parse_svc(text: str) -> dict[str, Service]:
    """Service names of a dm_svc.conf: NAME=(h:p,h:p) plus [NAME] sections of overrides."""
    glob: dict[str, str] = {}
    services: dict[str, Service] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip().upper()
            continue
        if "=" not in line:
            continue
        k, v = (s.strip() for s in line.split("=", 1))
        v = v[1:-1] if v.startswith("(") and v.endswith(")") else v
        ku = k.upper()
        if current is None and ("," in v or ":" in v) and ku not in _SVC_KEYS:
            eps = []
            for ep in v.split(","):
                ep = ep.strip()
                host, _, port = ep.rpartition(":") if ep.count(":") == 1 else (ep, "", "")
                eps.append((host or ep, int(port) if port else None))
            services[ku] = Service(ku, eps, dict(glob))
        elif current is None:
            glob[ku] = v
            for s in services.values():
                s.options.setdefault(ku, v)
        elif current in services:
            services[current].options[ku] = v
    return services


_SVC_KEYS = {"TIME_ZONE", "LANGUAGE", "LOGIN_MODE", "SWITCH_TIME", "SWITCH_TIMES", "SWITCH_INTERVAL",
             "EP_SELECTOR", "AUTO_RECONNECT", "RW_SEPARATE", "RW_PERCENT", "CHAR_CODE", "LOGIN_ENCRYPT",
             "DIRECT", "CONNECT_TIMEOUT"}


def svc_conf_path() -> str:
    """dm_svc.conf location the way the DPI resolves it: DM_SVC_PATH (a directory) or /etc."""
    d = os.environ.get("DM_SVC_PATH")
    return os.path.join(d, "dm_svc.conf") if d else "/etc/dm_svc.conf"
