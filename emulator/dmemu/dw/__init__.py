"""Data Watch (数据守护): MAL, real-time archive, dmwatcher and dmmonitor.

dmserver calls `start_for_instance(inst)` (or, equivalently, `dmemu.dw.agent.start(inst)` and keeps the
result in inst.listeners) after the instance is up; with MAL_INI=1 it starts MAL on MAL_HOST:MAL_PORT
and the watcher channel on MAL_INST_DW_PORT (see mal.py, agent.py).
"""

from __future__ import annotations


def start_for_instance(inst) -> object | None:
    """Start MAL + the watcher agent when dm.ini has MAL_INI=1; the agent is added to inst.listeners."""
    from . import agent
    a = agent.start(inst)
    if a is not None:
        inst.listeners.append(a)
    return a
