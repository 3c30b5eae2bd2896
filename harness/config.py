"""--dw-config FILE.toml -> Topology, with validation messages that name the bad key.

The TOML mirrors the model (harness.topology):

    group = "GRP1"            oguid = 453331      db_name = "memadb"   password = "..."   lang = "en"
    [paths]   dm_home, data_path, arch_dir, bak_dir, backup_name, mon_log_path, svc_conf
    [os]      user, uid, group, gid
    [dminit]  PAGE_SIZE = 32 ... (any dminit keyword, upper case)
    [dw]      dw_type, dw_mode, inst_auto_restart, rlog_send_threshold, rlog_apply_threshold,
              arch_file_size, arch_space_limit, alter_mode_status, enable_offline_ts,
              watcher_service_suffix (seed 十 `-p mema` -> DmWatcherServicemema)
    [timers]  dw_error_time, inst_error_time, inst_recover_time, mal_check_interval, mal_conn_fail_interval,
              timer_minute_s (seconds a dmtimer minute lasts: 60 on DM8; the emulator's is compressed)
    [monitor] mon_dw_confirm, mon_log_interval, mon_log_file_size, mon_log_space_limit
    [svc]     name, login_mode, switch_time, switch_interval
    [hosts.host1] role, internal_ip, external_ip, instance, port_num, mal_inst_dw_port, mal_port, mal_dw_port,
              arch_type (standbys: REALTIME | TIMELY | ASYNC), timer_minutes (ASYNC), dw_type (GLOBAL | LOCAL)
              -- any number of [hosts.NAME] tables: one primary, 1..8 REALTIME/TIMELY and 0..8 ASYNC standbys
    [backend_options] free-form, read by backends (e.g. docker subnets)
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import re
import sys
import typing
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.topology import HostSpec, Topology

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_SUFFIX = re.compile(r"^[A-Za-z0-9_]{1,32}$")  # in a systemd unit name, a DM_HOME/bin file name, a shell word
_CHOICES = {
    "dw.dw_type": ("GLOBAL", "LOCAL"),
    "dw.dw_mode": ("MANUAL", "AUTO"),
    "lang": ("cn", "en"),
    "svc.login_mode": (0, 1, 2, 3, 4),
    "monitor.mon_dw_confirm": (0, 1),
    "dw.inst_auto_restart": (0, 1),
    "dw.alter_mode_status": (0, 1, 2),
    "dw.enable_offline_ts": (0, 1, 2),
}
_POSITIVE = {"timers.dw_error_time", "timers.inst_error_time", "timers.inst_recover_time",
             "timers.mal_check_interval", "timers.mal_conn_fail_interval", "timers.timer_minute_s", "svc.switch_time",
             "svc.switch_interval", "dw.arch_file_size"}
_ROLES = ("primary", "standby", "monitor")
ARCH_TYPES = ("REALTIME", "TIMELY", "ASYNC")
MAX_SYNC_STANDBYS = 8  # seed 一.2 / reference G2: 1 primary + 8 standbys per group
MAX_ASYNC_STANDBYS = 8  # seed 一.2


class ConfigError(UsageError):
    """A bad --dw-config; the message names the file and the key."""


# --dw-topology presets: tables applied like a --dw-config file (examples/<name>.toml documents each).
# 1p2rt1async: the common production shape of issue 14 -- a primary, two real-time standbys and one
# asynchronous standby (host4) fed every minute by the primary's dmtimer.
PRESETS: dict[str, dict[str, Any]] = {
    "1p1rt": {},
    "1p2rt1async": {"hosts": {
        "host3": {"role": "standby", "internal_ip": "192.168.56.204", "external_ip": "192.168.0.204",
                  "instance": "mema3"},
        "host4": {"role": "standby", "internal_ip": "192.168.56.205", "external_ip": "192.168.0.205",
                  "instance": "mema4", "arch_type": "ASYNC", "timer_minutes": 1},
    }},
}


def preset(name: str | None, base: Topology | None = None) -> Topology:
    """The topology of a --dw-topology preset (None: the seed's 1+1) on top of base."""
    topo = base.copy() if base else Topology()
    if name is None:
        return topo
    if name not in PRESETS:
        raise ConfigError(f"--dw-topology must be one of {', '.join(PRESETS)}; got {name!r}")
    return apply_config(copy.deepcopy(PRESETS[name]), topo, source=f"--dw-topology {name}")


def load_config(path: str | Path | None, base: Topology | None = None) -> Topology:
    """Read a TOML file (None -> seed defaults) into a validated Topology."""
    topo = base.copy() if base else Topology()
    if path is None:
        return topo
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--dw-config {p}: no such file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--dw-config {p}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--dw-config {p}: not UTF-8 text") from None
    return apply_config(data, topo, source=str(p))


def apply_config(data: dict[str, Any], topo: Topology, source: str = "--dw-config") -> Topology:
    """Apply a parsed TOML dict onto topo (in place) and validate the result."""
    for key, value in data.items():
        if key == "hosts":
            _apply_hosts(value, topo, source)
        elif key == "dminit":
            _need_table(value, "dminit", source)
            for k, v in value.items():
                if not isinstance(v, (int, str)) or isinstance(v, bool):
                    raise ConfigError(f"{source}: dminit.{k} must be a number or a string")
                topo.dminit[k.upper()] = str(v)
        elif key == "backend_options":
            _need_table(value, key, source)
            topo.backend_options.update(value)
        else:
            _set_field(topo, key, value, key, source)
    validate(topo, source)
    return topo


def _need_table(value: Any, where: str, source: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a table ([{where}])")


def _set_field(obj: Any, key: str, value: Any, where: str, source: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if key not in fields or key in ("hosts", "dminit", "backend_options"):
        known = ", ".join(sorted(k for k in fields if k != "name" or not isinstance(obj, HostSpec)))
        raise ConfigError(f"{source}: unknown key '{where}' (known here: {known})")
    hints = typing.get_type_hints(type(obj))
    typ = hints[key]
    current = getattr(obj, key)
    if dataclasses.is_dataclass(current):
        _need_table(value, where, source)
        for k, v in value.items():
            _set_field(current, k, v, f"{where}.{k}", source)
        return
    setattr(obj, key, _coerce(value, typ, where, source))


def _coerce(value: Any, typ: Any, where: str, source: str) -> Any:
    args = typing.get_args(typ)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), typ) if args else typ
    if value is None and optional:
        return None
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {where} must be an integer, got {value!r}")
        return value
    if base is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {where} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{source}: {where} cannot be set from the config")


def _apply_hosts(value: Any, topo: Topology, source: str) -> None:
    _need_table(value, "hosts", source)
    for name, spec in value.items():
        _need_table(spec, f"hosts.{name}", source)
        host = topo.hosts.get(name)
        if host is None:
            if "role" not in spec or "internal_ip" not in spec:
                raise ConfigError(f"{source}: new host 'hosts.{name}' needs role and internal_ip")
            host = HostSpec(name, spec["role"], spec["internal_ip"])
            topo.hosts[name] = host
        for k, v in spec.items():
            if k == "name":
                raise ConfigError(f"{source}: unknown key 'hosts.{name}.name' (the table name is the host name)")
            _set_field(host, k, v, f"hosts.{name}.{k}", source)


def _get(topo: Topology, dotted: str) -> Any:
    obj: Any = topo
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def validate(topo: Topology, source: str = "--dw-config") -> None:
    """Check values and cross-field rules; raise ConfigError naming the key."""
    for key, choices in _CHOICES.items():
        v = _get(topo, key)
        if isinstance(v, str) and isinstance(choices[0], str):
            v = v.upper() if key.startswith("dw.") else v.lower()
            obj, _, attr = key.rpartition(".")
            setattr(_get(topo, obj) if obj else topo, attr, v)
        if v not in choices:
            raise ConfigError(f"{source}: {key} must be one of {', '.join(map(str, choices))}; got {v!r}")
    for key in _POSITIVE:
        if _get(topo, key) <= 0:
            raise ConfigError(f"{source}: {key} must be positive; got {_get(topo, key)}")
    if not 0 <= topo.oguid <= 2147483647:
        raise ConfigError(f"{source}: oguid must be in 0..2147483647; got {topo.oguid}")
    if not _NAME.match(topo.group):
        raise ConfigError(f"{source}: group {topo.group!r} is not a valid DM name")
    if not _NAME.match(topo.db_name):
        raise ConfigError(f"{source}: db_name {topo.db_name!r} is not a valid DM name")
    if not _SUFFIX.match(topo.dw.watcher_service_suffix):
        raise ConfigError(f"{source}: dw.watcher_service_suffix must be 1 to 32 letters, digits or underscores "
                          f"(it names the unit DmWatcherService<suffix>); got {topo.dw.watcher_service_suffix!r}")
    for k in ("dm_home", "data_path", "arch_dir", "bak_dir", "mon_log_path", "svc_conf"):
        if not getattr(topo.paths, k).startswith("/"):
            raise ConfigError(f"{source}: paths.{k} must be an absolute path")
    roles = [h.role for h in topo.hosts.values()]
    for h in topo.hosts.values():
        where = f"hosts.{h.name}"
        if h.role not in _ROLES:
            raise ConfigError(f"{source}: {where}.role must be one of {', '.join(_ROLES)}; got {h.role!r}")
        for attr in ("internal_ip", "external_ip"):
            ip = getattr(h, attr)
            if ip is None:
                continue
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise ConfigError(f"{source}: {where}.{attr} is not an IPv4 address: {ip!r}") from None
        if h.role == "monitor":
            if h.instance is not None:
                raise ConfigError(f"{source}: {where}.instance: the monitor host runs no instance")
            continue
        if not h.instance or not _NAME.match(h.instance):
            raise ConfigError(f"{source}: {where}.instance must be a valid instance name; got {h.instance!r}")
        ports = {p: getattr(h, p) for p in ("port_num", "mal_inst_dw_port", "mal_port", "mal_dw_port")}
        for p, v in ports.items():
            if not 1 <= v <= 65535:
                raise ConfigError(f"{source}: {where}.{p} must be a TCP port (1..65535); got {v}")
        if len(set(ports.values())) != 4:
            raise ConfigError(f"{source}: {where}: port_num, mal_inst_dw_port, mal_port and mal_dw_port "
                              "must all differ")
    for role in ("primary", "monitor"):
        if roles.count(role) != 1:
            raise ConfigError(f"{source}: hosts: exactly one host must have role {role!r} "
                              f"(found {roles.count(role)})")
    names = [h.instance.upper() for h in topo.db_hosts if h.instance]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"{source}: hosts: instance name {n} is used twice (instance names must be unique)")
    _validate_shape(topo, source)


