"""Discover, don't build: the Topology of an existing group read from its hosts (--dw-existing).

Why: an acceptance run checks a deployment someone else built. Everything the suites need is read from
what the operator's files and the instances say: dm.ini (instance, PORT_NUM), dmmal.ini (addresses, MAL
ports, MAL timers), dmwatcher.ini (group, DW_MODE, OGUID, DW timers), dmarch.ini (archive types),
dmmonitor.ini, dm_svc.conf (the client service) and v$instance (the live roles). Values the seed fixes as
rules (the OS account's ids, ARCH_FILE_SIZE, the archive folder under the database directory) keep the
seed's value in the model, so the conformance suite reports a deviation rather than accepting it.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.inventory import Inventory
from harness.render import parse_ini, parse_svc
from harness.topology import HostSpec, Timers, Topology


@dataclasses.dataclass
class Discovery:
    """What was found and where (the report's "accepted deployment" block)."""

    inventory: str
    site: str
    files: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # host -> files read
    hosts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    archives: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # instance -> ARCH_TYPEs
    services: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _first(section: dict[str, Any], key: str, default: str | None = None) -> str | None:
    v = section.get(key.upper(), default)
    return v[0] if isinstance(v, list) else v


def _int(v: str | None, what: str, default: int | None = None) -> int:
    if v is None:
        if default is None:
            raise HarnessError(f"discovery: {what} is not set")
        return default
    try:
        return int(str(v).strip())
    except ValueError:
        raise HarnessError(f"discovery: {what} is not a number ({v!r})") from None


class Discoverer:
    """Reads one deployment through its hosts (SshHost or any Host) and builds its Topology."""

    def __init__(self, hosts: dict[str, Any], inventory: Inventory, base: Topology) -> None:
        self.hosts, self.inv, self.base = hosts, inventory, base
        self.found = Discovery(inventory=inventory.path, site=inventory.name)

    def read_ini(self, host: str, path: str) -> dict[str, dict[str, Any]]:
        try:
            text = self.hosts[host].read_file(path, mapped=True)
        except FileNotFoundError:
            raise HarnessError(f"{host}: {path} not found (the group's configuration is expected there)") from None
        seen = self.found.files.setdefault(host, [])
        if path not in seen:
            seen.append(path)
        try:
            return parse_ini(text)
        except ValueError as exc:
            raise HarnessError(f"{host}: {path}: {exc}") from None

    def _db_dir(self, host: str) -> str:
        spec = self.inv.hosts[host]
        pattern = "dmmonitor.ini" if spec.role == "monitor" else "dm.ini"
        r = self.hosts[host].run(f"ls -1d {shlex.quote(spec.data_path)}/*/{pattern} 2>/dev/null", user="root",
                                 check=False)
        found = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
        if len(found) != 1:
            what = "none" if not found else ", ".join(found)
            raise HarnessError(f"{host}: expected one {spec.data_path}/<DB_NAME>/{pattern}, found {what}; check "
                               f"hosts.{host}.data_path")
        return found[0].rsplit("/", 1)[0]

    def _common(self, attr: str) -> str:
        values = {getattr(h, attr) for h in self.inv.hosts.values()}
        if len(values) != 1:
            raise HarnessError(f"{self.inv.path}: hosts differ in {attr} ({', '.join(sorted(values))}); the "
                               "harness models one value for the group")
        return values.pop()

    def topology(self) -> Topology:
        """The group as its files describe it (roles as the inventory gives them; see live_roles())."""
        t = self.base.copy()
        t.lang = self.inv.lang
        t.paths.dm_home = self._common("dm_home")
        t.paths.data_path = self._common("data_path")
        t.os.user = self._common("os_user")
        db = [n for n, h in self.inv.hosts.items() if h.role != "monitor"]
        mon = next(n for n, h in self.inv.hosts.items() if h.role == "monitor")
        dirs = {n: self._db_dir(n) for n in db}
        names = {d.rsplit("/", 1)[1] for d in dirs.values()}
        if len(names) != 1:
            raise HarnessError(f"the DB hosts' database folders differ ({', '.join(sorted(dirs.values()))})")
        t.db_name = names.pop()
        t.paths.arch_dir = f"{t.db_dir}/arch"
        t.paths.bak_dir = f"{t.db_dir}/bak"
        hosts: dict[str, HostSpec] = {}
        mal = self.read_ini(db[0], t.dmmal_ini)
        glob = mal.get("", {})
        watch0 = self.read_ini(db[0], t.dmwatcher_ini)
        groups = [s for s in watch0 if s]
        if len(groups) != 1:
            raise HarnessError(f"{db[0]}: {t.dmwatcher_ini} has {len(groups)} groups ({groups}); one is expected")
        t.group = groups[0]
        w = watch0[t.group]
        t.oguid = _int(_first(w, "INST_OGUID"), f"{db[0]}: {t.dmwatcher_ini} INST_OGUID")
        t.dw.dw_mode = (_first(w, "DW_MODE") or "MANUAL").upper()
        t.dw.dw_type = (_first(w, "DW_TYPE") or "GLOBAL").upper()
        t.timers = Timers(
            dw_error_time=_int(_first(w, "DW_ERROR_TIME"), "DW_ERROR_TIME", 10),
            inst_error_time=_int(_first(w, "INST_ERROR_TIME"), "INST_ERROR_TIME", 10),
            inst_recover_time=_int(_first(w, "INST_RECOVER_TIME"), "INST_RECOVER_TIME", 60),
            mal_check_interval=_int(_first(glob, "MAL_CHECK_INTERVAL"), "MAL_CHECK_INTERVAL", 30),
            mal_conn_fail_interval=_int(_first(glob, "MAL_CONN_FAIL_INTERVAL"), "MAL_CONN_FAIL_INTERVAL", 10),
            timer_minute_s=t.timers.timer_minute_s)  # the target's clock unit, not in any ini
        mal_by_inst = {(_first(sec, "MAL_INST_NAME") or "").upper(): sec for name, sec in mal.items()
                       if name.upper().startswith("MAL_INST")}
        for n in db:
            ini = self.read_ini(n, t.dm_ini).get("", {})
            inst = _first(ini, "INSTANCE_NAME")
            if not inst:
                raise HarnessError(f"{n}: {t.dm_ini} has no INSTANCE_NAME")
            sec = mal_by_inst.get(inst.upper())
            if sec is None:
                raise HarnessError(f"{db[0]}: {t.dmmal_ini} has no [MAL_INST*] with MAL_INST_NAME = {inst} "
                                   f"(the instance of {n})")
            port = _int(_first(ini, "PORT_NUM"), f"{n}: PORT_NUM", 5236)
            hosts[n] = HostSpec(n, self.inv.hosts[n].role, _first(sec, "MAL_HOST") or self.inv.hosts[n].address,
                                _first(sec, "MAL_INST_HOST"), inst, port_num=port,
                                mal_inst_dw_port=_int(_first(sec, "MAL_INST_DW_PORT"), "MAL_INST_DW_PORT", 5237),
                                mal_port=_int(_first(sec, "MAL_PORT"), "MAL_PORT", 5238),
                                mal_dw_port=_int(_first(sec, "MAL_DW_PORT"), "MAL_DW_PORT", 5239))
            arch = self.read_ini(n, t.dmarch_ini)
            self.found.archives[inst] = sorted({(_first(s, "ARCH_TYPE") or "?").upper() for s in arch.values()
                                                if "ARCH_TYPE" in s})
            self.read_ini(n, t.dmwatcher_ini)  # read (and listed) here; the conformance suite compares them
        first_mal = hosts[db[0]].internal_ip
        src = self.hosts[mon].run(f"ip -o route get {shlex.quote(first_mal)} | sed -n 's/.* src \\([^ ]*\\).*/\\1/p'",
                                  user="root", check=False).stdout.strip()
        hosts[mon] = HostSpec(mon, "monitor", src or self.inv.hosts[mon].address)
        mon_dir = self._db_dir(mon)
        if mon_dir != t.db_dir:
            self.found.notes.append(f"{mon}: dmmonitor.ini is in {mon_dir}, not {t.db_dir}")
        self.read_ini(mon, t.dmmonitor_ini)
        t.hosts = {n: hosts[n] for n in [*db, mon]}
        self._service(t, db[0])
        for n, spec in t.hosts.items():
            self.found.hosts[n] = {"address": self.inv.hosts[n].address, "inventory_role": self.inv.hosts[n].role,
                                   "instance": spec.instance, "internal_ip": spec.internal_ip,
                                   "external_ip": spec.external_ip}
        return t

    def _service(self, t: Topology, host: str) -> None:
        """dm_svc.conf's service over both instances: its name and failover keys become the model's."""
        try:
            text = self.hosts[host].read_file(t.paths.svc_conf, mapped=True)
        except FileNotFoundError:
            self.found.notes.append(f"{host}: no {t.paths.svc_conf}; the seed's service name is assumed")
            return
        self.found.files.setdefault(host, []).append(t.paths.svc_conf)
        svc = parse_svc(text)
        ports = {(s.external_ip or s.internal_ip, s.port_num) for s in t.db_hosts}
        glob = svc.get("", {})
        for name, keys in svc.items():
            if not name:
                continue
            self.found.services.append(name)
            if set(keys.get("ADDRS", [])) == ports:
                t.svc.name = name
                for key, attr in (("LOGIN_MODE", "login_mode"), ("SWITCH_TIME", "switch_time"),
                                  ("SWITCH_INTERVAL", "switch_interval")):
                    raw = keys.get(key, glob.get(key))
                    if isinstance(raw, str) and raw.strip().lstrip("(").rstrip(")").isdigit():
                        setattr(t.svc, attr, int(raw.strip().lstrip("(").rstrip(")")))

    def apply_live_roles(self, t: Topology, modes: dict[str, str]) -> None:
        """Roles from v$instance (instance -> MODE$): the group's starting roles, whatever the inventory said."""
        for spec in t.db_hosts:
            mode = modes.get(str(spec.instance).upper(), "")
            live = {"PRIMARY": "primary", "STANDBY": "standby"}.get(mode)
            if live is None:
                raise HarnessError(f"{spec.name}: v$instance of {spec.instance} reports MODE$ {mode or 'nothing'}; "
                                   "a running PRIMARY and STANDBY are needed to accept the group")
            if live != spec.role:
                self.found.notes.append(f"inventory says {spec.name} is {spec.role}; v$instance says {mode}: "
                                        "the live roles are used")
            spec.role = live
            self.found.hosts[spec.name]["live_role"] = live
        if sorted(s.role for s in t.db_hosts) != ["primary", "standby"]:
            raise HarnessError(f"v$instance reports modes {modes}: one PRIMARY and one STANDBY are needed")


def discover(hosts: dict[str, Any], inventory: Inventory, base: Topology, sql_factory: Any,
             run_dir: str | Path) -> tuple[Topology, Discovery]:
    """The topology of the running group (files, then v$instance through sql_factory(topology))."""
    d = Discoverer(hosts, inventory, base)
    t = d.topology()
    t.password = inventory.sysdba_password()
    sql = sql_factory(t)
    modes: dict[str, str] = {}
    try:
        for spec in t.db_hosts:
            try:
                rows = sql.query(spec.instance, "select INSTANCE_NAME, MODE$, STATUS$ from v$instance")
            except Exception as exc:  # noqa: BLE001 - any login failure is reported in one line
                ip, port = sql.address(spec.instance)
                raise HarnessError(f"{spec.name}: cannot query v$instance of {spec.instance} at {ip}:{port} as SYSDBA "
                                   f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); "
                                   "check the instance runs and site.sysdba_password") from None
            modes[str(rows[0][0]).upper()] = str(rows[0][1]).upper()
            d.found.hosts[spec.name]["status"] = str(rows[0][2]).upper()
    finally:
        sql.close_all()
    d.apply_live_roles(t, modes)
    return t, d.found
