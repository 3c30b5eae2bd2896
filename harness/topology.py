"""The topology model: the group's hosts (the seed's 1+1 by default; up to 8 real-time/timely and 8
asynchronous standbys), instances, ports, paths, DW settings and timers.

Defaults are the seed's values (DESIGN.md section 3). Every value can be overridden by --dw-config
(harness.config); backends may adapt addresses and ports (Backend.adapt) without touching anything else.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field


@dataclass
class Timers:
    """Data Watch timers (seconds). Waits in the harness scale with these, never with magic numbers."""

    dw_error_time: int = 10
    inst_error_time: int = 10
    inst_recover_time: int = 60
    mal_check_interval: int = 5
    mal_conn_fail_interval: int = 5
    timer_minute_s: int = 60  # seconds one dmtimer.ini minute lasts: 60 on DM8; the emulator's default is short

    def async_period(self, minutes: int) -> float:
        """Seconds between two firings of an ASYNC standby's timer of FREQ_MINUTE_INTERVAL `minutes`."""
        return float(minutes * self.timer_minute_s)

    def failure_detect(self) -> float:
        """How long DM8 may take to notice a failed peer or instance (with MAL link detection)."""
        return float(max(self.dw_error_time, self.inst_error_time) + self.mal_check_interval
                     + self.mal_conn_fail_interval)

    def group_open(self) -> float:
        """Deadline for watchers to open a freshly mounted group (primary first, then the standby)."""
        return 30.0 + 2 * self.failure_detect()

    def recovery(self) -> float:
        """Deadline for a returning standby to be recovered (INST_RECOVER_TIME plus detection)."""
        return 30.0 + self.inst_recover_time + self.failure_detect()


@dataclass
class Paths:
    """Seed paths on every host (mapped by Host.path on backends that re-root them)."""

    dm_home: str = "/opt/dm8"
    data_path: str = "/opt/dm8/data"
    arch_dir: str = "/opt/dm8/data/memadb/arch"
    bak_dir: str = "/opt/dm8/data/memadb/bak"
    backup_name: str = "memadb_bak01"
    mon_log_path: str = "/opt/dm8/log"
    svc_conf: str = "/etc/dm_svc.conf"


@dataclass
class OsSpec:
    """The OS account of seed section 三.1."""

    user: str = "dmdba"
    uid: int = 12345
    group: str = "dinstall"
    gid: int = 12349


@dataclass
class DwSpec:
    """dmwatcher.ini / dmarch.ini / dm.ini settings of seed section 六."""

    dw_type: str = "GLOBAL"
    dw_mode: str = "MANUAL"
    inst_auto_restart: int = 1
    rlog_send_threshold: int = 0
    rlog_apply_threshold: int = 0
    arch_file_size: int = 128
    arch_space_limit: int = 0
    alter_mode_status: int = 0
    enable_offline_ts: int = 2
    watcher_service_suffix: str = "mema"  # seed 十: dm_service_installer.sh -p mema -> DmWatcherServicemema


@dataclass
class MonitorSpec:
    """dmmonitor.ini settings of seed section 十一."""

    mon_dw_confirm: int = 1
    mon_log_interval: int = 60
    mon_log_file_size: int = 32
    mon_log_space_limit: int = 0


@dataclass
class SvcSpec:
    """dm_svc.conf of seed section 十三 (the service name and its failover keys)."""

    name: str = "memadb"
    login_mode: int = 1
    switch_time: int = 3
    switch_interval: int = 1000


def _seed_dminit() -> dict[str, str]:
    return {"PAGE_SIZE": "32", "EXTENT_SIZE": "32", "CHARSET": "1", "CASE_SENSITIVE": "0",
            "LENGTH_IN_CHAR": "0", "BLANK_PAD_MODE": "1"}


