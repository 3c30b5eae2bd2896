"""The monitor's model of each group: which watcher is primary, archive states, candidates."""

from __future__ import annotations

from ... import bugs, lang
from ..config import MonGroup
from .model import DWMON_INVALID_ARG, CmdError, WatcherView


class GroupView:
    """Group lookups and candidate rules over the watchers' last status messages (mixin of Monitor)."""

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
        """The group's primary as the monitor knows it (never a SPLIT one): an OPEN one before any other
        status and, with fresh_only=False, a fresh one before the last known state of a silent one -- after
        a takeover the lost old primary still reads PRIMARY OPEN, and the new primary is the one to follow."""
        views = [v for v in self.gviews(g) if v.inst().get("mode") == "PRIMARY" and (v.fresh() or not fresh_only)
                 and v.msg.get("wctlstat") != "SPLIT"]
        if bugs.active("monitor-follows-stale-primary"):
            return next((v for v in views if v.inst().get("status") == "OPEN"), views[0] if views else None)
        views.sort(key=lambda v: (v.inst().get("status") != "OPEN", not v.fresh()))
        return views[0] if views else None

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
            if a["type"] in ("REALTIME", "TIMELY", "ASYNC") and a["dest"].upper() == v.name.upper():
                return a["status"]
        return "UNKNOWN"

    def is_async(self, v: WatcherView) -> bool:
        """An asynchronous standby: its watcher is DW_TYPE LOCAL, or the (last known) primary ships to it
        only by an ASYNC archive. It is never a switchover or takeover candidate (reference §5.1)."""
        if (v.msg or {}).get("wtype") == "LOCAL":
            return True
        p = self.primary(v.group, fresh_only=False)
        if p is None or p is v:
            return False
        kinds = {a["type"] for a in p.inst().get("arch", []) if a["dest"].upper() == v.name.upper()}
        return "ASYNC" in kinds and not kinds & {"REALTIME", "TIMELY"}

    def primary_failed(self, g: MonGroup) -> bool:
        p = self.primary(g, fresh_only=False)
        if p is None:
            return True
        if not p.fresh():
            return True
        i = p.inst()
        return p.msg.get("inst_ok") != "OK" or i.get("status") not in ("OPEN", "SUSPEND")

    def switchover_candidates(self, g: MonGroup) -> list[WatcherView]:
        p = self.primary(g)
        if p is None or p.wstatus() != "OPEN" or p.inst().get("status") != "OPEN":
            return []
        out = []
        for v in self.gviews(g):
            i = v.inst()
            if v is not p and v.fresh() and v.wstatus() == "OPEN" and i.get("mode") == "STANDBY" \
                    and i.get("status") == "OPEN" and self.rstat(v) == "VALID" and not self.is_async(v):
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
                    and (force or self.rstat(v) == "VALID") \
                    and (not self.is_async(v) or bugs.active("async-takeover-candidate")):
                out.append(v)
        out.sort(key=lambda v: -int(v.inst().get("clsn", 0)))
        return out
