"""dmmonitor <dmmonitor.ini>: the interactive Data Watch monitor (behaviour reference §4, §7).

It links to every MON_DW_IP watcher, prints each watcher's status message when it changes and
`Received message timeout from(X)` after DW_ERROR_TIME of silence, and runs the commands of §4.2.
Switchover, takeover and open force are driven step by step from here through the watchers, with
the `[monitor] <time>: ...` lines of §7. A confirm monitor (MON_DW_CONFIRM=1) in an AUTO group takes
over automatically onto a VALID standby once the primary has failed for DW_ERROR_TIME and that standby's
watcher has lost the primary too (§3.3, §4.4; see `auto_takeover_target`), and it answers an AUTO primary
watcher's request to confirm a standby's failure before that watcher invalidates the standby's archive
(see `confirm_standby_failure`).
Chinese by default, English with LANGUAGE=en.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import random
import sys
import threading
import time

from .. import bugs, lang
from ..errors import DmError
from . import protocol
from .config import MonGroup, MonitorConfig, ini_path_arg, load_monitor
from .messages import HELP_CN, HELP_EN

DWMON_NOT_LOGIN = -5
DWMON_INVALID_ARG = -2
DWMON_SYS_NOT_OK = -11
DWMON_MULTI_CONFIRM_MON = -14
DWMON_NO_CANDIDATE = -15
DWMON_CHECK_RECOV_LATER = -20
DWMON_STDBY_CANNOT_RECOVER = -21
DWMON_CHECK_OPEN_LATER = -22
DWMON_CANNOT_OPEN = -23
DWMON_OPEN_NEED_USER = -27

lang.register({
    "m_confirm_standby": ("确认监视器确认实例{dest}故障(守护进程{name}请求)",
                          "Confirm monitor confirms the failure of instance {dest} (asked by dmwatcher {name})"),
    "m_confirm_not_mon": ("不是确认监视器", "not a confirm monitor"),
    "m_confirm_busy": ("正在自动接管", "an auto takeover is running"),
    "m_confirm_not_primary": ("监视器看到的{name}不是正常的主库", "the monitor does not see {name} as a healthy primary"),
    "m_confirm_other_primary": ("组中已有其他主库{other}", "{other} is the group's open primary"),
})

ROW_HDR = (f"    {'WTIME':<21}{'WSTATUS':<15}{'INST_OK':<10}{'INAME':<17}{'ISTATUS':<12}{'IMODE':<10}"
           f"{'RSTAT':<9}{'N_OPEN':<9}{'FLSN':<16}CLSN")


def ts(t: float | None = None) -> str:
    return _dt.datetime.fromtimestamp(t or time.time()).strftime("%Y-%m-%d %H:%M:%S")


class CmdError(Exception):
    """A monitor command failed with a dwmon return code."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code
        self.text = text


class WatcherView:
    """What the monitor knows about one watcher: its link and its last status message."""

    def __init__(self, group: MonGroup, host: str, port: int):
        self.group = group
        self.host = host
        self.port = port
        self.conn: protocol.Conn | None = None
        self.msg: dict | None = None
        self.seen = 0.0
        self.timed_out = False
        self.last_key: tuple | None = None
        self.refused: str | None = None

    @property
    def name(self) -> str:
        return self.msg["name"] if self.msg else f"{self.host}:{self.port}"

    def error_time(self) -> float:
        """The watcher's DW_ERROR_TIME (from its messages): silence that long means it is lost."""
        return float((self.msg or {}).get("dw_error_time", 60))

    def fresh(self) -> bool:
        if not self.msg:
            return False
        return time.monotonic() - self.seen < self.error_time()

    def inst(self) -> dict:
        return (self.msg or {}).get("inst") or {}

    def wstatus(self) -> str:
        return (self.msg or {}).get("wstatus", "ERROR") if self.fresh() else "ERROR"


LOGIN_REQ_TIMEOUT = 3.0  # seconds one watcher gets to check a `login` before the next is asked


