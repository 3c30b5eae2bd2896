"""dmmal.ini, dmwatcher.ini and dmmonitor.ini as the Data Watch processes read them.

Errors are DmError with one line naming the file and the key to fix (DM8 prints the same kind of
one-line complaint and exits).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .. import ini as dmini
from ..errors import DmError

T = TypeVar("T")

_MAL_KEYS = ("MAL_INST_NAME", "MAL_HOST", "MAL_PORT", "MAL_INST_HOST", "MAL_INST_PORT", "MAL_DW_PORT",
             "MAL_INST_DW_PORT")


def _need(sec: dmini.Section, key: str, path: str) -> str:
    v = sec.get(key)
    if v is None or v == "":
        where = f"[{sec.name}] " if sec.name else ""
        raise DmError(-803, f"{path}: {where}{key} 未配置/is missing")
    return v


def _int(sec: dmini.Section, key: str, path: str, default: int | None = None) -> int:
    v = sec.get(key)
    if v is None or v == "":
        if default is None:
            _need(sec, key, path)
        return int(default)  # type: ignore[arg-type]
    try:
        return int(v)
    except ValueError:
        raise DmError(-803, f"{path}: {key} = {v} 不是整数/is not an integer") from None


@dataclass
class MalInst:
    name: str
    host: str
    port: int
    inst_host: str
    inst_port: int
    dw_port: int
    inst_dw_port: int
    link_magic: int = 0
    section: str = ""


@dataclass
class MalConfig:
    path: str
    check_interval: int
    conn_fail_interval: int
    login_timeout: int
    insts: list[MalInst]
    digest: str

    def find(self, name: str) -> MalInst | None:
        for m in self.insts:
            if m.name.upper() == name.upper():
                return m
        return None


def load_mal(path: str) -> MalConfig:
    """Read dmmal.ini; its digest (of the meaningful content) lets peers prove they read the same file."""
    ini = dmini.load(path)
    top = ini.top
    insts = []
    for sec in ini.named():
        vals = {k: _need(sec, k, path) for k in _MAL_KEYS}
        try:
            insts.append(MalInst(vals["MAL_INST_NAME"], vals["MAL_HOST"], int(vals["MAL_PORT"]),
                                 vals["MAL_INST_HOST"], int(vals["MAL_INST_PORT"]), int(vals["MAL_DW_PORT"]),
                                 int(vals["MAL_INST_DW_PORT"]), _int(sec, "MAL_LINK_MAGIC", path, 0), sec.name))
        except ValueError:
            raise DmError(-803, f"{path}: [{sec.name}] port values must be integers") from None
    if not insts:
        raise DmError(-803, f"{path}: no [MAL_INSTn] section")
    canon = [(k, v) for k, v in top.items] + [(s.name.upper(), sorted(s.items)) for s in ini.named()]
    digest = hashlib.sha1(repr(sorted(canon, key=repr)).encode()).hexdigest()
    return MalConfig(path, _int(top, "MAL_CHECK_INTERVAL", path, 30), _int(top, "MAL_CONN_FAIL_INTERVAL", path, 10),
                     _int(top, "MAL_LOGIN_TIMEOUT", path, 15), insts, digest)


@dataclass
class WatcherConfig:
    path: str
    group: str
    dw_type: str
    dw_mode: str
    dw_error_time: int
    inst_error_time: int
    inst_recover_time: int
    inst_oguid: int
    inst_ini: str
    inst_auto_restart: int
    inst_startup_cmd: str
    rlog_send_threshold: int
    rlog_apply_threshold: int
    items: dict[str, str] = field(default_factory=dict)


def load_watcher(path: str) -> WatcherConfig:
    """Read dmwatcher.ini (the first [GROUP] section)."""
    ini = dmini.load(path)
    groups = ini.named()
    if not groups:
        raise DmError(-803, f"{path}: no [group] section")
    s = groups[0]
    dw_type = (s.get("DW_TYPE") or "GLOBAL").upper()
    dw_mode = (s.get("DW_MODE") or "MANUAL").upper()
    if dw_type not in ("GLOBAL", "LOCAL"):
        raise DmError(-803, f"{path}: DW_TYPE = {dw_type} must be GLOBAL or LOCAL")
    if dw_mode not in ("AUTO", "MANUAL"):
        raise DmError(-803, f"{path}: DW_MODE = {dw_mode} must be AUTO or MANUAL")
    inst_ini = _need(s, "INST_INI", path)
    oguid = _int(s, "INST_OGUID", path)
    if not 0 <= oguid <= 2147483647:
        raise DmError(-803, f"{path}: INST_OGUID = {oguid} out of range 0..2147483647")
    return WatcherConfig(path, s.name.upper(), dw_type, dw_mode, _int(s, "DW_ERROR_TIME", path, 60),
                         _int(s, "INST_ERROR_TIME", path, 15), _int(s, "INST_RECOVER_TIME", path, 60), oguid,
                         inst_ini, _int(s, "INST_AUTO_RESTART", path, 0), s.get("INST_STARTUP_CMD") or "",
                         _int(s, "RLOG_SEND_THRESHOLD", path, 0), _int(s, "RLOG_APPLY_THRESHOLD", path, 0),
                         s.as_dict())


@dataclass
class MonGroup:
    name: str
    oguid: int
    dw_ips: list[tuple[str, int]]


@dataclass
class MonitorConfig:
    path: str
    confirm: int
    log_path: str
    log_interval: int
    log_file_size: int
    log_space_limit: int
    groups: list[MonGroup]


def load_monitor(path: str) -> MonitorConfig:
    """Read dmmonitor.ini."""
    ini = dmini.load(path)
    top = ini.top
    groups = []
    for s in ini.named():
        ips = []
        for v in s.getall("MON_DW_IP"):
            h, _, p = v.rpartition(":")
            if not h or not p.isdigit():
                raise DmError(-803, f"{path}: [{s.name}] MON_DW_IP = {v} must be host:port")
            ips.append((h, int(p)))
        if not ips:
            raise DmError(-803, f"{path}: [{s.name}] MON_DW_IP 未配置/is missing")
        groups.append(MonGroup(s.name.upper(), _int(s, "MON_INST_OGUID", path), ips))
    if not groups:
        raise DmError(-803, f"{path}: no [group] section with MON_INST_OGUID and MON_DW_IP")
    confirm = _int(top, "MON_DW_CONFIRM", path, 0)
    log_path = top.get("MON_LOG_PATH") or os.path.dirname(os.path.abspath(path))
    return MonitorConfig(path, confirm, log_path, _int(top, "MON_LOG_INTERVAL", path, 0),
                         _int(top, "MON_LOG_FILE_SIZE", path, 32), _int(top, "MON_LOG_SPACE_LIMIT", path, 0), groups)


def build_from_argv(argv: list[str] | None, tool: str, build: Callable[[str], T]) -> T | None:
    """dmwatcher/dmmonitor start-up: the .ini path from the command line, given to `build`.

    None (after usage or the DM error on stderr, as the tools print them) when the path is missing or
    the file is unreadable or invalid."""
    path = ini_path_arg(list(sys.argv[1:] if argv is None else argv), tool)
    if not path:
        return None
    try:
        return build(path)
    except DmError as e:
        sys.stderr.write(f"[{e.code}]:{e.message}\n")
    except OSError as e:
        sys.stderr.write(f"{tool}: {e}\n")
    return None


def ini_path_arg(argv: list[str], tool: str) -> str | None:
    """The .ini path a Data Watch tool was given (``PATH=x`` or the first bare word); None prints usage.

    dmwatcher and dmmonitor take the same command line, so both read it here.
    """
    path = None
    for a in argv:
        if a.lower().startswith("path="):
            path = a[5:]
        elif not a.startswith("-"):
            path = a
    if not path:
        sys.stderr.write(f"用法/usage: {tool} <{tool}.ini>\n")
    return path


def mal_path_for(inst_ini: str) -> str:
    """dmmal.ini lives next to dm.ini (CONFIG_PATH when set)."""
    top = dmini.load(inst_ini).top
    base = top.get("CONFIG_PATH") or os.path.dirname(os.path.abspath(inst_ini))
    return os.path.join(base, "dmmal.ini")
