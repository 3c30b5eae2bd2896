"""Requests monitors send a watcher: the monitor handshake (OGUID, one confirm monitor, MAX_MONITORS),
the command lock, and the primitive steps monitors drive switchover, takeover and open force with
(set WSTATUS, exec SQL, set archive, history entry, stop/start/kill the instance, SET parameters).
A mixin of Watcher."""

from __future__ import annotations

import os
import time

from .. import bugs, lang
from ..instance import is_running
from . import protocol

MAX_MONITORS = 10

# dwmon return codes (behaviour reference §4.2, G2)
DWMON_NOT_LOGIN = -5
DWMON_MULTI_CONFIRM_MON = -14
DWMON_REACH_TO_MAX_CONN = -19
DWMON_CMD_RUNNING = -8
DWMON_OGUID = -9


class WatcherRequests:
    """A Watcher's answers to its monitors' requests."""

    # ---- requests from monitors ----------------------------------------------------------
    def _on_request(self, conn: protocol.Conn, msg: dict) -> dict:
        op = msg.get("op")
        if op == "mon_hello":
            return self._mon_hello(conn, msg)
        mon = self.monitors.get(conn)
        if mon is None:
            return {"ok": False, "code": DWMON_NOT_LOGIN, "error": "hello first"}
        if op == "status":
            return {"ok": True, "wmsg": self.wmsg()}
        if op == "login":
            r = self.inst_req({"op": "login", "user": msg["user"], "pwd": msg["pwd"]})
            return {"ok": bool(r.get("ok"))}
        if op == "lock":
            with self._lock:
                if self.cmd_owner not in (None, mon["id"]) and not bugs.active("monitor-commands-overlap"):
                    return {"ok": False, "code": DWMON_CMD_RUNNING, "error": lang.msg("w_cmd_running")}
                self.cmd_owner = mon["id"]
            return {"ok": True}
        if op == "unlock":
            with self._lock:
                if self.cmd_owner == mon["id"]:
                    self.cmd_owner = None
            return {"ok": True}
        if op == "wstatus":
            return {"ok": True, "from": self.set_wstatus(msg["to"])}
        if op == "exec":
            self.exec_sql(msg["sql"])
            self.push_all()
            return {"ok": True}
        if op == "set_arch":
            self.set_arch(msg["dest"], msg["status"])
            self._inst_link()
            self.push_all()
            return {"ok": True}
        if op == "history_add":
            e = self.ctl.add(msg["kind"], self.inst_name, msg.get("parent"), self.inst.get("dbmagic", 0))
            self.wctlstat, self.split_by = "VALID", None
            self.was_open = True
            self.push_all()
            return {"ok": True, "entry": e}
        if op == "stop_inst":
            self.no_restart = True
            self.was_open = False
            self.set_wstatus("SHUTDOWN")
            self.inst_req({"op": "shutdown"})
            return {"ok": True}
        if op == "kill_inst":
            self.no_restart = True
            self.was_open = False
            self.set_wstatus("SHUTDOWN")
            self.inst_req({"op": "kill"})
            return {"ok": True}
        if op == "start_inst":
            self.no_restart = False
            self.watching = True
            if self.wstatus == "SHUTDOWN":
                self.set_wstatus("STARTUP")
            if not is_running(os.path.join(self.sys_dir, "dmserver.lck")):
                if not self.cfg.inst_startup_cmd:
                    return {"ok": False, "code": -27, "error": "INST_STARTUP_CMD not configured"}
                self.start_instance()
            return {"ok": True}
        if op == "watch":
            self.watching = bool(msg["on"])
            if self.watching and self.wstatus == "SHUTDOWN":
                self.set_wstatus("STARTUP")
            self.push_all()
            return {"ok": True}
        if op == "set_mid":
            self.mid = str(msg.get("mid", ""))
            return {"ok": True}
        if op == "set_para":
            return self._set_para(msg["name"], msg["value"])
        if op == "recover":
            dest = msg["dest"]
            if dest.upper() in self.recovering:
                return {"ok": False, "code": -20, "error": "recovery already running"}
            self.recover_since[dest.upper()] = time.monotonic() - self.recover_time
            return {"ok": True}
        return {"ok": False, "code": -1, "error": f"unknown op {op}"}

    def _set_para(self, name: str, value: str) -> dict:
        name = name.upper()
        if name == "INST_AUTO_RESTART":
            self.auto_restart = int(value)
        elif name == "INST_RECOVER_TIME":
            self.recover_time = int(value)
        else:
            return {"ok": False, "code": -1, "error": f"unsupported parameter {name}"}
        _rewrite_group_key(self.cfg.path, name, value)
        self.push_all()
        return {"ok": True}

    def _mon_hello(self, conn: protocol.Conn, msg: dict) -> dict:
        with self._lock:
            if int(msg.get("oguid", -1)) != self.cfg.inst_oguid:
                return {"ok": False, "code": DWMON_OGUID,
                        "error": lang.msg("w_mon_oguid", mon=msg.get("oguid"), mine=self.cfg.inst_oguid)}
            for old in [c for c, m in self.monitors.items() if m["id"] == msg.get("id")]:
                self.monitors.pop(old, None)          # the same monitor dialling again: its old link is dead
                old.close()
            if msg.get("confirm") and any(m["confirm"] for m in self.monitors.values()) \
                    and not bugs.active("second-confirm-monitor-accepted"):
                return {"ok": False, "code": DWMON_MULTI_CONFIRM_MON, "error": lang.msg("w_multi_confirm")}
            if len(self.monitors) >= MAX_MONITORS:
                return {"ok": False, "code": DWMON_REACH_TO_MAX_CONN, "error": lang.msg("w_max_mon")}
            self.monitors[conn] = {"id": msg.get("id"), "ip": conn.src, "confirm": bool(msg.get("confirm")),
                                   "since": time.time(), "mid": self.mid}
        return {"ok": True, "wmsg": self.wmsg()}


def _rewrite_group_key(path: str, key: str, value: str) -> None:
    """Set KEY = value inside the group section of dmwatcher.ini (memory and file, as DM8 does)."""
    from ..storage import write_atomic
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out, done = [], False
    for line in lines:
        k = line.split("=", 1)[0].strip().upper() if "=" in line and not line.lstrip().startswith("#") else None
        if k == key and not done:
            out.append(f"{key} = {value}")
            done = True
        else:
            out.append(line)
    if not done:
        out.append(f"{key} = {value}")
    write_atomic(path, ("\n".join(out) + "\n").encode())


__all__ = ["DWMON_CMD_RUNNING", "DWMON_MULTI_CONFIRM_MON", "DWMON_NOT_LOGIN", "DWMON_OGUID",
           "DWMON_REACH_TO_MAX_CONN", "MAX_MONITORS", "WatcherRequests"]
