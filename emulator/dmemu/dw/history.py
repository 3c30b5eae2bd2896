"""dmwatcher.ctl: the watcher's control file with the group's open/takeover history, and split detection.

Entries record who became primary and how (OPEN, SWITCHOVER, TAKEOVER, OPEN FORCE): tguid, time,
sys_mode, db_name, parent, db_magic (behaviour reference §3.5). A standby in sync adopts its primary's
history, so two watchers normally hold one history or a prefix of it. A PRIMARY whose history lacks a
newer entry made by another instance has been replaced while it was cut off: it is SPLIT.
"""

from __future__ import annotations

import json
import os
import random
import time

from ..storage import write_atomic


class History:
    """The entries of one dmwatcher.ctl (JSON list), written atomically."""

    def __init__(self, path: str):
        self.path = path
        self.entries: list[dict] = []
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
                self.entries = list(data.get("history", []))
            except (OSError, ValueError):
                self.entries = []

    def save(self) -> None:
        write_atomic(self.path, json.dumps({"version": 1, "history": self.entries}, indent=1).encode())

    def add(self, kind: str, db_name: str, parent: str | None, db_magic: int, sys_mode: str = "PRIMARY") -> dict:
        e = {"tguid": random.randrange(1, 2**31), "kind": kind, "time": time.time(), "sys_mode": sys_mode,
             "db_name": db_name, "parent": parent, "db_magic": db_magic}
        self.entries.append(e)
        self.save()
        return e

    def adopt(self, entries: list[dict]) -> bool:
        """Take the primary's history when ours is a prefix of it (a standby in sync)."""
        mine = [e["tguid"] for e in self.entries]
        theirs = [e["tguid"] for e in entries]
        if theirs != mine and theirs[:len(mine)] == mine:
            self.entries = [dict(e) for e in entries]
            self.save()
            return True
        return False

    def tguids(self) -> set[int]:
        return {e["tguid"] for e in self.entries}

    def last_time(self) -> float:
        return self.entries[-1]["time"] if self.entries else 0.0


def replaced_by(mine: History, me: str, peer_entries: list[dict]) -> dict | None:
    """The peer's entry that replaced us (made by another instance, unknown to us, newer than our last)."""
    return superseded(me, mine.entries, peer_entries)


def superseded(name: str, entries: list[dict], group: list[dict]) -> dict | None:
    """The entry of history `group` that replaced instance `name`, whose own history is `entries`: a
    TAKEOVER / SWITCHOVER / OPEN FORCE by another instance that `name` never saw, newer than its last entry
    (None: `name` is on the group's history or a prefix of it)."""
    known = {e["tguid"] for e in entries}
    last = entries[-1]["time"] if entries else 0.0
    for e in group:
        if e["tguid"] in known or e.get("db_name", "").upper() == name.upper():
            continue
        if e["time"] > last and e.get("kind") in ("TAKEOVER", "SWITCHOVER", "OPEN FORCE"):
            return e
    return None