def _validate_shape(topo: Topology, source: str) -> None:
    """The group's shape as DM8 allows it (seed 一.2, reference 3 G2): one primary, 1..8 real-time or timely
    standbys, 0..8 ASYNC ones whose watchers are LOCAL; no two instances on one address and port."""
    for h in topo.db_hosts:
        where = f"hosts.{h.name}"
        h.arch_type = h.arch_type.upper()
        if h.arch_type not in ARCH_TYPES:
            raise ConfigError(f"{source}: {where}.arch_type must be one of {', '.join(ARCH_TYPES)}; "
                              f"got {h.arch_type!r}")
        if h.role != "standby" and h.arch_type != "REALTIME":
            raise ConfigError(f"{source}: {where}.arch_type: only a standby has an archive type")
        if not 1 <= h.timer_minutes <= 1439:
            raise ConfigError(f"{source}: {where}.timer_minutes must be in 1..1439 (minutes of a day); "
                              f"got {h.timer_minutes}")
        if h.dw_type is not None:
            h.dw_type = h.dw_type.upper()
            if h.dw_type not in ("GLOBAL", "LOCAL"):
                raise ConfigError(f"{source}: {where}.dw_type must be GLOBAL or LOCAL; got {h.dw_type!r}")
            if h.is_async and h.dw_type == "GLOBAL":
                raise ConfigError(f"{source}: {where}: an ASYNC standby's watcher must be DW_TYPE LOCAL, not GLOBAL")
            if not h.is_async and h.dw_type == "LOCAL":
                raise ConfigError(f"{source}: {where}: a {h.role} with {h.arch_type} archiving needs DW_TYPE "
                                  "GLOBAL (LOCAL is for ASYNC standbys)")
    rt, asy = topo.realtime_standbys(), topo.async_standbys()
    if not 1 <= len(rt) <= MAX_SYNC_STANDBYS:
        raise ConfigError(f"{source}: hosts: a group needs 1..{MAX_SYNC_STANDBYS} real-time or timely standbys "
                          f"(found {len(rt)})")
    if len(asy) > MAX_ASYNC_STANDBYS:
        raise ConfigError(f"{source}: hosts: at most {MAX_ASYNC_STANDBYS} ASYNC standbys (found {len(asy)})")
    if topo.dw.dw_type != "GLOBAL" and any(h.dw_type is None for h in topo.global_hosts()):
        raise ConfigError(f"{source}: dw.dw_type must be GLOBAL (the primary and its real-time standbys are "
                          "GLOBAL watchers; an ASYNC standby is LOCAL by itself)")
    seen: dict[tuple[str, int], str] = {}
    for h in topo.db_hosts:
        for p in (h.port_num, h.mal_inst_dw_port, h.mal_port, h.mal_dw_port):
            other = seen.setdefault((h.internal_ip, p), h.name)
            if other != h.name:
                raise ConfigError(f"{source}: hosts.{h.name}: {h.internal_ip}:{p} is already used by "
                                  f"hosts.{other} (give it another address or port)")
