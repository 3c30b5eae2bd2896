"""The watcher's automatic state machine (no monitor needed, as in DM8): one `step` every loop pass
opens mounted instances (primary first, a standby once its primary's archive to it is VALID), follows
the group history (SPLIT detection, refusing split senders), keeps WSTATUS in line with the instance
and starts a returning standby's recovery after INST_RECOVER_TIME. A mixin of Watcher."""

from __future__ import annotations

import threading
import time

from .. import bugs, lang
from ..errors import DmError
from . import protocol
from .history import replaced_by, superseded

SYNC_TYPES = ("REALTIME", "TIMELY")   # archives the primary's watcher invalidates and recovers


class WatcherSteps:
    """The automatic decisions of a Watcher, taken under its lock."""

    def busy(self) -> bool:
        return self.cmd_owner is not None or self.wstatus in ("SWITCHOVER", "TAKEOVER", "OPENFORCE", "SHUTDOWN")

    def primary_peer(self) -> tuple[str, dict] | None:
        """The live PRIMARY OPEN peer this standby follows: never one marked SPLIT, nor one our own history
        (adopted from the primary we followed) says was replaced while it was cut off."""
        for n, p in self.live_peers().items():
            i = p.get("inst") or {}
            if i.get("mode") == "PRIMARY" and i.get("status") == "OPEN" and p.get("inst_ok") == "OK" \
                    and p.get("wctlstat") != "SPLIT" and not self._split_from_us(n, p):
                return n, p
        return None

    def _split_from_us(self, name: str, peer: dict) -> dict | None:
        return superseded(name, peer.get("history") or [], self.ctl.entries)

    def _refuse_split_senders(self) -> None:
        """Reference 3.5 (B17, B18): a split instance is not let back into the group. Tell the standby
        instance which peers our history says were replaced, so it takes no redo (real-time, recovery or
        ASYNC) from them until they are rebuilt and follow the group's history again."""
        names = sorted(n.upper() for n, p in self.live_peers().items() if self._split_from_us(n, p))
        if bugs.active("standby-takes-split-redo"):
            names = []
        if names != self.refused:
            self.inst_req({"op": "refuse_senders", "names": names})
            self.refused = names

    def step(self) -> None:
        """One pass of the watcher's automatic decisions."""
        with self._lock:
            self._check_split()
            if not self.watching or self.busy():
                return
            i = self.inst
            if not i or self.inst_ok() != "OK":
                self.refused = None                   # a restarted instance has to be told again
                if self.wstatus in ("OPEN", "RECOVERY", "CONFIRM"):
                    self.set_wstatus("STARTUP")
                return
            mode, status = i.get("mode"), i.get("status")
            if mode == "PRIMARY":
                self._step_primary(status)
            elif mode == "STANDBY":
                self._step_standby(status)
            elif status == "OPEN" and self.wstatus != "OPEN":
                self.set_wstatus("OPEN")

    def _check_split(self) -> None:
        if self.inst.get("mode") != "PRIMARY":
            if self.wctlstat == "SPLIT" and self.inst:
                self.wctlstat, self.split_by = "VALID", None
            return
        for p in self.peers.values():
            e = replaced_by(self.ctl, self.inst_name, p.get("history") or [])
            if e is not None:
                if self.wctlstat != "SPLIT":
                    self.say(lang.msg("w_split", name=self.inst_name, by=e["db_name"], kind=e["kind"]))
                self.wctlstat, self.split_by = "SPLIT", e
                return

    def _step_primary(self, status: str) -> None:
        live = self.live_peers()
        if status == "MOUNT":
            if self.wctlstat == "SPLIT" or self.primary_peer() is not None:
                return
            for p in live.values():
                if replaced_by(self.ctl, self.inst_name, p.get("history") or []):
                    return
            others = [m.name for m in self.mal.insts if m.name.upper() != self.me.name.upper()]
            if not (all(n in live for n in others) or self.was_open):
                return
            self._open_primary("OPEN" if not self.ctl.entries else None)
            return
        if self.confirming:
            if self.wstatus != "CONFIRM":
                self.set_wstatus("CONFIRM")
            return
        if status == "SUSPEND":
            return
        if status == "OPEN":
            if self.wstatus != "OPEN":
                self.set_wstatus("OPEN")
            self.was_open = True
            self._watch_standbys(live)

    def _open_primary(self, history_kind: str | None) -> None:
        """Primary first: set each REALTIME archive VALID only for a connected standby in step, then OPEN."""
        live = self.live_peers()
        for a in self.inst.get("arch", []):
            if a["type"] not in SYNC_TYPES:
                continue
            p = live.get(a["dest"]) or next((q for n, q in live.items() if n.upper() == a["dest"].upper()), None)
            ok = p is not None and (p.get("inst") or {}).get("mode") == "STANDBY" \
                and (p.get("inst") or {}).get("clsn") == self.inst.get("clsn")
            self.set_arch(a["dest"], "VALID" if ok else "INVALID")
        self.say(lang.msg("w_open", name=self.inst_name, mode="PRIMARY"))
        self.exec_sql("ALTER DATABASE OPEN")
        if history_kind:
            self.ctl.add(history_kind, self.inst_name, None, self.inst.get("dbmagic", 0))
        self.was_open = True
        self.set_wstatus("OPEN")

    def _watch_standbys(self, live: dict[str, dict]) -> None:
        """Invalidate lost standbys; recover returning ones after INST_RECOVER_TIME."""
        now = time.monotonic()
        for a in self.inst.get("arch", []):
            if a["type"] not in SYNC_TYPES:
                continue                             # ASYNC destinations follow their timer (asyncarch.py)
            dest = a["dest"].upper()
            p = next((q for n, q in live.items() if n.upper() == dest), None)
            pi = (p or {}).get("inst") or {}
            if a["status"] == "VALID":
                if p is None and not bugs.active("no-suspend-on-send-failure"):
                    self._lost_standby(a["dest"], "DW_ERROR_TIME")
                self.recover_since.pop(dest, None)
                continue
            healthy = p is not None and p.get("inst_ok") == "OK" and pi.get("mode") == "STANDBY" \
                and pi.get("status") in ("MOUNT", "OPEN") and p.get("wstatus") in ("STARTUP", "OPEN", "RECOVERY") \
                and p.get("watching", True) and int(pi.get("clsn", 0)) <= int(self.inst.get("clsn", 0))
            if not healthy:
                self.recover_since.pop(dest, None)
                continue
            since = self.recover_since.setdefault(dest, now)
            if now - since >= self.recover_time and dest not in self.recovering:
                self.recovering.add(dest)
                threading.Thread(target=self._recover, args=(a["dest"],), daemon=True).start()

    def _recover(self, dest: str) -> None:
        try:
            self.say(lang.msg("w_recover", dest=dest))
            r = self.inst_req({"op": "recover", "dest": dest}, timeout=600)
            self.say(lang.msg("w_recover_ok", dest=dest, lsn=r.get("lsn")))
        except (DmError, protocol.LinkError) as e:
            self.say(lang.msg("w_recover_fail", dest=dest, why=str(e)))
        finally:
            self.recover_since.pop(dest.upper(), None)
            self.recovering.discard(dest.upper())

    def _step_standby(self, status: str) -> None:
        self._refuse_split_senders()
        pp = self.primary_peer()
        my_rstat = None
        if pp is not None:
            for a in (pp[1].get("inst") or {}).get("arch", []):
                if a["dest"].upper() == self.inst_name.upper() and a["type"] in (*SYNC_TYPES, "ASYNC"):
                    my_rstat = a["status"]
        if status == "MOUNT":
            if my_rstat == "VALID":
                self.say(lang.msg("w_open", name=self.inst_name, mode="STANDBY"))
                self.exec_sql("ALTER DATABASE OPEN")
                self.set_wstatus("OPEN")
            elif my_rstat == "INVALID" and self.wstatus != "RECOVERY":
                self.set_wstatus("RECOVERY")
            return
        if status == "OPEN":
            if my_rstat == "VALID":
                self.ctl.adopt(pp[1].get("history") or [])
                n = (pp[1].get("inst") or {}).get("n_open")
                if n is not None and n != self.inst.get("n_open"):
                    self.inst_req({"op": "n_open", "n": n})
            want = "RECOVERY" if my_rstat == "INVALID" else "OPEN"
            if self.wstatus != want:
                self.set_wstatus(want)


__all__ = ["SYNC_TYPES", "WatcherSteps"]
