"""Render the seed's configuration files from a Topology, and read them back.

For the default topology the rendered text equals the seed's blocks (section 六, 十一, 十三) key by key,
comments included. Paths go through a mapper (Host.path) so backends that re-root /opt/dm8 get working
files while the seed's text stays the reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.topology import HostSpec, Topology

PathMap = Callable[[str], str]


def _identity(p: str) -> str:
    return p


def _line(key: str, value: object, comment: str = "", width: int = 0) -> str:
    text = f"{key} = {value}"
    if comment:
        text = f"{text.ljust(width)}  #{comment}" if width else f"{text}  #{comment}"
    return text


# ---- dm.ini changes (seed 六.1) ------------------------------------------------------------------
def dm_ini_changes(t: Topology, h: HostSpec) -> dict[str, str]:
    """The keys seed 六.1 sets in each instance's dm.ini (plus TIMER_INI = 1 on the instances that ship
    ASYNC archives, i.e. every global one when the group has ASYNC standbys: DM8 reads dmtimer.ini only then)."""
    out = {
        "INSTANCE_NAME": str(h.instance),
        "PORT_NUM": str(h.port_num),
        "ALTER_MODE_STATUS": str(t.dw.alter_mode_status),
        "ENABLE_OFFLINE_TS": str(t.dw.enable_offline_ts),
        "MAL_INI": "1",
        "ARCH_INI": "1",
    }
    if _ships_async(t, h):
        out["TIMER_INI"] = "1"
    return out


def _ships_async(t: Topology, h: HostSpec) -> bool:
    return bool(t.async_standbys()) and not h.is_async


_DM_INI_COMMENTS = {
    "PORT_NUM": "数据库实例监听端口",
    "ALTER_MODE_STATUS": "不允许手工方式修改实例模式/状态",
    "ENABLE_OFFLINE_TS": "不允许备库 OFFLINE 表空间",
    "MAL_INI": "打开 MAL 系统",
    "ARCH_INI": "打开归档配置",
    "TIMER_INI": "打开定时器配置（异步归档按定时器发送）",
}


def render_dm_ini_changes(t: Topology, h: HostSpec) -> str:
    """The dm.ini block of seed 六.1 (what an operator types into vi)."""
    return "\n".join(_line(k, v, _DM_INI_COMMENTS.get(k, "")) for k, v in dm_ini_changes(t, h).items()) + "\n"


_INI_LINE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)([^#\r\n]*?)(\s*(#.*)?)$")


def apply_ini_changes(text: str, changes: dict[str, str]) -> str:
    """Edit an existing dm.ini in place: replace the values of these keys, keep everything else
    (other keys, comments, order); keys not present are appended at the end."""
    pending = {k.upper(): v for k, v in changes.items()}
    out = []
    for line in text.splitlines():
        m = _INI_LINE.match(line)
        if m and m.group(2).upper() in pending:
            key = m.group(2).upper()
            line = f"{m.group(1)}{m.group(2)}{m.group(3)}{pending.pop(key)}{m.group(5) or ''}"
        out.append(line)
    out.extend(f"{k} = {v}" for k, v in pending.items())
    return "\n".join(out) + "\n"


# ---- dmmal.ini (seed 六.2) -----------------------------------------------------------------------
def render_dmmal(t: Topology) -> str:
    """dmmal.ini, identical on every DB host."""
    lines = [
        _line("MAL_CHECK_INTERVAL", t.timers.mal_check_interval, "MAL 链路检测时间间隔", 31),
        _line("MAL_CONN_FAIL_INTERVAL", t.timers.mal_conn_fail_interval, "判定 MAL 链路断开的时间", 31),
    ]
    comments = {"MAL_INST_NAME": "实例名，和 dm.ini 中的 INSTANCE_NAME 一致",
                "MAL_HOST": "MAL 系统监听 TCP 连接的 IP 地址",
                "MAL_PORT": "MAL 系统监听 TCP 连接的端口",
                "MAL_DW_PORT": "实例对应的守护进程监听 TCP 连接的端口",
                "MAL_INST_HOST": "实例的对外服务 IP 地址",
                "MAL_INST_PORT": "实例的对外服务端口，和 dm.ini 中的 PORT_NUM 一致",
                "MAL_INST_DW_PORT": "实例监听守护进程TCP连接的端口"}
    for i, h in enumerate(t.db_hosts, 1):
        lines += ["", f"[MAL_INST{i}]"]
        vals = {"MAL_INST_NAME": h.instance, "MAL_HOST": h.internal_ip, "MAL_PORT": h.mal_port,
                "MAL_DW_PORT": h.mal_dw_port, "MAL_INST_HOST": h.external_ip or h.internal_ip,
                "MAL_INST_PORT": h.port_num, "MAL_INST_DW_PORT": h.mal_inst_dw_port}
        for k, v in vals.items():
            lines.append(_line(k, v, comments[k] if i == 1 else "", 31))
    return "\n".join(lines) + "\n"


# ---- dmarch.ini (seed 六.3) ----------------------------------------------------------------------
_ARCH_COMMENTS = {"REALTIME": ("实时归档类型", "实时归档目标实例名"),
                  "TIMELY": ("即时归档类型", "即时归档目标实例名"),
                  "ASYNC": ("异步归档类型", "异步归档目标实例名")}


def archive_dests(t: Topology, h: HostSpec) -> list[tuple[str, HostSpec]]:
    """(ARCH_TYPE, destination) of every remote archive in h's dmarch.ini, in section order.

    A global instance (the primary or a real-time/timely standby) archives to every other global
    instance -- a standby's sections point back at the others, used after a switchover (reference 1.3,
    B22) -- and to every ASYNC standby ("如果主库配置了异步备库，在所有备库上也需要配置相同的异步备库",
    DM8 数据守护 异步备库, e.g. blog.csdn.net/weixin_61878106/article/details/127421141). An ASYNC
    standby ships nothing: its dmarch.ini holds the LOCAL archive only."""
    if h.is_async:
        return []
    out = []
    for g in t.global_hosts():
        if g.name != h.name:
            out.append((g.arch_type if g.role == "standby" else h.arch_type, g))
    return out + [("ASYNC", a) for a in t.async_standbys()]


def render_dmarch(t: Topology, h: HostSpec, path: PathMap = _identity) -> str:
    """dmarch.ini: one ARCHIVE_REALTIME (TIMELY) section per other global instance, ARCHIVE_ASYNC sections
    with their ARCH_TIMER_NAME, then the LOCAL archive. The seed's 1+1 gives its one [ARCHIVE_REALTIME]."""
    w = 42
    dests = archive_dests(t, h)
    lines: list[str] = []
    for kind in ("REALTIME", "TIMELY", "ASYNC"):
        mine = [d for k, d in dests if k == kind]
        for i, d in enumerate(mine, 1):
            type_note, dest_note = _ARCH_COMMENTS[kind]
            lines += [f"[ARCHIVE_{kind}{i if len(mine) > 1 else ''}]",
                      _line("ARCH_TYPE", kind, type_note, w),
                      _line("ARCH_DEST", d.instance, dest_note, w)]
            if kind == "ASYNC":
                lines.append(_line("ARCH_TIMER_NAME", d.timer_name, "定时器名称（dmtimer.ini 中的节名）", w))
            lines.append("")
    return "\n".join(lines + [
        "[ARCHIVE_LOCAL1]",
        _line("ARCH_TYPE", "LOCAL", "本地归档类型", w),
        _line("ARCH_DEST", path(t.paths.arch_dir), "本地归档文件存放路径", w),
        _line("ARCH_FILE_SIZE", t.dw.arch_file_size, "单位 Mb，本地单个归档文件最大值", w),
        _line("ARCH_SPACE_LIMIT", t.dw.arch_space_limit, "单位 Mb，0 表示无限制，范围 1024~4294967294M", w),
    ]) + "\n"


