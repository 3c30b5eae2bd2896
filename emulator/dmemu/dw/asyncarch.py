"""ASYNC archives: redo shipped to an asynchronous standby on a dmtimer.ini schedule (reference §5.1).

dmarch.ini names the destination and its timer:

    [ARCHIVE_ASYNC1]
    ARCH_TYPE       = ASYNC
    ARCH_DEST       = mema3
    ARCH_TIMER_NAME = RT_TIMER

and dmtimer.ini (next to dmarch.ini, CONFIG_PATH) holds the timer section with DM8's keys: TYPE (1 once,
2 daily), FREQ_MINUTE_INTERVAL (fire every n minutes of the day), IS_VALID (0 = never fires); the other
keys (START_TIME, DURING_*_DATE, ...) are accepted. A tick fires when the clock crosses a multiple of
the period, so every n minutes from midnight. Emulator-only: `DMEMU_TIMER_MINUTE_S` is the length of one
timer minute in seconds (default 60) so tests can run a one-minute timer in one second.

On each tick an OPEN instance, PRIMARY or STANDBY (a STANDBY still sends ASYNC, reference §5.1), asks the
destination for its LSN and streams everything after it from its archives and online log, the same
batches a returning real-time standby is recovered with. The commit never waits for it. A failed tick
sets the archive INVALID (shown in V$ARCH_STATUS and V$ARCH_SEND_INFO); the next good tick sets it VALID.
"""

from __future__ import annotations

import os
import threading
import time

from .. import ini as dmini
from ..errors import DmError
from . import protocol, resync

TICK_S = 0.2


def minute_s() -> float:
    """Seconds per timer minute (emulator-only DMEMU_TIMER_MINUTE_S, default 60)."""
    try:
        v = float(os.environ.get("DMEMU_TIMER_MINUTE_S", "60"))
    except ValueError:
        raise DmError(-803, "DMEMU_TIMER_MINUTE_S must be a number of seconds") from None
    return v if v > 0 else 60.0


def load_timers(config_dir: str) -> dict[str, dict]:
    """dmtimer.ini's sections by upper-case name: {"type", "minutes", "valid"}."""
    path = os.path.join(config_dir, "dmtimer.ini")
    if not os.path.exists(path):
        return {}
    out = {}
    for sec in dmini.load(path).named():
        try:
            out[sec.name.upper()] = {"type": sec.int("TYPE", 2), "minutes": max(1, sec.int("FREQ_MINUTE_INTERVAL", 1)),
                                     "valid": sec.int("IS_VALID", 1)}
        except DmError as e:
            raise DmError(-803, f"{path}: [{sec.name}] {e.message}") from None
    return out


def check_config(arch: list[dict], config_dir: str) -> None:
    """Every ASYNC destination names a timer of dmtimer.ini (one-line -803 error otherwise)."""
    timers = load_timers(config_dir)
    for a in arch:
        if a["type"] != "ASYNC":
            continue
        name = (a.get("items") or {}).get("ARCH_TIMER_NAME", "")
        if not name:
            raise DmError(-803, f"dmarch.ini: [{a['name']}] ARCH_TIMER_NAME is missing (ASYNC needs a dmtimer.ini timer)")
        if name.upper() not in timers:
            raise DmError(-803, f"dmtimer.ini: no [{name}] section (named by ARCH_TIMER_NAME of [{a['name']}])")


class AsyncShipper:
    """The timer task of one instance: ships to each of its ASYNC destinations when their timer fires."""

    def __init__(self, mal, config_dir: str):
        self.mal = mal
        self.inst = mal.inst
        self.config_dir = config_dir
        self._slot: dict[str, int] = {}
        self._once: set[str] = set()
        self._stop = threading.Event()
        check_config(self.inst.arch, config_dir)
        threading.Thread(target=self._run, name="dw-async", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def dests(self) -> list[dict]:
        return [a for a in self.inst.arch if a["type"] == "ASYNC"]

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            dests = self.dests()
            if not dests or self.inst.status != "OPEN" or self.inst.mode not in ("PRIMARY", "STANDBY"):
                continue
            try:
                timers = load_timers(self.config_dir)
            except DmError as e:
                self.mal.recent.append(e.message)
                continue
            for a in dests:
                if self._due(a, timers):
                    self.ship(a)

    def _due(self, a: dict, timers: dict[str, dict]) -> bool:
        t = timers.get(((a.get("items") or {}).get("ARCH_TIMER_NAME") or "").upper())
        if t is None or not t["valid"]:
            return False
        key = a["dest"].upper()
        if t["type"] == 1:                           # once
            if key in self._once:
                return False
            self._once.add(key)
            return True
        slot = int(time.time() // (t["minutes"] * minute_s()))
        last = self._slot.setdefault(key, slot)
        if slot == last:
            return False
        self._slot[key] = slot
        return True

    def ship(self, a: dict) -> int:
        """One timer firing: send `a`'s standby everything it lacks; returns its LSN afterwards."""
        mal = self.mal
        st = mal._stat(a["dest"])
        t0 = time.time()
        try:
            c = mal.link(a["dest"])
            r = c.request({"op": "async_lsn"}, timeout=10)
            if not r.get("ok"):
                raise DmError(r.get("code", -1), r.get("error", "refused"))
            lsn = int(r["lsn"])
            if lsn < self.inst.cur_lsn:
                lsn = resync.stream(c, self.inst.redo_since(lsn), lsn)
        except (protocol.LinkError, DmError) as e:
            mal._record_fail(a["dest"], e)
            a["status"] = "INVALID"
            return -1
        t1 = time.time()
        a["status"] = "VALID"
        st.max_send_lsn = max(st.max_send_lsn, lsn)
        st.last_send_lsn = lsn
        st.last_code, st.last_desc = 0, "SUCCESS"
        st.last_start, st.last_end, st.last_time = t0, t1, t1 - t0
        st.max_time = max(st.max_time, st.last_time)
        st.n_send += 1
        st.total_time += st.last_time
        return lsn