@dataclass
class HostSpec:
    """One host; DB hosts carry their instance's name and ports (seed section 二.2)."""

    name: str
    role: str  # primary | standby | monitor (initial role)
    internal_ip: str
    external_ip: str | None = None
    instance: str | None = None
    port_num: int = 5236
    mal_inst_dw_port: int = 5237
    mal_port: int = 5238
    mal_dw_port: int = 5239
    arch_type: str = "REALTIME"  # how the primary ships redo to this standby: REALTIME | TIMELY | ASYNC
    timer_minutes: int = 1  # ASYNC only: dmtimer.ini FREQ_MINUTE_INTERVAL of this standby's timer
    dw_type: str | None = None  # dmwatcher.ini DW_TYPE override (default: LOCAL for ASYNC, else [dw] dw_type)

    @property
    def is_db(self) -> bool:
        """True for a host that runs an instance (and its watcher)."""
        return self.instance is not None

    @property
    def is_async(self) -> bool:
        """An asynchronous standby: fed on a dmtimer schedule, watched LOCALly, never a takeover candidate."""
        return self.is_db and self.arch_type == "ASYNC"

    @property
    def timer_name(self) -> str:
        """dmarch.ini ARCH_TIMER_NAME / dmtimer.ini section of this (ASYNC) standby's timer."""
        return f"TIMER_{self.instance}".upper()


def _seed_hosts() -> dict[str, HostSpec]:
    return {
        "host1": HostSpec("host1", "primary", "192.168.56.201", "192.168.0.201", "mema1"),
        "host2": HostSpec("host2", "standby", "192.168.56.202", "192.168.0.202", "mema2"),
        "monitor": HostSpec("monitor", "monitor", "192.168.56.203", None, None),
    }