# ---- dmtimer.ini (ASYNC standbys) ----------------------------------------------------------------
def render_dmtimer(t: Topology) -> str:
    """dmtimer.ini on every instance that ships ASYNC archives: one daily timer per ASYNC standby that fires
    every timer_minutes (FREQ_MINUTE_INTERVAL) all day. Keys as in DM8's 数据守护 manual, 异步备库 example
    (TYPE 2 = daily; FREQ_MINUTE_INTERVAL the sending period, see also
    blog.csdn.net/weixin_56866387/article/details/134227512); the other values are the manual's all-day,
    never-ending defaults."""
    w = 42
    lines: list[str] = []
    for a in t.async_standbys():
        lines += [
            f"[{a.timer_name}]",
            _line("TYPE", 2, "按天执行", w),
            _line("FREQ_MONTH_WEEK_INTERVAL", 1, "间隔天数", w),
            _line("FREQ_SUB_INTERVAL", 0, "", w),
            _line("FREQ_MINUTE_INTERVAL", a.timer_minutes, "间隔分钟数：每隔几分钟发送一次异步归档", w),
            _line("START_TIME", "00:00:00", "", w),
            _line("END_TIME", "00:00:00", "", w),
            _line("DURING_START_DATE", "2000-01-01 00:00:00", "", w),
            _line("DURING_END_DATE", "9999-12-31 23:59:59", "", w),
            _line("NO_END_DATE_FLAG", 1, "永不结束", w),
            _line("DESCRIBE", f"async archive to {a.instance}", "", w),
            _line("IS_VALID", 1, "定时器有效", w),
            "",
        ]
    return "\n".join(lines[:-1]) + "\n" if lines else ""