class Monitor:
    """One dmmonitor process."""

    def __init__(self, cfg: MonitorConfig, out=None, inp=None):
        self.cfg = cfg
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.id = f"{random.randrange(1, 2**31)}"
        self.logged_in = False
        self.views: list[WatcherView] = [WatcherView(g, h, p) for g in cfg.groups for h, p in g.dw_ips]
        self._out_lock = threading.RLock()
        self._stop = threading.Event()
        self.fatal: CmdError | None = None
        self.auto_running = False
        self.cmd_lock = threading.Lock()
        self.log = None
        self.log_bytes = 0
        self._open_log()

    # ---- output and log files ------------------------------------------------------------
    def _open_log(self) -> None:
        path = self.cfg.log_path
        try:
            os.makedirs(path, exist_ok=True)
            name = os.path.join(path, f"dmmonitor_{_dt.datetime.now():%Y%m%d%H%M%S}_{os.getpid()}.log")
            self.log = open(name, "a", encoding="utf-8")
            self.log_bytes = 0
        except OSError as e:
            self.log = None
            self.out.write(f"MON_LOG_PATH {path}: {e}\n")
        self._enforce_space()

    def _enforce_space(self) -> None:
        limit = self.cfg.log_space_limit * 1024 * 1024
        if not limit:
            return
        try:
            files = sorted((os.path.join(self.cfg.log_path, f) for f in os.listdir(self.cfg.log_path)
                            if f.startswith("dmmonitor_") and f.endswith(".log")), key=os.path.getmtime)
            total = sum(os.path.getsize(f) for f in files)
            while files[:-1] and total > limit:
                total -= os.path.getsize(files[0])
                os.remove(files.pop(0))
        except OSError:
            pass

    def write(self, text: str) -> None:
        with self._out_lock:
            self.out.write(text)
            self.out.flush()
            if self.log is not None:
                try:
                    self.log.write(text)
                    self.log.flush()
                    self.log_bytes += len(text.encode())
                    if self.log_bytes > self.cfg.log_file_size * 1024 * 1024:
                        self.log.close()
                        self._open_log()
                except (OSError, ValueError):
                    pass

    def say(self, key_or_text: str, **fmt: object) -> None:
        text = lang.msg(key_or_text, **fmt) if key_or_text in lang.MESSAGES else key_or_text
        self.write(f"[monitor]         {ts()}: {text}\n")

    def fail(self, code: int, text: str) -> None:
        self.say(f"{text}, code = {code}" if code else text)

    # ---- links ---------------------------------------------------------------------------
    def start(self) -> None:
        self.write(f"[monitor]         {ts()}: DMMONITOR[4.0] V8\n")
        for v in self.views:
            self._connect(v)
        if self.fatal:
            return
        self.write(f"[monitor]         {ts()}: DMMONITOR[4.0] IS READY.\n\n")
        threading.Thread(target=self._bg, name="mon-bg", daemon=True).start()

    def _connect(self, v: WatcherView) -> None:
        try:
            c = protocol.dial(v.host, v.port, timeout=1.0, name=f"mon->{v.host}",
                              on_push=lambda _c, m, v=v: self._on_wmsg(v, m),
                              on_request=lambda _c, m, v=v: self._on_watcher_request(v, m))
            c.start()
            r = c.request({"op": "mon_hello", "id": self.id, "confirm": self.cfg.confirm,
                           "oguid": v.group.oguid}, timeout=3.0)
        except protocol.LinkError:
            return
        if not r.get("ok"):
            c.close()
            code = r.get("code", -1)
            if code == DWMON_MULTI_CONFIRM_MON:
                self.fatal = CmdError(code, r.get("error", ""))
                self.fail(code, r.get("error", ""))
            elif v.refused != r.get("error"):
                v.refused = r.get("error")
                self.fail(code, r.get("error", ""))
            return
        v.refused = None
        v.conn = c
        self._on_wmsg(v, r["wmsg"])

    def _bg(self) -> None:
        next_log = time.monotonic() + (self.cfg.log_interval or 1e9)
        next_dial = 0.0
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for v in self.views:
                if v.msg and not v.fresh() and not v.timed_out:
                    v.timed_out = True
                    self.say("m_timeout", name=v.name)
                    self.write(self._row_block(v, header=True))
            if now >= next_dial:
                for v in self.views:
                    if v.conn is not None and not v.conn.closed and v.conn.silent_for() >= v.error_time():
                        v.conn.close()
                    if v.conn is None or v.conn.closed:
                        self._connect(v)
                next_dial = now + 1.0
            if self.cfg.confirm:
                for g in self.cfg.groups:
                    self._auto_takeover(g)
            if self.cfg.log_interval and now >= next_log and self.log is not None:
                next_log = now + self.cfg.log_interval
                with self._out_lock:
                    try:
                        self.log.write(self.render_show(None))
                        self.log.flush()
                    except (OSError, ValueError):
                        pass

    def _on_wmsg(self, v: WatcherView, msg: dict) -> None:
        if msg.get("op") != "wmsg":
            return
        old = v.msg
        v.msg = msg
        v.seen = time.monotonic()
        v.timed_out = False
        key = (msg["wstatus"], msg["inst_ok"], msg["wctlstat"], (msg.get("inst") or {}).get("status"),
               (msg.get("inst") or {}).get("mode"), self.rstat(v))
        if old is not None and old.get("wstatus") != msg["wstatus"]:
            self.say("m_wswitch", name=msg["name"], frm=old.get("wstatus"), to=msg["wstatus"])
        if key != v.last_key:
            v.last_key = key
            self.say("m_recv", name=msg["name"])
            self.write(self._row_block(v, header=True))

    def _on_watcher_request(self, v: WatcherView, msg: dict) -> dict:
        """A watcher asks this monitor something; today only an AUTO primary's `confirm` of a lost standby."""
        if msg.get("op") != "confirm":
            return {"ok": False, "code": DWMON_INVALID_ARG, "error": f"unknown op {msg.get('op')}"}
        why = self.confirm_standby_failure(v)
        if why is None:
            self.say("m_confirm_standby", dest=msg.get("dest"), name=v.name)
        return {"ok": True, "confirmed": why is None, "why": why}

    def confirm_standby_failure(self, v: WatcherView) -> str | None:
        """Whether this monitor confirms, for primary watcher `v`, that its lost standby failed (reference
        §3.3, §4.4): None (confirmed) when this is the confirm monitor, no auto takeover is running, and from
        the monitor's own view `v` is a fresh, non-split PRIMARY with its instance OK while no other watcher
        reports an open primary; in that case the monitor does not take over. Otherwise the reason."""
        if not self.cfg.confirm:
            return lang.msg("m_confirm_not_mon")
        if self.auto_running:
            return lang.msg("m_confirm_busy")
        m = v.msg or {}
        if not v.fresh() or m.get("inst_ok") != "OK" or v.inst().get("mode") != "PRIMARY" \
                or v.inst().get("status") not in ("OPEN", "SUSPEND") or m.get("wctlstat") == "SPLIT":
            return lang.msg("m_confirm_not_primary", name=v.name)
        for o in self.gviews(v.group):
            if o is not v and o.fresh() and o.inst().get("mode") == "PRIMARY" and o.inst().get("status") == "OPEN":
                return lang.msg("m_confirm_other_primary", other=o.name)
        return None

    # ---- group model ---------------------------------------------------------------------
    def group(self, name: str | None) -> MonGroup:
        if not name:
            if len(self.cfg.groups) == 1:
                return self.cfg.groups[0]
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_need_group"))
        for g in self.cfg.groups:
            if g.name.upper() == name.upper():
                return g
        raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_group", name=name))

    def gviews(self, g: MonGroup) -> list[WatcherView]:
        return [v for v in self.views if v.group is g]

    def db(self, spec: str | None, *, default_filter=None) -> tuple[MonGroup, WatcherView]:
        """[group.]db -> (group, watcher view); db may be left out when only one candidate exists."""
        gname, dbname = None, spec
        if spec and "." in spec:
            gname, dbname = spec.split(".", 1)
        g = self.group(gname)
        vs = [v for v in self.gviews(g) if v.msg]
        if not dbname:
            cands = [v for v in vs if default_filter is None or default_filter(v)]
            if len(cands) == 1:
                return g, cands[0]
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_need_db"))
        for v in vs:
            if v.name.upper() == dbname.upper():
                return g, v
        raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_db", name=dbname))

    def primary(self, g: MonGroup, fresh_only: bool = True) -> WatcherView | None:
        best = None
        for v in self.gviews(g):
            i = v.inst()
            if i.get("mode") == "PRIMARY" and (v.fresh() or not fresh_only) and v.msg.get("wctlstat") != "SPLIT":
                if i.get("status") == "OPEN":
                    return v
                best = best or v
        return best

    def rstat(self, v: WatcherView) -> str:
        """Archive state of a standby as its primary reports it (last known)."""
        i = v.inst()
        if i.get("mode") == "PRIMARY":
            arch = [a for a in i.get("arch", []) if a["type"] in ("REALTIME", "TIMELY")]
            if not arch:
                return "VALID"
            return "VALID" if all(a["status"] == "VALID" for a in arch) else "INVALID"
        p = self.primary(v.group, fresh_only=False)
        if p is None:
            return "UNKNOWN"
        for a in p.inst().get("arch", []):
            if a["type"] in ("REALTIME", "TIMELY") and a["dest"].upper() == v.name.upper():
                return a["status"]
        return "UNKNOWN"

    def primary_failed(self, g: MonGroup) -> bool:
        p = self.primary(g, fresh_only=False)
        if p is None:
            return True
        if not p.fresh():
            return True
        i = p.inst()
        return p.msg.get("inst_ok") != "OK" or i.get("status") not in ("OPEN", "SUSPEND")

    # ---- rendering -------------------------------------------------------------------------
    def _row(self, v: WatcherView) -> str:
        m = v.msg or {}
        i = v.inst()
        return (f"    {ts(m.get('wtime')):<21}{v.wstatus():<15}{m.get('inst_ok', 'ERROR'):<10}{v.name:<17}"
                f"{i.get('status', 'UNKNOWN'):<12}{i.get('mode', 'UNKNOWN'):<10}{self.rstat(v):<9}"
                f"{i.get('n_open', 0):<9}{i.get('flsn', 0):<16}{i.get('clsn', 0)}")

    def _row_block(self, v: WatcherView, header: bool) -> str:
        return (ROW_HDR + "\n" if header else "") + self._row(v) + "\n\n"

    def render_show(self, gname: str | None, only: str | None = None) -> str:
        out = [ts(), "#" + "=" * 80 + "#"]
        groups = [self.group(gname)] if gname else self.cfg.groups
        for g in groups:
            vs = self.gviews(g)
            mode = next((v.msg.get("dw_mode") for v in vs if v.msg), "UNKNOWN")
            out.append(f"{'GROUP':<17}{'OGUID':<12}{'MON_CONFIRM':<16}{'MODE':<16}MPP_FLAG")
            out.append(f"{g.name:<17}{g.oguid:<12}{'TRUE' if self.cfg.confirm else 'FALSE':<16}{mode:<16}FALSE")
            out.append("")
            if only in (None, "global"):
                out.append("<<DATABASE GLOBAL INFO:>>")
                out.append(f"{'DW_IP':<20}{'MAL_DW_PORT':<13}{'WTIME':<21}{'WTYPE':<10}{'WCTLSTAT':<10}"
                           f"{'WSTATUS':<15}{'INAME':<17}{'INST_OK':<10}{'N_EP':<6}{'N_OK':<6}{'ISTATUS':<12}"
                           f"{'IMODE':<10}{'DSC_STATUS':<15}{'RTYPE':<10}RSTAT")
                for v in vs:
                    m = v.msg or {}
                    i = v.inst()
                    rtype = "REALTIME" if any(a["type"] == "REALTIME" for a in i.get("arch", [])) else "NONE"
                    n_ok = 1 if m.get("inst_ok") == "OK" and v.fresh() else 0
                    out.append(f"{v.host:<20}{v.port:<13}{ts(m.get('wtime')) if m else '':<21}"
                               f"{m.get('wtype', 'UNKNOWN'):<10}{m.get('wctlstat', 'UNKNOWN'):<10}"
                               f"{v.wstatus():<15}{v.name:<17}{m.get('inst_ok', 'ERROR'):<10}{1:<6}{n_ok:<6}"
                               f"{i.get('status', 'UNKNOWN'):<12}{i.get('mode', 'UNKNOWN'):<10}"
                               f"{'DSC_OPEN':<15}{rtype:<10}{self.rstat(v)}")
                out.append("")
            if only in (None, "database"):
                for v in vs:
                    if only == "database" and self._only_db and v is not self._only_db:
                        continue
                    out.extend(self._db_block(v))
        out.append("#" + "=" * 80 + "#")
        return "\n".join(out) + "\n"

    _only_db: WatcherView | None = None

    def _db_block(self, v: WatcherView) -> list[str]:
        m = v.msg or {}
        i = v.inst()
        out = [f"<<DATABASE({v.name}) INFO:>>",
               f"{'DW_IP':<20}{'MAL_DW_PORT':<13}{'WTIME':<21}{'WTYPE':<10}{'WCTLSTAT':<10}{'WSTATUS':<15}"
               f"{'INAME':<17}{'INST_OK':<10}{'N_EP':<6}{'N_OK':<6}{'ISTATUS':<12}{'IMODE':<10}{'DSC_STATUS':<15}"
               f"{'RTYPE':<10}RSTAT",
               f"{v.host:<20}{v.port:<13}{ts(m.get('wtime')) if m else '':<21}{m.get('wtype', 'UNKNOWN'):<10}"
               f"{m.get('wctlstat', 'UNKNOWN'):<10}{v.wstatus():<15}{v.name:<17}{m.get('inst_ok', 'ERROR'):<10}"
               f"{1:<6}{1 if m.get('inst_ok') == 'OK' else 0:<6}{i.get('status', 'UNKNOWN'):<12}"
               f"{i.get('mode', 'UNKNOWN'):<10}{'DSC_OPEN':<15}{'REALTIME':<10}{self.rstat(v)}",
               "",
               "EP INFO:",
               f"{'INST_IP':<20}{'INST_PORT':<11}{'INST_OK':<10}{'INAME':<17}{'ISTATUS':<12}{'IMODE':<10}"
               f"{'DSC_SEQNO':<11}{'DSC_CTRL':<12}{'N_OPEN':<12}{'FLSN':<16}CLSN",
               f"{m.get('inst_host', ''):<20}{m.get('inst_port', ''):<11}{m.get('inst_ok', 'ERROR'):<10}"
               f"{v.name:<17}{i.get('status', 'UNKNOWN'):<12}{i.get('mode', 'UNKNOWN'):<10}{0:<11}{'ACTIVE':<12}"
               f"{i.get('n_open', 0):<12}{i.get('flsn', 0):<16}{i.get('clsn', 0)}", ""]
        if i.get("mode") == "PRIMARY":
            out.append("DATABASE ARCH INFO:")
            out.append(f"{'ARCH_TYPE':<12}{'ARCH_DEST':<20}ARCH_STATUS")
            for a in i.get("arch", []):
                out.append(f"{a['type']:<12}{a['dest']:<19} {a['status']}")
            out.append("")
        if m.get("wctlstat") == "SPLIT" and m.get("split_by"):
            e = m["split_by"]
            out.append(lang.msg("m_split_info", name=v.name, by=e.get("db_name"), kind=e.get("kind")))
            out.append("")
        return out

    # ---- command plumbing ------------------------------------------------------------------
    def req(self, v: WatcherView, msg: dict, timeout: float = 15.0) -> dict:
        c = v.conn
        if c is None or c.closed:
            raise CmdError(-1, lang.msg("m_no_link", name=v.name))
        try:
            r = c.request(msg, timeout=timeout)
        except protocol.LinkError as e:
            raise CmdError(-1, lang.msg("m_no_link", name=v.name) + f" ({e})") from None
        if not r.get("ok"):
            raise CmdError(r.get("code", -1), r.get("error", "failed"))
        return r

    def need_login(self) -> None:
        if not self.logged_in:
            raise CmdError(DWMON_NOT_LOGIN, lang.msg("m_not_login"))

    def exec_step(self, v: WatcherView, sql: str) -> None:
        self.say("m_exec_start", name=v.name, sql=sql)
        self.req(v, {"op": "exec", "sql": sql})
        self.say("m_exec_ok", name=v.name, sql=sql)

    def to_wstatus(self, v: WatcherView, to: str) -> None:
        self.say("m_notify_w", name=v.name, to=to)
        r = self.req(v, {"op": "wstatus", "to": to})     # the watcher's push prints the switch line
        if r.get("from") != to and v.msg:
            v.msg["wstatus"] = to
        self.say("m_notify_w_ok", name=v.name, to=to)

    def lock(self, vs: list[WatcherView]) -> None:
        done = []
        try:
            for v in vs:
                self.req(v, {"op": "lock"})
                done.append(v)
        except CmdError:
            self.unlock(done)
            raise

    def unlock(self, vs: list[WatcherView]) -> None:
        for v in vs:
            try:
                self.req(v, {"op": "unlock"}, timeout=3)
            except CmdError:
                pass

    def confirm(self, kind: str, g: MonGroup, v: WatcherView) -> bool:
        self.write(lang.msg("m_confirm", target=f"{g.name}.{v.name}", kind=kind))
        line = self.inp.readline()
        if self.log is not None:
            self.write(line if line.endswith("\n") else line + "\n")
        return line.strip().upper() in ("YES", "Y")

    def refresh(self, vs: list[WatcherView], timeout: float = 3.0) -> None:
        for v in vs:
            try:
                r = self.req(v, {"op": "status"}, timeout=timeout)
                v.msg = r["wmsg"]
                v.seen = time.monotonic()
            except CmdError:
                pass

    # ---- candidates ------------------------------------------------------------------------
    def switchover_candidates(self, g: MonGroup) -> list[WatcherView]:
        p = self.primary(g)
        if p is None or p.wstatus() != "OPEN" or p.inst().get("status") != "OPEN":
            return []
        out = []
        for v in self.gviews(g):
            i = v.inst()
            if v is not p and v.fresh() and v.wstatus() == "OPEN" and i.get("mode") == "STANDBY" \
                    and i.get("status") == "OPEN" and self.rstat(v) == "VALID":
                out.append(v)
        return out

    def takeover_candidates(self, g: MonGroup, force: bool) -> list[WatcherView]:
        if not force and not self.primary_failed(g) and not bugs.active("takeover-while-healthy"):
            return []
        if force and not self.primary_failed(g) and not bugs.active("takeover-while-healthy"):
            return []
        out = []
        for v in self.gviews(g):
            i = v.inst()
            if v.fresh() and v.wstatus() in ("OPEN", "RECOVERY") and i.get("mode") == "STANDBY" \
                    and i.get("status") == "OPEN" and v.msg.get("inst_ok") == "OK" \
                    and (force or self.rstat(v) == "VALID"):
                out.append(v)
        out.sort(key=lambda v: -int(v.inst().get("clsn", 0)))
        return out

    # ---- the plans (§7) --------------------------------------------------------------------
    def do_switchover(self, g: MonGroup, t: WatcherView) -> None:
        self.refresh(self.gviews(g))
        p = self.primary(g)
        if t not in self.switchover_candidates(g) or p is None:
            raise CmdError(DWMON_NO_CANDIDATE, lang.msg("m_cannot_switch", name=t.name))
        t0 = time.monotonic()
        self.lock([p, t])
        try:
            self.say("m_sw_start", name=t.name)
            self.to_wstatus(p, "SWITCHOVER")
            self.to_wstatus(t, "SWITCHOVER")
            self.exec_step(p, "SP_SET_GLOBAL_DW_STATUS(0, 6)")
            self.exec_step(t, "SP_SET_GLOBAL_DW_STATUS(0, 6)")
            self.exec_step(p, "ALTER DATABASE MOUNT")
            self.exec_step(t, "SP_APPLY_KEEP_PKG()")
            self.exec_step(t, "ALTER DATABASE MOUNT")
            self.exec_step(p, "ALTER DATABASE STANDBY")
            self.exec_step(t, "ALTER DATABASE PRIMARY")
            self.say("m_arch_invalid", name=t.name)
            self.req(t, {"op": "set_arch", "dest": "*", "status": "INVALID"})
            self.req(p, {"op": "set_arch", "dest": "*", "status": "INVALID"})
            self.say("m_arch_invalid_ok")
            self.exec_step(p, "ALTER DATABASE OPEN FORCE")
            self.req(t, {"op": "set_arch", "dest": p.name, "status": "VALID"})
            self.exec_step(t, "ALTER DATABASE OPEN FORCE")
            self.exec_step(t, "SP_SET_GLOBAL_DW_STATUS(6, 0)")
            self.exec_step(p, "SP_SET_GLOBAL_DW_STATUS(6, 0)")
            self.req(t, {"op": "history_add", "kind": "SWITCHOVER", "parent": p.name})
            self.to_wstatus(t, "OPEN")
            self.to_wstatus(p, "OPEN")
        finally:
            self.unlock([p, t])
        self.refresh(self.gviews(g))
        self.say("m_sw_ok", name=t.name, secs=f"{time.monotonic() - t0:.3f}")

    def do_takeover(self, g: MonGroup, t: WatcherView, force: bool) -> None:
        self.refresh(self.gviews(g), timeout=1.0)
        if t not in self.takeover_candidates(g, force):
            raise CmdError(DWMON_NO_CANDIDATE, lang.msg("m_cannot_takeover", name=t.name))
        old = self.primary(g, fresh_only=False)
        t0 = time.monotonic()
        self.lock([t])
        try:
            self.say("m_tk_start", name=t.name)
            self.to_wstatus(t, "TAKEOVER")
            self.exec_step(t, "SP_SET_GLOBAL_DW_STATUS(0, 7)")
            self.exec_step(t, "SP_APPLY_KEEP_PKG()")
            self.exec_step(t, "ALTER DATABASE MOUNT")
            self.exec_step(t, "ALTER DATABASE PRIMARY")
            self.say("m_arch_invalid", name=t.name)
            self.req(t, {"op": "set_arch", "dest": "*", "status": "INVALID"})
            self.say("m_arch_invalid_ok")
            self.exec_step(t, "ALTER DATABASE OPEN FORCE")
            self.exec_step(t, "SP_SET_GLOBAL_DW_STATUS(7, 0)")
            self.req(t, {"op": "history_add", "kind": "TAKEOVER", "parent": old.name if old else None})
            self.to_wstatus(t, "OPEN")
        finally:
            self.unlock([t])
        self.refresh([t])
        self.say("m_tk_ok", name=t.name, secs=f"{time.monotonic() - t0:.3f}")

    def standby_lost_primary(self, v: WatcherView, p: WatcherView) -> bool:
        """Whether standby `v`'s own latest message confirms the primary lost (reference §3.3, §4.4): its
        watcher has not heard `p`'s watcher for DW_ERROR_TIME either. A message without `peer_links`
        (an older watcher) or without an entry for `p` cannot contradict the monitor's view."""
        links = (v.msg or {}).get("peer_links")
        if links is None:
            return True
        entry = next((e for n, e in links.items() if n.upper() == p.name.upper()), None)
        if entry is None:
            return True
        age = entry.get("dw_age")
        return age is None or age >= float(p.msg.get("dw_error_time", 60))

    def auto_takeover_target(self, g: MonGroup) -> WatcherView | None:
        """The standby an AUTO confirm monitor takes over on now, or None. The primary counts as lost when
        its own watcher (fresh) reports the instance failed, or when it has been silent for DW_ERROR_TIME
        and the candidate standby's watcher has lost it too; a silence seen by the monitor alone (only
        its own link cut) is no failure."""
        vs = [v for v in self.gviews(g) if v.msg]
        if not vs or vs[0].msg.get("dw_mode") != "AUTO":
            return None
        p = self.primary(g, fresh_only=False)
        if p is None or not self.primary_failed(g):
            return None
        reported_down = p.fresh() and p.msg.get("inst_ok") != "OK"
        silent = time.monotonic() - p.seen >= float(p.msg.get("dw_error_time", 60))
        if not (reported_down or silent):
            return None
        cands = self.takeover_candidates(g, force=False)
        if not reported_down:
            cands = [v for v in cands if self.standby_lost_primary(v, p)]
        return cands[0] if cands else None

    def _auto_takeover(self, g: MonGroup) -> None:
        if self.auto_running:
            return
        target = self.auto_takeover_target(g)
        if target is None:
            return
        vs = [v for v in self.gviews(g) if v.msg]
        self.auto_running = True
        try:
            with self.cmd_lock:
                self.say("m_auto_check", group=g.name)
                self.say("m_set_mid", group=g.name)
                for v in vs:
                    if v.fresh():
                        try:
                            self.req(v, {"op": "set_mid", "mid": self.id}, timeout=3)
                        except CmdError:
                            pass
                self.say("m_set_mid_ok", group=g.name)
                self.do_takeover(g, target, force=False)
        except CmdError as e:
            self.fail(e.code, e.text)
        finally:
            self.auto_running = False

    # ---- commands --------------------------------------------------------------------------
    def run_command(self, line: str) -> bool:
        """Run one console line; False means exit."""
        words = line.split()
        if not words:
            return True
        low = [w.lower() for w in words]
        try:
            with self.cmd_lock:
                return self._dispatch(words, low)
        except CmdError as e:
            self.fail(e.code, e.text)
        except DmError as e:
            self.fail(e.code, e.message)
        return True

    def _arg(self, words: list[str], i: int) -> str | None:
        return words[i] if len(words) > i else None

    def _dispatch(self, w: list[str], low: list[str]) -> bool:
        cmd = " ".join(low)
        if cmd in ("exit", "exit all", "quit"):
            return False
        if cmd == "help":
            self.write(HELP_EN if lang.is_en() else HELP_CN)
            return True
        if cmd == "show version":
            self.write("DMMONITOR[4.0] V8\n")
            return True
        if low[0] == "show" and len(low) >= 3 and low[1:3] == ["global", "info"]:
            self.write(self.render_show(self._arg(w, 3), only="global"))
            return True
        if low[:4] == ["show", "arch", "send", "info"]:
            self._show_arch_send(self._arg(w, 4))
            return True
        if low[:3] == ["show", "open", "info"]:
            self._show_open_info(self._arg(w, 3))
            return True
        if low[:2] == ["show", "monitor"]:
            self._show_monitor()
            return True
        if low[:2] == ["show", "database"]:
            g, v = self.db(self._arg(w, 2))
            self._only_db = v
            try:
                self.write(self.render_show(g.name, only="database"))
            finally:
                self._only_db = None
            return True
        if low[0] == "show" and len(low) <= 2:
            self.write(self.render_show(self._arg(w, 1)))
            return True
        if low[0] == "list":
            self._list(self._arg(w, 1))
            return True
        if cmd == "tip":
            self._tip()
            return True
        if low[0] == "login":
            self._login()
            return True
        if cmd == "logout":
            self.need_login()
            self.logged_in = False
            self.say("m_logout_ok")
            return True
        if low[:2] == ["get", "takeover"] and low[2:3] == ["time"]:
            g = self.group(self._arg(w, 3))
            self.write(lang.msg("m_takeover_time", group=g.name,
                                secs=self._takeover_countdown(g)) + "\n")
            return True
        # --- commands that need login ---
        if low[:3] == ["choose", "takeover", "force"]:
            self.need_login()
            g = self.group(self._arg(w, 3))
            self._print_cands(self.takeover_candidates(g, force=True))
            return True
        if low[:2] == ["choose", "switchover"]:
            self.need_login()
            g = self.group(self._arg(w, 2))
            self.refresh(self.gviews(g), timeout=1.0)
            self._print_cands(self.switchover_candidates(g))
            return True
        if low[:2] == ["choose", "takeover"]:
            self.need_login()
            g = self.group(self._arg(w, 2))
            self.refresh(self.gviews(g), timeout=1.0)
            self._print_cands(self.takeover_candidates(g, force=False))
            return True
        if low[0] == "switchover" and len(low) <= 2:
            self.need_login()
            g, v = self.db(self._arg(w, 1), default_filter=lambda v: v.inst().get("mode") == "STANDBY")
            if self.confirm("SWITCHOVER", g, v):
                self.do_switchover(g, v)
            return True
        if low[:2] == ["takeover", "force"] and len(low) <= 3:
            self.need_login()
            g, v = self.db(self._arg(w, 2), default_filter=lambda v: v.inst().get("mode") == "STANDBY")
            if self.confirm("TAKEOVER FORCE", g, v):
                self.do_takeover(g, v, force=True)
            return True
        if low[0] == "takeover" and len(low) <= 2:
            self.need_login()
            g, v = self.db(self._arg(w, 1), default_filter=lambda v: v.inst().get("mode") == "STANDBY")
            if self.confirm("TAKEOVER", g, v):
                self.do_takeover(g, v, force=False)
            return True
        if (low[:2] == ["open", "database"] or low[:2] == ["open", "force"]) and len(low) <= 3:
            self.need_login()
            g, v = self.db(self._arg(w, 2))
            self._open_force(g, v)
            return True
        if low[:2] == ["check", "open"] and len(low) <= 3:
            self.need_login()
            g, v = self.db(self._arg(w, 2))
            self._check_open(g, v)
            return True
        if low[:2] == ["check", "recover"] and len(low) <= 3:
            self.need_login()
            g, v = self.db(self._arg(w, 2), default_filter=lambda v: v.inst().get("mode") == "STANDBY")
            self._check_recover(g, v)
            return True
        if low[1:2] == ["group"] and low[0] in ("stop", "startup", "kill") and len(low) <= 3:
            self.need_login()
            g = self.group(self._arg(w, 2))
            getattr(self, f"_{low[0]}_group")(g)
            return True
        if low[1:2] == ["database"] and low[0] in ("stop", "startup", "kill") and len(low) <= 3:
            self.need_login()
            g, v = self.db(self._arg(w, 2))
            self._one_db(low[0], v)
            return True
        if low[1:2] == ["dmwatcher"] and low[0] in ("stop", "startup") and len(low) <= 3:
            self.need_login()
            g = self.group(self._arg(w, 2))
            for v in self.gviews(g):
                self.req(v, {"op": "watch", "on": low[0] == "startup"})
            self.say("m_cmd_ok", cmd=" ".join(w))
            return True
        if low[:2] == ["set", "group"] or low[:2] == ["set", "database"]:
            self.need_login()
            self._set(w, low)
            return True
        raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_cmd", cmd=" ".join(w)))

    def _print_cands(self, cands: list[WatcherView]) -> None:
        if not cands:
            self.say("m_no_cand")
            return
        for v in cands:
            self.write(f"{v.name}\n")

    def _login(self) -> None:
        self.write(lang.msg("m_user"))
        user = self.inp.readline().strip()
        self.write("\n" if not self.out.isatty() else "")
        if self.inp.isatty():
            pwd = getpass.getpass(lang.msg("m_pwd"))
        else:
            self.write(lang.msg("m_pwd"))
            pwd = self.inp.readline().rstrip("\n")
            self.write("\n")
        live = [v for v in self.views if v.conn is not None and not v.conn.closed and v.fresh()
                and v.msg.get("inst_ok") == "OK"]
        for v in sorted(live, key=lambda v: -v.seen):  # the most recently heard first: a black-holed
            try:                                       # watcher must not hold the login up for long
                r = self.req(v, {"op": "login", "user": user, "pwd": pwd}, timeout=LOGIN_REQ_TIMEOUT)
            except CmdError:
                continue
            if r.get("ok"):
                self.logged_in = True
                self.say("m_login_ok")
                return
            break
        raise CmdError(-2501, lang.msg("m_login_fail"))

    def _tip(self) -> None:
        problems = []
        for g in self.cfg.groups:
            vs = self.gviews(g)
            prim = [v for v in vs if v.fresh() and v.inst().get("mode") == "PRIMARY"
                    and v.inst().get("status") in ("OPEN", "SUSPEND")]
            for v in vs:
                if not v.msg:
                    problems.append(lang.msg("m_tip_nolink", name=f"{v.host}:{v.port}"))
                elif not v.fresh():
                    problems.append(lang.msg("m_tip_timeout", name=v.name))
                elif v.msg.get("wctlstat") == "SPLIT":
                    e = v.msg.get("split_by") or {}
                    problems.append(lang.msg("m_tip_split", name=v.name, by=e.get("db_name")))
                elif v.msg.get("inst_ok") != "OK":
                    problems.append(lang.msg("m_tip_inst", name=v.name))
                elif v.wstatus() != "OPEN" or v.inst().get("status") != "OPEN":
                    problems.append(lang.msg("m_tip_state", name=v.name, w=v.wstatus(), i=v.inst().get("status")))
                elif v.inst().get("mode") == "STANDBY" and self.rstat(v) != "VALID":
                    problems.append(lang.msg("m_tip_arch", name=v.name, r=self.rstat(v)))
            if len(prim) > 1:
                problems.append(lang.msg("m_tip_two_primary", names=", ".join(v.name for v in prim)))
            elif not prim:
                problems.append(lang.msg("m_tip_no_primary", group=g.name))
        if not problems:
            self.say("m_tip_ok")
            return
        self.say("m_tip_bad")
        for p in problems:
            self.write(f"    {p}\n")
        raise CmdError(DWMON_SYS_NOT_OK, lang.msg("m_tip_code"))

    def _list(self, spec: str | None) -> None:
        if spec:
            targets = [self.db(spec)[1]]
        else:
            targets = [v for v in self.views if v.msg]
        keys = ("DW_TYPE", "DW_MODE", "DW_ERROR_TIME", "INST_RECOVER_TIME", "INST_ERROR_TIME", "INST_OGUID",
                "INST_INI", "INST_AUTO_RESTART", "INST_STARTUP_CMD", "RLOG_SEND_THRESHOLD", "RLOG_APPLY_THRESHOLD")
        for v in targets:
            m = v.msg
            cfg = dict(m.get("config") or {})
            cfg["INST_AUTO_RESTART"] = str(m.get("auto_restart"))
            cfg["INST_RECOVER_TIME"] = str(m.get("inst_recover_time"))
            self.write(f"\n[{v.group.name}.{v.name}]  ({v.host}:{v.port})\n")
            for k in keys:
                self.write(f"    {k:<24}= {cfg.get(k, '')}\n")
        self.write("\n")

    def _show_arch_send(self, spec: str | None) -> None:
        g, v = self.db(spec, default_filter=lambda v: v.inst().get("mode") == "PRIMARY")
        i = v.inst()
        self.write(f"{'INST_NAME':<17}{'ARCH_DEST':<17}{'ARCH_TYPE':<11}{'STATUS':<9}{'MAX_SEND_LSN':<16}"
                   f"{'LAST_SEND_LSN':<16}{'SEND_NUM':<10}{'SEND_BYTES':<14}{'LAST_CODE':<11}LAST_SEND_DESC\n")
        for a in i.get("arch", []):
            if a["type"] not in ("REALTIME", "TIMELY"):
                continue
            s = (i.get("send") or {}).get(a["dest"].upper(), {})
            self.write(f"{v.name:<17}{a['dest']:<17}{a['type']:<11}{a['status']:<9}{s.get('max_send_lsn', 0):<16}"
                       f"{s.get('last_send_lsn', 0):<16}{s.get('n_send', 0):<10}{s.get('bytes', 0):<14}"
                       f"{s.get('last_code', 0):<11}{s.get('last_desc', '')}\n")

    def _show_open_info(self, spec: str | None) -> None:
        g, v = self.db(spec)
        self.write(f"{'NTH':<5}{'TGUID':<13}{'TIME':<21}{'KIND':<12}{'SYS_MODE':<10}{'DB_NAME':<17}"
                   f"{'PARENT':<17}DB_MAGIC\n")
        for n, e in enumerate(v.msg.get("history") or []):
            self.write(f"{n:<5}{e['tguid']:<13}{ts(e['time']):<21}{e['kind']:<12}{e['sys_mode']:<10}"
                       f"{e['db_name']:<17}{e.get('parent') or '':<17}{e.get('db_magic', 0)}\n")

    def _show_monitor(self) -> None:
        self.write(f"{'MON_ID':<14}{'CONFIRM':<9}{'GROUP':<10}DW\n")
        for v in self.views:
            self.write(f"{self.id:<14}{'TRUE' if self.cfg.confirm else 'FALSE':<9}{v.group.name:<10}"
                       f"{v.name}({v.host}:{v.port}) monitors={(v.msg or {}).get('n_monitors', 0)}\n")

    def _takeover_countdown(self, g: MonGroup) -> int:
        p = self.primary(g, fresh_only=False)
        if p is None or not self.cfg.confirm or not p.msg or p.msg.get("dw_mode") != "AUTO":
            return -1
        err = float(p.msg.get("dw_error_time", 60))
        left = err - self._group_silence(g, p)
        return max(0, int(left)) if self.primary_failed(g) or left < err - 2 else -1

    def _group_silence(self, g: MonGroup, p: WatcherView) -> float:
        """Seconds since anyone last heard primary watcher `p`: the monitor itself or, per its latest
        `peer_links`, a standby's watcher; a cut of only the monitor's link does not count down."""
        now = time.monotonic()
        silence = now - p.seen
        for v in self.gviews(g):
            if v is p or not v.fresh():
                continue
            links = (v.msg or {}).get("peer_links") or {}
            entry = next((e for n, e in links.items() if n.upper() == p.name.upper()), None)
            if entry is not None and entry.get("dw_age") is not None:
                silence = min(silence, float(entry["dw_age"]) + (now - v.seen))
        return silence

    def _open_force(self, g: MonGroup, v: WatcherView) -> None:
        i = v.inst()
        if i.get("status") == "OPEN" and v.wstatus() == "OPEN":
            self.say("m_already_open", name=v.name)
            return
        if i.get("status") != "MOUNT":
            raise CmdError(DWMON_CANNOT_OPEN, lang.msg("m_cannot_open", name=v.name, st=i.get("status")))
        self.lock([v])
        try:
            self.to_wstatus(v, "OPENFORCE")
            if i.get("mode") == "PRIMARY":
                self.req(v, {"op": "set_arch", "dest": "*", "status": "INVALID"})
            self.exec_step(v, "ALTER DATABASE OPEN FORCE")
            if i.get("mode") == "PRIMARY":
                self.req(v, {"op": "history_add", "kind": "OPEN FORCE", "parent": None})
            self.to_wstatus(v, "OPEN")
        finally:
            self.unlock([v])
        self.say("m_open_ok", name=v.name)

    def _check_open(self, g: MonGroup, v: WatcherView) -> None:
        i = v.inst()
        if i.get("status") == "OPEN" and v.wstatus() == "OPEN":
            self.say("m_check_open_ok", name=v.name)
            return
        if v.msg.get("wctlstat") == "SPLIT":
            raise CmdError(DWMON_CANNOT_OPEN, lang.msg("m_tip_split", name=v.name,
                                                       by=(v.msg.get("split_by") or {}).get("db_name")))
        others = [x for x in self.gviews(g) if x is not v]
        if i.get("mode") == "PRIMARY" and any(not x.fresh() for x in others):
            raise CmdError(DWMON_OPEN_NEED_USER, lang.msg("m_open_need_user", name=v.name))
        if i.get("mode") == "STANDBY" and self.primary(g) is None:
            raise CmdError(-26, lang.msg("m_wait_primary", name=v.name))
        raise CmdError(DWMON_CHECK_OPEN_LATER, lang.msg("m_check_later", name=v.name))

    def _check_recover(self, g: MonGroup, v: WatcherView) -> None:
        p = self.primary(g)
        i = v.inst()
        if p is None or i.get("mode") != "STANDBY" or v.msg.get("wctlstat") == "SPLIT" \
                or int(i.get("clsn", 0)) > int(p.inst().get("clsn", 0)):
            raise CmdError(DWMON_STDBY_CANNOT_RECOVER, lang.msg("m_cannot_recover", name=v.name))
        if self.rstat(v) == "VALID":
            self.say("m_recover_ok", name=v.name)
            return
        self.req(p, {"op": "recover", "dest": v.name})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            self.refresh([p, v], timeout=2)
            if self.rstat(v) == "VALID":
                self.say("m_recover_ok", name=v.name)
                return
        raise CmdError(DWMON_CHECK_RECOV_LATER, lang.msg("m_check_later", name=v.name))

    def _stop_group(self, g: MonGroup) -> None:
        vs = [v for v in self.gviews(g) if v.conn and not v.conn.closed]
        p = self.primary(g, fresh_only=False)
        self.lock(vs)
        try:
            for v in vs:
                self.to_wstatus(v, "SHUTDOWN")
            order = ([p] if p in vs else []) + [v for v in vs if v is not p]
            for v in order:
                self.say("m_stop_inst", name=v.name)
                self.req(v, {"op": "stop_inst"})
                self._wait(lambda v=v: v.msg.get("inst_ok") != "OK", 30)
                self.say("m_stop_inst_ok", name=v.name)
        finally:
            self.unlock(vs)
        self.say("m_stop_group_ok", group=g.name)

    def _kill_group(self, g: MonGroup) -> None:
        for v in self.gviews(g):
            if v.conn and not v.conn.closed:
                self.req(v, {"op": "kill_inst"})
        self.say("m_kill_group_ok", group=g.name)

    def _startup_group(self, g: MonGroup) -> None:
        p = self.primary(g, fresh_only=False)
        vs = [v for v in self.gviews(g) if v.conn and not v.conn.closed]
        for v in ([p] if p in vs else []) + [v for v in vs if v is not p]:
            self.req(v, {"op": "start_inst"})
        ok = self._wait(lambda: all(v.wstatus() == "OPEN" and v.inst().get("status") == "OPEN" for v in vs), 60)
        if not ok:
            raise CmdError(DWMON_CHECK_OPEN_LATER, lang.msg("m_check_later", name=g.name))
        self.say("m_startup_group_ok", group=g.name)

    def _one_db(self, what: str, v: WatcherView) -> None:
        op = {"stop": "stop_inst", "kill": "kill_inst", "startup": "start_inst"}[what]
        self.req(v, {"op": op})
        self.say("m_cmd_ok", cmd=f"{what} database {v.name}")

    def _set(self, w: list[str], low: list[str]) -> None:
        # set group [g] auto restart on|off ; set group [g] recover time n ; set database [g.]db recover time n
        # set database [g.]db arch invalid ; set group [g] arch invalid
        rest = low[2:]
        target = None
        if rest and rest[0] not in ("auto", "recover", "arch"):
            target = w[2]
            rest = rest[1:]
        if low[1] == "group":
            vs = self.gviews(self.group(target))
        else:
            vs = [self.db(target)[1]]
        if rest[:2] == ["auto", "restart"] and rest[2:] in (["on"], ["off"]):
            for v in vs:
                self.req(v, {"op": "set_para", "name": "INST_AUTO_RESTART", "value": "1" if rest[2] == "on" else "0"})
        elif rest[:2] == ["recover", "time"] and len(rest) == 3 and rest[2].isdigit():
            for v in vs:
                self.req(v, {"op": "set_para", "name": "INST_RECOVER_TIME", "value": rest[2]})
        elif rest == ["arch", "invalid"]:
            for v in vs:
                g = v.group
                p = self.primary(g)
                if p is None:
                    raise CmdError(DWMON_NO_CANDIDATE, lang.msg("m_tip_no_primary", group=g.name))
                if v is p:
                    self.req(p, {"op": "set_arch", "dest": "*", "status": "INVALID"})
                else:
                    self.req(p, {"op": "set_arch", "dest": v.name, "status": "INVALID"})
        else:
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_cmd", cmd=" ".join(w)))
        self.say("m_cmd_ok", cmd=" ".join(w))

    def _wait(self, cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if cond():
                    return True
            except (KeyError, TypeError, AttributeError):
                pass
            time.sleep(0.1)
        return False

    # ---- main loop ---------------------------------------------------------------------------
    def loop(self) -> int:
        while True:
            line = self.inp.readline()
            if not line:
                return 0
            if self.log is not None:
                with self._out_lock:
                    try:
                        self.log.write(line)
                    except (OSError, ValueError):
                        pass
            if not self.run_command(line.strip()):
                return 0

    def close(self) -> None:
        self._stop.set()
        for v in self.views:
            if v.conn:
                v.conn.close()
        if self.log is not None:
            self.log.close()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: dmmonitor <dmmonitor.ini>."""
    path = ini_path_arg(list(sys.argv[1:] if argv is None else argv), "dmmonitor")
    if not path:
        return 1
    try:
        mon = Monitor(load_monitor(path))
    except DmError as e:
        sys.stderr.write(f"[{e.code}]:{e.message}\n")
        return 1
    try:
        mon.start()
        if mon.fatal:
            return 1
        return mon.loop()
    except KeyboardInterrupt:
        return 0
    finally:
        mon.close()


if __name__ == "__main__":
    sys.exit(main())
