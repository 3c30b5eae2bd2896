"""The seeded defects only the harness's anomaly checkers can see (bugs.CATALOG, the client-visible ones):

- `standby-partial-apply`: the standby applies a transaction of several row changes in two engine
  commits, every SPLIT_EVERY-th of them SPLIT_PAUSE_S apart, so a read on the standby can see half of
  it (a partial bank transfer);
- `demoted-primary-acks`: for DEMOTED_ACK_S after its switch to STANDBY a former primary still calls
  itself PRIMARY at login and acknowledges DML without logging or shipping it (lost on the group);
- `standby-stale-read`: every STALE_EVERY-th user query on a standby answers with the result that query
  had one read earlier, from before the commits applied since (reads go back in time);
- `takeover-lost-update` (dw/agent.py): takeover drops KEEP_BUF, the last acknowledged package.

Kept here so instance.py holds only one-line hooks; none of this runs unless DMEMU_BUGS names it.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import bugs

SPLIT_PAUSE_S = 0.2
SPLIT_EVERY = 25        # only every 25th transaction pauses, so apply keeps up with the primary
DEMOTED_ACK_S = 6.0
STALE_EVERY = 3
_SELECT = re.compile(r"^\s*SELECT\b", re.I)
_FROM = re.compile(r"\b(?:FROM|JOIN)\s+([\w$.\"]+)", re.I)


_split = itertools.count(1)


def split_apply(apply: Callable[[list, int], None], ops: list, lsn_lo: int, lsn_hi: int) -> None:
    """standby-partial-apply: apply one transaction's `ops` in two engine commits (a pause between them
    every SPLIT_EVERY-th time)."""
    half = len(ops) // 2
    apply(ops[:half], max(lsn_lo, lsn_hi - 1))
    if next(_split) % SPLIT_EVERY == 0:
        time.sleep(SPLIT_PAUSE_S)
    apply(ops[half:], lsn_hi)


class Demotion:
    """demoted-primary-acks: when the instance last left PRIMARY mode."""

    def __init__(self) -> None:
        self.at = 0.0

    def mode_changed(self, old: str, new: str) -> None:
        if old == "PRIMARY" and new == "STANDBY":
            self.at = time.monotonic()

    def acks(self) -> bool:
        """True while the defect lets this former primary act as one."""
        return bugs.active("demoted-primary-acks") and self.at > 0 and time.monotonic() - self.at < DEMOTED_ACK_S


def _user_query(sql: str) -> bool:
    if not _SELECT.match(sql):
        return False
    names = [t.replace('"', "").upper().split(".")[-1] for t in _FROM.findall(sql)]
    return bool(names) and not any(n.startswith(("V$", "SYS", "DBA_", "USER_", "ALL_")) or n == "DUAL"
                                   for n in names)


class StaleReads:
    """standby-stale-read: the last two results of each (query, parameters) on this standby."""

    def __init__(self) -> None:
        self._seen: dict[tuple, list[Any]] = {}
        self._n = 0
        self._lock = threading.Lock()

    def read(self, mode: str, sql: str, params: Sequence | None, run: Callable[[], Any]) -> Any:
        if not bugs.active("standby-stale-read") or mode != "STANDBY" or not _user_query(sql):
            return run()
        key = (sql, tuple(params or ()))
        with self._lock:
            self._n += 1
            gens = self._seen.get(key, [])
            if len(gens) == 2 and self._n % STALE_EVERY == 0:
                return _copy(gens[0])
        res = run()
        res.rows = list(res.rows)
        with self._lock:
            self._seen[key] = [*gens[-1:], _copy(res)]
        return res


def _copy(res: Any) -> Any:
    out = copy.copy(res)
    out.rows = list(res.rows)
    return out