# ---- dmwatcher.ini (seed 六.4) -------------------------------------------------------------------
def render_dmwatcher(t: Topology, h: HostSpec, path: PathMap = _identity) -> str:
    """dmwatcher.ini for one DB host (the section name is the group). An ASYNC standby's watcher is
    DW_TYPE LOCAL and MANUAL (it takes part in no switchover; reference 5.1, DM8 异步备库 manual)."""
    w = 43
    dw_type = t.dw_type_of(h)
    dw_mode = t.dw.dw_mode if dw_type == "GLOBAL" else "MANUAL"
    return "\n".join([
        f"[{t.group}]",
        _line("DW_TYPE", dw_type, "全局守护类型" if dw_type == "GLOBAL" else "本地守护类型（异步备库）", w),
        _line("DW_MODE", dw_mode, "自动切换模式", w),
        _line("DW_ERROR_TIME", t.timers.dw_error_time, "远程守护进程故障认定时间", w),
        _line("INST_RECOVER_TIME", t.timers.inst_recover_time, "主库守护进程启动恢复的间隔时间", w),
        _line("INST_ERROR_TIME", t.timers.inst_error_time, "本地实例故障认定时间", w),
        _line("INST_OGUID", t.oguid, "守护系统唯一 OGUID 值", w),
        _line("INST_INI", path(t.dm_ini), "dm.ini 配置文件路径", w),
        _line("INST_AUTO_RESTART", t.dw.inst_auto_restart, "打开实例的自动启动功能", w),
        _line("INST_STARTUP_CMD", path(f"{t.paths.dm_home}/bin/dmserver"), "命令行方式启动", w),
        _line("RLOG_SEND_THRESHOLD", t.dw.rlog_send_threshold, "指定主库发送日志到备库的时间阀值，默认关闭", w),
        _line("RLOG_APPLY_THRESHOLD", t.dw.rlog_apply_threshold, "指定备库重演日志的时间阀值，默认关闭", w),
    ]) + "\n"


# ---- dmmonitor.ini (seed 十一.1) -----------------------------------------------------------------
def render_dmmonitor(t: Topology, path: PathMap = _identity) -> str:
    """dmmonitor.ini on the monitor host; MON_DW_IP = MAL_HOST:MAL_DW_PORT of every DB host."""
    w = 36
    lines = [
        _line("MON_DW_CONFIRM", t.monitor.mon_dw_confirm, "确认监视器模式", w),
        _line("MON_LOG_PATH", path(t.paths.mon_log_path), "监视器日志文件存放路径", w),
        _line("MON_LOG_INTERVAL", t.monitor.mon_log_interval, "每隔 60s 定时记录系统信息到日志文件", w),
        _line("MON_LOG_FILE_SIZE", t.monitor.mon_log_file_size, "每个日志文件最大 32M", w),
        _line("MON_LOG_SPACE_LIMIT", t.monitor.mon_log_space_limit, "不限定日志文件总占用空间", w),
        "",
        f"[{t.group}]",
        _line("MON_INST_OGUID", t.oguid, f"组 {t.group} 的唯一 OGUID 值", w),
    ]
    lines += [f"MON_DW_IP = {h.internal_ip}:{h.mal_dw_port}" for h in t.db_hosts]
    return "\n".join(lines) + "\n"


# ---- dm_svc.conf (seed 十三) ---------------------------------------------------------------------
@dataclass
class Service:
    """One connection service name of dm_svc.conf."""

    name: str
    addrs: list[tuple[str, int]]
    login_mode: int | None = None
    switch_time: int | None = None
    switch_interval: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def keys(self) -> dict[str, str]:
        out = {}
        if self.login_mode is not None:
            out["LOGIN_MODE"] = str(self.login_mode)
        if self.switch_time is not None:
            out["SWITCH_TIME"] = str(self.switch_time)
        if self.switch_interval is not None:
            out["SWITCH_INTERVAL"] = str(self.switch_interval)
        out.update(self.extra)
        return out


