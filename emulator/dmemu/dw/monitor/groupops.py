"""Whole-group and per-instance commands: stop/startup/kill group or database, detach/attach database,
set ... parameters."""

from __future__ import annotations

import threading

from ... import bugs, lang
from ..config import MonGroup
from . import cmdmsg  # noqa: F401 - registers the detach/attach messages
from .model import DWMON_CHECK_OPEN_LATER, DWMON_INVALID_ARG, DWMON_NO_CANDIDATE, CmdError, WatcherView


class GroupCommands:
    """Commands acting on every watcher of a group or on one instance (mixin of Monitor)."""

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
                if bugs.active("kill-group-restarts"):
                    threading.Timer(2.0, self._quiet_req, (v, {"op": "start_inst"})).start()
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
        self.lock([v])                       # one monitor command at a time per watcher (reference 4.2, B6)
        try:
            self.req(v, {"op": op})
        finally:
            self.unlock([v])
        self.say("m_cmd_ok", cmd=f"{what} database {v.name}")

    def _quiet_req(self, v: WatcherView, msg: dict) -> None:
        try:
            self.req(v, msg)
        except CmdError:
            pass

    def _detach(self, v: WatcherView) -> None:
        """The standby leaves the group: its watcher goes SHUTDOWN, its instance exits, the primary stops
        sending to it (archive INVALID). The primary cannot be detached (reference 4.2)."""
        self.refresh(self.gviews(v.group), timeout=1.0)
        mode = v.inst().get("mode")
        if mode == "PRIMARY" and not bugs.active("detach-primary-allowed"):
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_detach_primary", name=v.name))
        if mode not in ("STANDBY", "PRIMARY") or v.wstatus() in ("SHUTDOWN", "ERROR"):
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_detach_not_standby", name=v.name))
        p = self.primary(v.group)
        self.lock([v])
        try:
            self.to_wstatus(v, "SHUTDOWN")
            if not bugs.active("detach-leaves-instance"):
                self.req(v, {"op": "stop_inst"})
            if p is not None and p is not v:
                self.req(p, {"op": "set_arch", "dest": v.name, "status": "INVALID"})
        finally:
            self.unlock([v])
        self.say("m_detach_ok", name=v.name)

    def _attach(self, v: WatcherView) -> None:
        """A detached database rejoins: its watcher starts the instance and watches it again, and the
        primary recovers it. Only a detached (SHUTDOWN) database can be attached."""
        self.refresh([v], timeout=1.0)
        if v.wstatus() != "SHUTDOWN" and not bugs.active("attach-when-not-detached"):
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_not_detached", name=v.name))
        self.req(v, {"op": "start_inst"})
        if bugs.active("attach-skips-recovery"):
            self.req(v, {"op": "watch", "on": False})
        self.say("m_attach_ok", name=v.name)

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
                if bugs.active("arch-invalid-ignored"):
                    continue
                if v is p:
                    self.req(p, {"op": "set_arch", "dest": "*", "status": "INVALID"})
                else:
                    self.req(p, {"op": "set_arch", "dest": v.name, "status": "INVALID"})
        else:
            raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_cmd", cmd=" ".join(w)))
        self.say("m_cmd_ok", cmd=" ".join(w))