@dataclass
class Topology:
    """The whole group as the seed builds it."""

    group: str = "GRP1"
    oguid: int = 453331
    db_name: str = "memadb"
    password: str = "Mema_1234"  # the seed's one password: OS user dmdba and SYSDBA (passed as SYSDBA_PWD)
    lang: str = "cn"
    paths: Paths = field(default_factory=Paths)
    os: OsSpec = field(default_factory=OsSpec)
    dminit: dict[str, str] = field(default_factory=_seed_dminit)
    dw: DwSpec = field(default_factory=DwSpec)
    timers: Timers = field(default_factory=Timers)
    monitor: MonitorSpec = field(default_factory=MonitorSpec)
    svc: SvcSpec = field(default_factory=SvcSpec)
    hosts: dict[str, HostSpec] = field(default_factory=_seed_hosts)
    backend_options: dict[str, object] = field(default_factory=dict)  # e.g. docker subnets (backend-owned)

    # ---- derived -----------------------------------------------------------------------------
    @property
    def db_dir(self) -> str:
        """The database directory <PATH>/<DB_NAME> (dm.ini, dmmal.ini, dmarch.ini, dmwatcher.ini live here)."""
        return f"{self.paths.data_path}/{self.db_name}"

    @property
    def dm_ini(self) -> str:
        return f"{self.db_dir}/dm.ini"

    @property
    def dmmal_ini(self) -> str:
        return f"{self.db_dir}/dmmal.ini"

    @property
    def dmarch_ini(self) -> str:
        return f"{self.db_dir}/dmarch.ini"

    @property
    def dmtimer_ini(self) -> str:
        return f"{self.db_dir}/dmtimer.ini"

    @property
    def dmwatcher_ini(self) -> str:
        return f"{self.db_dir}/dmwatcher.ini"

    @property
    def dmmonitor_ini(self) -> str:
        return f"{self.db_dir}/dmmonitor.ini"

    @property
    def backup_dir(self) -> str:
        return f"{self.paths.bak_dir}/{self.paths.backup_name}"

    def by_role(self, role: str) -> HostSpec:
        """The (initial) host with this role."""
        for h in self.hosts.values():
            if h.role == role:
                return h
        raise KeyError(role)

    @property
    def primary(self) -> HostSpec:
        return self.by_role("primary")

    @property
    def standby(self) -> HostSpec:
        """The first real-time (or timely) standby: the seed's one standby in a 1+1 group."""
        return self.realtime_standbys()[0]

    def standbys(self) -> list[HostSpec]:
        """Every standby host, in definition order."""
        return [h for h in self.db_hosts if h.role == "standby"]

    def realtime_standbys(self) -> list[HostSpec]:
        """Standbys fed synchronously (REALTIME or TIMELY): the switchover/takeover candidates."""
        return [h for h in self.standbys() if not h.is_async]

    def async_standbys(self) -> list[HostSpec]:
        """ASYNC standbys (DW_TYPE LOCAL watchers, fed by the primary on their dmtimer schedule)."""
        return [h for h in self.standbys() if h.is_async]

    def global_hosts(self) -> list[HostSpec]:
        """The primary and its real-time standbys: the instances that may hold the PRIMARY role."""
        return [h for h in self.db_hosts if not h.is_async]

    def dw_type_of(self, host: HostSpec) -> str:
        """dmwatcher.ini DW_TYPE of a DB host: its override, LOCAL for an ASYNC standby, else [dw] dw_type."""
        if host.dw_type:
            return host.dw_type
        return "LOCAL" if host.is_async else self.dw.dw_type

    def missing(self, realtime: int = 1, asynchronous: int = 0) -> str | None:
        """Why this group cannot run a test needing that many real-time and ASYNC standbys (None: it can)."""
        rt, asy = len(self.realtime_standbys()), len(self.async_standbys())
        if rt >= realtime and asy >= asynchronous:
            return None
        return (f"needs {realtime} real-time and {asynchronous} ASYNC standby(s); this group has {rt} and {asy} "
                "(run with --dw-config examples/1p2rt1async.toml or --dw-topology 1p2rt1async)")

    def beyond_seed(self, counterpart: str) -> str | None:
        """Why a test of a property the seed defines only for its 1 primary + 1 real-time standby cannot run on
        this group (None: it can); `counterpart` names the test that covers the larger group."""
        if not self.is_multi:
            return None
        rt, asy = len(self.realtime_standbys()), len(self.async_standbys())
        return (f"needs the seed's shape, 1 primary + 1 real-time standby; this group has {rt} real-time and "
                f"{asy} ASYNC standby(s) ({counterpart})")

    @property
    def is_multi(self) -> bool:
        """More than the seed's one standby."""
        return len(self.standbys()) > 1

    @property
    def monitor_host(self) -> HostSpec:
        return self.by_role("monitor")

    @property
    def db_hosts(self) -> list[HostSpec]:
        """Hosts with an instance, in definition order (dmmal.ini's MAL_INST1, MAL_INST2 ...)."""
        return [h for h in self.hosts.values() if h.is_db]

    def host_of(self, instance: str) -> HostSpec:
        """The host that runs this instance name (case-insensitive)."""
        for h in self.db_hosts:
            if h.instance and h.instance.upper() == instance.upper():
                return h
        raise KeyError(instance)

    def peer_of(self, host: HostSpec) -> HostSpec:
        """The other DB host of a 1P+1S group (the first other global host in a larger one)."""
        return next(h for h in self.global_hosts() if h.name != host.name)

    def copy(self) -> Topology:
        """A deep copy (backends adapt a copy, never the caller's model)."""
        return copy.deepcopy(self)

    def summary(self) -> dict[str, object]:
        """A JSON-friendly summary for the report's environment table."""
        return {
            "group": self.group, "oguid": self.oguid, "db_name": self.db_name, "dw_mode": self.dw.dw_mode,
            "hosts": {n: _host_summary(h) for n, h in self.hosts.items()},
            "timers": dataclasses.asdict(self.timers),
        }


def _host_summary(h: HostSpec) -> dict[str, object]:
    """A host's non-empty fields; the archive type only for standbys, the timer only for ASYNC ones."""
    out = {k: v for k, v in dataclasses.asdict(h).items()
           if v is not None and (h.is_db or k in ("name", "role", "internal_ip"))}
    if h.role != "standby":
        out.pop("arch_type", None)
    if not h.is_async:
        out.pop("timer_minutes", None)
    return out
