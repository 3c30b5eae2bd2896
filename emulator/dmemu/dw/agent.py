"""The instance's side of MAL_INST_DW_PORT: status stream and command channel for its local dmwatcher.

Runs inside dmserver. The watcher asks for the instance's status (name, pid, mode, status, OGUID,
magics, N_OPEN, FILE_LSN/CUR_LSN, archive and MAL link status), runs the statements of the
switchover/takeover plans (ALTER DATABASE ..., SP_SET_GLOBAL_DW_STATUS, SP_APPLY_KEEP_PKG), changes
archive status, starts recovery of a standby, checks monitor logins and stops the instance.
Also owns the Data Watch dynamic views and SQL (V$DMWATCHER, V$MAL_LINK_STATUS, ...).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import signal
import threading
import time

from .. import bugs, lang
from ..api import Column, Result
from ..errors import DmError
from . import protocol, resync
from .asyncarch import AsyncShipper
from .config import MalConfig, MalInst, load_mal
from .mal import Mal

_ALTER = re.compile(r"^ALTER\s+DATABASE\s+(MOUNT|OPEN\s+FORCE|OPEN|SUSPEND|PRIMARY|STANDBY|NORMAL)$", re.I)
_DWST = re.compile(r"^(?:CALL\s+)?SP_SET_GLOBAL_DW_STATUS\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$", re.I)
_KEEP = re.compile(r"^(?:CALL\s+)?SP_APPLY_KEEP_PKG\s*\(\s*\)$", re.I)

lang.register({
    "dw_no_self": ("dmmal.ini中没有实例{name}的配置", "dmmal.ini has no [MAL_INSTn] for instance {name}"),
    "dw_bad_stmt": ("守护进程不支持的语句: {sql}", "Statement not supported by the watcher channel: {sql}"),
})


def _norm(sql: str) -> str:
    s = sql.strip()
    while s.endswith(";"):
        s = s[:-1].rstrip()
    return " ".join(s.split())


def _v(name: str, n: int = 128) -> Column:
    return Column(name, "VARCHAR", n)


def _b(name: str) -> Column:
    return Column(name, "BIGINT", 19)


def _t(name: str) -> Column:
    return Column(name, "DATETIME", 26, 6)


def _ts(ts: float) -> _dt.datetime | None:
    return _dt.datetime.fromtimestamp(ts).replace(microsecond=0) if ts else None


class Agent:
    """Listener on MAL_HOST:MAL_INST_DW_PORT plus the DW views/SQL of the instance."""

    def __init__(self, inst, cfg: MalConfig, me: MalInst, mal: Mal):
        self.inst = inst
        self.cfg = cfg
        self.me = me
        self.mal = mal
        self.watchers: list[protocol.Conn] = []
        self.winfo: dict = {}
        mal.notify = self._notify
        self.listener = protocol.Listener(me.host, me.inst_dw_port, self._on_conn, name=f"instdw-{me.name}",
                                          on_request=self._on_request, on_push=self._on_push,
                                          on_close=self._on_close, threaded=True)
        inst.view_providers.update({
            "V$DMWATCHER": self.v_dmwatcher, "V$DMMONITOR": self.v_dmmonitor,
            "V$DM_MAL_INI": self.v_dm_mal_ini, "V$MAL_LINK_STATUS": self.v_mal_link_status,
            "V$ARCH_SEND_INFO": self.v_arch_send_info, "V$RAPPLY_SYS": self.v_rapply_sys,
        })
        inst.statement_handlers.append(self.sql_handler)
        inst.rw_standbys = self.rw_standbys

    def stop(self) -> None:
        self.listener.stop()
        for c in list(self.watchers):
            c.close()
        self.mal.stop()

    # ---- links ---------------------------------------------------------------------------
    def _on_conn(self, conn: protocol.Conn) -> None:
        self.watchers.append(conn)

    def _on_close(self, conn: protocol.Conn) -> None:
        if conn in self.watchers:
            self.watchers.remove(conn)
        if not self.watchers:
            self.inst.watcher_active = False

    def _notify(self, msg: dict) -> None:
        for c in list(self.watchers):
            try:
                c.send(msg)
            except protocol.LinkError:
                pass

    def _on_push(self, conn: protocol.Conn, msg: dict) -> None:
        if msg.get("op") == "winfo":
            self.winfo = msg
            self.inst.watcher_active = msg.get("wstatus") not in (None, "STARTUP")

    # ---- requests ------------------------------------------------------------------------
    def status(self) -> dict:
        inst = self.inst
        return {"ok": True, "name": inst.name, "pid": os.getpid(), "mode": inst.mode, "status": inst.status,
                "oguid": inst.oguid, "pmagic": inst.permanent_magic, "dbmagic": inst.db_magic,
                "n_open": inst.n_open, "flsn": inst.file_lsn, "clsn": inst.cur_lsn,
                "arch": [{"name": a["name"], "type": a["type"], "dest": a["dest"], "status": a["status"]}
                         for a in inst.arch],
                "links": self.mal.link_status(), "keep_lsn": self.mal.keep.lsn_hi if self.mal.keep else 0,
                "dw_status": self.mal.dw_status, "recent": list(self.mal.recent)[-5:],
                "send": {d: vars(s) for d, s in self.mal.stats.items()},
                "apply": {"n_recv": self.mal.n_recv, "applied": self.mal.applied_pkgs,
                          "last_apply": self.mal.last_apply},
                "inst_host": self.me.inst_host, "inst_port": self.me.inst_port}

    def _on_request(self, conn: protocol.Conn, msg: dict) -> dict:
        op = msg.get("op")
        if op == "hello":
            return self.status()
        if op == "status":
            return self.status()
        if op == "exec":
            self.exec_dw(msg["sql"])
            return {"ok": True}
        if op == "set_arch":
            self.set_arch(msg["dest"], msg["status"])
            return {"ok": True}
        if op == "recover":
            return resync.recover(self.mal, msg["dest"])
        if op == "refuse_senders":
            self.mal.refused = {str(n).upper() for n in msg.get("names", [])}
            return {"ok": True}
        if op == "n_open":
            if self.inst.mode == "STANDBY":
                self.inst.ctl.update(n_open=int(msg["n"]))    # a synced standby shows its primary's N_OPEN
            return {"ok": True}
        if op == "login":
            db = self.inst.db
            ok = db is not None and db.check_password(str(msg["user"]).upper(), str(msg["pwd"]))
            return {"ok": bool(ok)}
        if op == "shutdown":
            threading.Thread(target=self._shutdown_soon, daemon=True).start()
            return {"ok": True}
        if op == "kill":
            threading.Thread(target=lambda: (time.sleep(0.05), os.kill(os.getpid(), signal.SIGKILL)),
                             daemon=True).start()
            return {"ok": True}
        return {"ok": False, "code": -1, "error": f"unknown op {op}"}

    def _shutdown_soon(self) -> None:
        time.sleep(0.05)
        self.inst.request_shutdown()

    def set_arch(self, dest: str, status: str) -> None:
        status = status.upper()
        for a in self.inst.arch:
            if a["dest"].upper() == dest.upper() or (dest == "*" and a["type"] in ("REALTIME", "TIMELY")):
                a["status"] = status

    def exec_dw(self, sql: str) -> Result:
        """The statements a watcher runs on its instance (bypassing ALTER_MODE_STATUS like DM8's watcher)."""
        s = _norm(sql)
        inst = self.inst
        m = _ALTER.match(s)
        if m:
            what = m.group(1).upper().split()[0]
            if what in ("MOUNT", "OPEN", "SUSPEND"):
                if what == "OPEN" and inst.mode == "STANDBY":
                    self.mal.recv_hi = -1
                inst.set_status(what)
            else:
                inst.set_mode(what)
            return Result(kind="other")
        m = _DWST.match(s)
        if m:
            self.mal.dw_status = int(m.group(2))
            return Result(kind="other")
        if _KEEP.match(s):
            drop = (bugs.active("switchover-drops-keepbuf") and self.mal.dw_status == 6) or \
                (bugs.active("takeover-lost-update") and self.mal.dw_status == 7)
            self.mal.apply_keep(drop=drop)
            return Result(kind="other")
        raise DmError(-2007, lang.msg("dw_bad_stmt", sql=sql))

    def sql_handler(self, sql: str, session: object) -> Result | None:
        """SP_APPLY_KEEP_PKG() and SP_SET_GLOBAL_DW_STATUS() from any SQL session."""
        s = _norm(sql)
        if _KEEP.match(s) or _DWST.match(s):
            return self.exec_dw(s)
        return None

    # ---- views ---------------------------------------------------------------------------
    def v_dmwatcher(self):
        cols = [_v("GROUP_NAME"), _v("INST_NAME"), _v("DW_MODE"), _v("DW_STATUS"), _v("DW_SUB_STATUS"),
                _v("DW_CTL_STATUS"), _v("AUTO_RESTART"), _b("N_INST")]
        w = self.winfo
        if not w or not self.watchers:
            return cols, []
        row = (w.get("group"), self.inst.name, w.get("dw_mode"), w.get("wstatus"), "NONE", w.get("wctlstat"),
               str(w.get("auto_restart", 0)), len(self.cfg.insts))
        return cols, [row]

    def v_dmmonitor(self):
        cols = [_v("MON_ID"), _v("MON_IP"), _v("MON_CONFIRM"), _v("MON_VERSION"), _v("MID"), _t("DW_CONN_TIME"),
                _b("MON_TERM")]
        rows = []
        for m in self.winfo.get("monitors", []) if self.watchers else []:
            rows.append((m["id"], m["ip"], "TRUE" if m["confirm"] else "FALSE", "DMMONITOR[4.0] V8",
                         m.get("mid", ""), _ts(m["since"]), 0))
        return cols, rows

    def v_dm_mal_ini(self):
        cols = [_v("MAL_NAME"), _v("MAL_INST_NAME"), _v("MAL_HOST"), _b("MAL_PORT"), _v("MAL_INST_HOST"),
                _b("MAL_INST_PORT"), _b("MAL_DW_PORT"), _b("MAL_INST_DW_PORT"), _b("MAL_LINK_MAGIC")]
        rows = [(m.section, m.name, m.host, m.port, m.inst_host, m.inst_port, m.dw_port, m.inst_dw_port,
                 m.link_magic) for m in self.cfg.insts]
        return cols, rows

    def v_mal_link_status(self):
        cols = [_v("LOCAL_INST_NAME"), _v("REMOTE_INST_NAME"), _v("CTL_LINK_STATUS"), _v("DATA_LINK_STATUS"),
                _t("CONNECT_TIME")]
        rows = []
        for name, st in self.mal.link_status().items():
            rows.append((self.inst.name, name, st, st, _ts(self.mal.link_up.get(name.upper(), 0))))
        return cols, rows

    def rw_standbys(self) -> list[tuple[str, int]]:
        """(MAL_INST_HOST, MAL_INST_PORT) of every standby fit for reads (reference 8.3): a TIMELY or
        REALTIME archive to it that is VALID, and the MAL link to it CONNECTED."""
        links = {k.upper(): v for k, v in self.mal.link_status().items()}
        any_state = bugs.active("rw-routes-invalid-standby")
        out = []
        for a in self.inst.arch:
            if a["type"] not in ("TIMELY", "REALTIME") or (a["status"] != "VALID" and not any_state):
                continue
            m = next((m for m in self.cfg.insts if m.name.upper() == a["dest"].upper()), None)
            if m is not None and (any_state or links.get(m.name.upper()) == "CONNECTED"):
                out.append((m.inst_host, m.inst_port))
        return out

    def v_arch_send_info(self):
        cols = [_v("ARCH_DEST"), _v("ARCH_TYPE"), _b("MAX_SEND_LSN"), _b("LAST_SEND_LSN"), _b("LAST_SEND_CODE"),
                _v("LAST_SEND_DESC", 512), _t("LAST_START_TIME"), _t("LAST_END_TIME"), _b("LAST_SEND_TIME"),
                _b("MAX_SEND_TIME"), _b("SEND_NUM"), _b("SEND_BYTES"), _b("TOTAL_SEND_TIME")]
        rows = []
        for a in self.mal.realtime_dests(("REALTIME", "TIMELY", "ASYNC")):
            s = self.mal.stats.get(a["dest"].upper())
            if s is None:
                rows.append((a["dest"], a["type"], 0, 0, 0, "", None, None, 0, 0, 0, 0, 0))
            else:
                rows.append((a["dest"], a["type"], s.max_send_lsn, s.last_send_lsn, s.last_code, s.last_desc,
                             _ts(s.last_start), _ts(s.last_end), int(s.last_time * 1e6), int(s.max_time * 1e6),
                             s.n_send, s.bytes, int(s.total_time * 1e6)))
        return cols, rows

    def v_rapply_sys(self):
        cols = [_b("TASK_NUM"), _b("TASK_MEM_USED"), _v("APPLYING", 1), _b("RECV_LSN"), _b("KEEP_LSN"),
                _b("APPLY_LSN"), _b("N_RECV"), _b("N_APPLY"), _t("LAST_APPLY_TIME")]
        m = self.mal
        keep = m.keep.lsn_hi if m.keep else 0
        recv = max(m.recv_hi, keep, self.inst.cur_lsn)
        row = (1 + m.apply_q.qsize(), len(m.keep.blob) if m.keep else 0, "Y" if m.keep is not None else "N", recv, keep,
               self.inst.cur_lsn, m.n_recv, m.applied_pkgs, _ts(m.last_apply))
        return cols, [row]


def start(inst) -> Agent | None:
    """dmserver's hook (MAL_INI=1): start MAL and the watcher channel for `inst`; the caller keeps the
    returned Agent in inst.listeners so shutdown stops it."""
    if str(inst.ini.get("MAL_INI", "0")).strip() != "1":
        return None
    base = inst.ini.get("CONFIG_PATH") or os.path.dirname(os.path.abspath(inst.ini_path))
    cfg = load_mal(os.path.join(base, "dmmal.ini"))
    me = cfg.find(inst.name)
    if me is None:
        raise DmError(-803, lang.msg("dw_no_self", name=inst.name))
    mal = Mal(inst, cfg, me)
    try:
        mal.shipper = AsyncShipper(mal, base)
        agent = Agent(inst, cfg, me, mal)
    except BaseException:
        mal.stop()
        raise
    inst.realtime_sender = mal.send
    inst.timely_sender = mal.send_timely
    return agent
