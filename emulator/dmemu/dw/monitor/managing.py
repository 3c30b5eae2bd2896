"""The managing plans of reference §7: switchover, takeover [force], open force, check open/recover."""

from __future__ import annotations

import time

from ... import bugs, lang
from ..config import MonGroup
from .model import (
    DWMON_CANNOT_OPEN,
    DWMON_CHECK_OPEN_LATER,
    DWMON_CHECK_RECOV_LATER,
    DWMON_NO_CANDIDATE,
    DWMON_OPEN_NEED_USER,
    DWMON_STDBY_CANNOT_RECOVER,
    CmdError,
    WatcherView,
)


class Managing:
    """Step-by-step role changes driven through the watchers (mixin of Monitor)."""

    def do_switchover(self, g: MonGroup, t: WatcherView) -> None:
        self.refresh(self.gviews(g))
        p = self.primary(g)
        if t not in self.switchover_candidates(g) or p is None:
            raise CmdError(DWMON_NO_CANDIDATE, lang.msg("m_cannot_switch", name=t.name))
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
            self.exec_step(p, "SP_SET_GLOBAL_DW_STATUS(6, 0)")       # order as in real captures
            self.exec_step(t, "SP_SET_GLOBAL_DW_STATUS(6, 0)")
            self.req(t, {"op": "history_add", "kind": "SWITCHOVER", "parent": p.name})
            self.to_wstatus(p, "OPEN")
            self.to_wstatus(t, "OPEN")
        finally:
            self.unlock([p, t])
        self.say("m_clean", group=g.name)
        for v in self.gviews(g):
            if v.conn is not None and not v.conn.closed:
                self.say("m_clean_ok", name=v.name)
        self.refresh(self.gviews(g))
        self.say("m_sw_ok", name=t.name)

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

    def _open_force(self, g: MonGroup, v: WatcherView) -> None:
        i = v.inst()
        if i.get("status") == "OPEN" and v.wstatus() == "OPEN":
            self.say("m_already_open", name=v.name)
            return
        if i.get("status") != "MOUNT":
            raise CmdError(DWMON_CANNOT_OPEN, lang.msg("m_cannot_open", name=v.name, st=i.get("status")))
        if bugs.active("open-database-ignored"):
            self.say("m_open_ok", name=v.name)
            return
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
