"""A confirm monitor's automatic decisions: auto takeover and confirming a lost standby (§3.3, §4.4)."""

from __future__ import annotations

import time

from ... import lang
from ..config import MonGroup
from .model import DWMON_INVALID_ARG, CmdError, WatcherView


class AutoTakeover:
    """Auto takeover, the standby-failure confirmation and the takeover countdown (mixin of Monitor)."""

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
