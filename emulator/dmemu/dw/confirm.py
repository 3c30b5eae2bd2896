"""A primary's watcher losing a standby (REALTIME send failure or DW_ERROR_TIME silence): in MANUAL
the standby's archive goes INVALID at once and the suspended primary reopens; in AUTO the watcher
enters CONFIRM and asks the confirm monitor first (reference §3.3, §4.4). A mixin of Watcher."""

from __future__ import annotations

import threading

from .. import lang
from ..errors import DmError
from . import protocol

CONFIRM_INTERVAL = 0.5          # how often a watcher in CONFIRM asks the confirm monitor again
CONFIRM_TIMEOUT = 2.0           # a confirm monitor that has not answered by then counts as no answer


class WatcherConfirm:
    """Lost-standby decisions of a Watcher: invalidate now, or after the confirm monitor confirms."""

    def _handle_send_failed(self, msg: dict) -> None:
        """Primary could not ship redo (§5.2 step 5): the standby is lost."""
        self._lost_standby(msg["dest"], str(msg.get("error")))

    def _lost_standby(self, dest: str, why: str) -> None:
        """MANUAL: invalidate the standby's archive now. AUTO: first the confirm monitor must confirm the
        failure (reference §3.3, §4.4: protection against a network split), so go to CONFIRM and ask it
        until it does; the suspended primary stays suspended meanwhile."""
        if self.cfg.dw_mode != "AUTO":
            self._invalidate(dest, why)
            return
        with self._lock:
            if dest.upper() not in self.confirming:
                self.confirming[dest.upper()] = {"dest": dest, "why": why, "asked": False, "silent": False,
                                                 "refused": None}
            self.set_wstatus("CONFIRM")
            if self._confirm_thread is None:
                self._confirm_thread = threading.Thread(target=self._confirm_loop, name="dw-confirm", daemon=True)
                self._confirm_thread.start()

    def _invalidate(self, dest: str, why: str) -> None:
        """Set the lost standby's REALTIME archive INVALID and reopen a suspended primary."""
        with self._lock:
            try:
                self.say(lang.msg("w_arch_invalid", name=self.inst_name, dest=dest, why=why))
                self.set_arch(dest, "INVALID")
                self.recover_since.pop(dest.upper(), None)
                self._inst_link()
                self._reopen_suspended()
            except (DmError, protocol.LinkError) as e:
                self.say(str(e))

    def _reopen_suspended(self) -> None:
        if self.inst.get("status") == "SUSPEND":
            self.exec_sql("ALTER DATABASE OPEN")

    def _confirm_loop(self) -> None:
        """CONFIRM: ask a connected confirm monitor every CONFIRM_INTERVAL until each lost standby is
        confirmed (then invalidate) or no longer needs it (archive already INVALID, instance not an
        open or suspended PRIMARY any more)."""
        while not self._stop.is_set():
            with self._lock:
                if not self.confirming:
                    self._confirm_thread = None
                    return
                pending = list(self.confirming.values())
            i = self.inst
            if self.inst_ok() != "OK" or i.get("mode") != "PRIMARY" or i.get("status") not in ("OPEN", "SUSPEND"):
                with self._lock:
                    self.confirming.clear()
                continue
            for e in pending:
                arch = next((a for a in i.get("arch", []) if a["dest"].upper() == e["dest"].upper()), None)
                if arch is None or arch["status"] != "VALID":
                    with self._lock:
                        self.confirming.pop(e["dest"].upper(), None)
                        try:
                            self._reopen_suspended()
                        except (DmError, protocol.LinkError) as err:
                            self.say(str(err))
                elif self._ask_confirm(e):
                    with self._lock:
                        self.confirming.pop(e["dest"].upper(), None)
                    self._invalidate(e["dest"], e["why"])
            self._stop.wait(CONFIRM_INTERVAL)

    def _ask_confirm(self, e: dict) -> bool:
        """One round: True when a connected confirm monitor confirms the failure of standby e["dest"]."""
        if self.wctlstat == "SPLIT":
            return False
        mons = [c for c, m in list(self.monitors.items()) if m["confirm"] and not c.closed]
        answer = None
        if mons:
            if not e["asked"]:
                e["asked"] = True
                self.say(lang.msg("w_confirm_ask", dest=e["dest"]))
            try:
                answer = mons[0].request({"op": "confirm", "group": self.cfg.group, "name": self.inst_name,
                                          "dest": e["dest"]}, timeout=CONFIRM_TIMEOUT)
            except protocol.LinkError:
                answer = None
        if answer is None or not answer.get("ok"):
            if not e["silent"]:
                e["silent"] = True
                self.say(lang.msg("w_confirm_none", dest=e["dest"]))
            return False
        if answer.get("confirmed"):
            self.say(lang.msg("w_confirm_ok", dest=e["dest"]))
            return True
        if e["refused"] != answer.get("why"):
            e["refused"] = answer.get("why")
            self.say(lang.msg("w_confirm_no", dest=e["dest"], why=answer.get("why")))
        return False


__all__ = ["CONFIRM_INTERVAL", "CONFIRM_TIMEOUT", "WatcherConfirm"]