def seed_service(t: Topology, addrs: list[tuple[str, int]] | None = None) -> Service:
    """The seed's service: the DB hosts' external addresses with the seed's LOGIN_MODE/SWITCH_* keys."""
    if addrs is None:
        addrs = [(h.external_ip or h.internal_ip, h.port_num) for h in t.db_hosts]
    return Service(t.svc.name, addrs, t.svc.login_mode, t.svc.switch_time, t.svc.switch_interval)


def render_svc(services: list[Service], *, global_keys: dict[str, str] | None = None) -> str:
    """dm_svc.conf. The first service's keys are written as the seed does (global, after the name);
    further services get a [NAME] section so each keeps its own LOGIN_MODE/SWITCH_* values."""
    lines = [f"{k}=({v})" for k, v in (global_keys or {}).items()]
    for i, s in enumerate(services):
        lines.append(f"{s.name}=({','.join(f'{ip}:{port}' for ip, port in s.addrs)})")
        if i == 0:
            lines += [f"{k}=({v})" for k, v in s.keys().items()]
    for s in services[1:]:
        if s.keys():
            lines.append(f"[{s.name}]")
            lines += [f"{k}=({v})" for k, v in s.keys().items()]
    return "\n".join(lines) + "\n"


# ---- parsers -------------------------------------------------------------------------------------
def parse_ini(text: str) -> dict[str, dict[str, str | list[str]]]:
    """Parse a DM ini file: {section: {KEY: value}}; keys before any section go under "".
    Comments (#) are dropped, keys upper-cased; a repeated key (MON_DW_IP) becomes a list."""
    out: dict[str, dict[str, str | list[str]]] = {"": {}}
    cur = out[""]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            cur = out.setdefault(line[1:-1].strip(), {})
            continue
        if "=" not in line:
            raise ValueError(f"not an ini line: {raw!r}")
        k, v = (s.strip() for s in line.split("=", 1))
        k = k.upper()
        if k in cur:
            prev = cur[k]
            cur[k] = (prev if isinstance(prev, list) else [prev]) + [v]
        else:
            cur[k] = v
    if not out[""]:
        del out[""]
    return out


def parse_svc(text: str) -> dict[str, dict[str, str | list[tuple[str, int]]]]:
    """Parse dm_svc.conf into {"": global keys, SERVICE: {"ADDRS": [(ip, port)], KEY: value}}.
    Global keys that follow a service line (the seed's style) stay global, as DM reads them."""
    out: dict[str, dict] = {"": {}}
    section = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            out.setdefault(section, {})
            continue
        m = re.match(r"^([^=\s]+)\s*=\s*\((.*)\)$", line)
        if not m:
            raise ValueError(f"not a dm_svc.conf line: {raw!r}")
        key, val = m.group(1), m.group(2).strip()
        if key.upper() in _SVC_KEYS or section:
            out.setdefault(section, {})[key.upper()] = val
            continue
        addrs = []
        for a in filter(None, (x.strip() for x in val.split(","))):
            ip, _, port = a.rpartition(":")
            addrs.append((ip, int(port)) if ip else (a, 0))
        out.setdefault(key, {})["ADDRS"] = addrs
    return out


_SVC_KEYS = {"LOGIN_MODE", "SWITCH_TIME", "SWITCH_TIMES", "SWITCH_INTERVAL", "RW_SEPARATE", "RW_PERCENT",
             "EP_SELECTOR", "AUTO_RECONNECT", "TIME_ZONE", "LANGUAGE", "CHAR_CODE", "LOGIN_ENCRYPT", "DIRECT",
             "CONNECT_TIMEOUT", "RW_STANDBY_RECOVER_TIME", "LOGIN_PRIMARY", "CLUSTER"}


def render_host_files(t: Topology, h: HostSpec, path: PathMap = _identity) -> dict[str, str]:
    """Every file the procedure writes on this host, by seed path (dm.ini changes excluded: edited in place)."""
    if h.is_db:
        files = {t.dmmal_ini: render_dmmal(t), t.dmarch_ini: render_dmarch(t, h, path),
                 t.dmwatcher_ini: render_dmwatcher(t, h, path)}
        if _ships_async(t, h):
            files[t.dmtimer_ini] = render_dmtimer(t)
        return files
    return {t.dmmonitor_ini: render_dmmonitor(t, path)}
