"""Which process owns a run's objects (containers, networks, claimed ports): `machine:pid:start-time`, so a
recycled pid never passes for the process that died, and another machine's objects are never touched."""

from __future__ import annotations

import os
import socket


def _proc_start(pid: int) -> str:
    """Start time (clock ticks since boot) of a process; '' if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_label(pid: int | None = None) -> str:
    """machine:pid:start-time of the process that owns the objects (this one by default)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_proc_start(pid)}"


def owner_alive(label: str) -> bool:
    """True if the owner process of a label still runs (labels from other machines count as alive)."""
    try:
        machine, pid, start = label.rsplit(":", 2)
    except ValueError:
        return False
    if machine != socket.gethostname():
        return True
    return process_alive(pid, start)


def process_tag(pid: int | None = None) -> str:
    """pid.start-time of a process on this machine (this one by default), e.g. the tail of a local run id."""
    pid = pid or os.getpid()
    return f"{pid}.{_proc_start(pid)}"


def process_alive(pid: str, start: str) -> bool:
    """True if process `pid` runs and started at `start` (a recycled pid has another start time)."""
    return pid.isdigit() and start != "" and _proc_start(int(pid)) == start
