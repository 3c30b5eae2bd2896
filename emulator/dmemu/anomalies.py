"""The seeded defects only the harness's anomaly checkers can see (bugs.CATALOG, the client-visible ones):

- `standby-partial-apply`: the standby applies a transaction of several row changes in two engine
  commits, every SPLIT_EVERY-th of them SPLIT_PAUSE_S apart, so a read on the standby can see half of
  it (a partial bank transfer);
- `demoted-primary-acks`: for DEMOTED_ACK_S after its switch to STANDBY a former primary still calls
  itself PRIMARY at login and acknowledges DML without logging or shipping it (lost on the group);
- `standby-stale-read`: every STALE_EVERY-th user query on a standby answers with the result that query
  had before its latest change, from before the commits applied since (reads go back in time);
- `takeover-lost-update` (dw/agent.py, dw/mal.py): the standby holds back the last HOLD_PKGS packages it
  received (and acknowledged), and takeover throws away KEEP_BUF and everything held: the primary's last
  commits before it was lost are gone although the standby had acknowledged them.

Kept here so the instance and its redo (instance.py, redo.py) hold only one-line hooks; none of this
runs unless DMEMU_BUGS names it.
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
HOLD_PKGS = 50
_SELECT = re.compile(r"^\s*SELECT\b", re.I)
_FROM = re.compile(r"\b(?:FROM|JOIN)\s+([\w$.\"]+)", re.I)


_split = itertools.count(1)


def split_rows(ops: list) -> tuple[list, list] | None:
    """The ops of one transaction in two parts: the first changed row (its delete and its new image)
    and everything else; None when the transaction changes a single row."""
    pick = next(((op[1], op[2][0]) for op in ops if op[0] == "D" and op[2]), None) or \
        next(((op[1], op[2]) for op in ops if op[0] == "DR"), None)
    if pick is None:
        return None
    phys, rid = pick
    first: list = []
    rest: list = []
    for op in ops:
        if op[0] == "D" and op[1] == phys and rid in op[2]:
            first.append(("D", phys, [rid]))
            others = [r for r in op[2] if r != rid]
            rest += [("D", phys, others)] if others else []
        elif op[0] == "DR" and op[1] == phys and op[2] <= rid <= op[3]:
            first.append(("D", phys, [rid]))
            rest.append(("D", phys, [r for r in range(op[2], op[3] + 1) if r != rid]))
        elif op[0] == "I" and op[1] == phys:
            mine = [r for r in op[3] if r[0] == rid]
            others = [r for r in op[3] if r[0] != rid]
            first += [("I", phys, op[2], mine)] if mine else []
            rest += [("I", phys, op[2], others)] if others else []
        else:
            rest.append(op)
    return (first, rest) if first and rest else None


def split_apply(apply: Callable[[list, int], None], ops: list, lsn_lo: int, lsn_hi: int) -> bool:
    """standby-partial-apply: apply one transaction as two engine commits, its first changed row alone
    first (a pause between them every SPLIT_EVERY-th time); False when it changes a single row."""
    parts = split_rows(ops)
    if parts is None:
        return False
    apply(parts[0], max(lsn_lo, lsn_hi - 1))
    if next(_split) % SPLIT_EVERY == 0:
        time.sleep(SPLIT_PAUSE_S)
    apply(parts[1], lsn_hi)
    return True


def holds(queued_behind: int) -> bool:
    """takeover-lost-update: the standby applies a package only once HOLD_PKGS newer ones are queued
    behind it (or the queue is drained: flush notice, switchover, recovery)."""
    return bugs.active("takeover-lost-update") and queued_behind < HOLD_PKGS


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
    """standby-stale-read: the last two different results of each (query, parameters) on this standby."""

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
            gens = self._seen.get(key, [])
            if not gens or gens[-1].rows != res.rows:    # keep the last two different answers
                self._seen[key] = [*gens[-1:], _copy(res)]
        return res


def _copy(res: Any) -> Any:
    out = copy.copy(res)
    out.rows = list(res.rows)
    return out
