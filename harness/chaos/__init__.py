"""Faults by DM8 link name and host faults, each a context manager that heals on exit (DESIGN.md §6).

    faults.py     Chaos and Fault (what suites use), FaultRecord
    flows.py      link names MAL/DW/MON/INST_DW/CLIENT -> address/port flows and their streams
    mechanism.py  NetBackend: the contract every mechanism keeps (apply now, return the heal)
    blockfile.py  BlockFileNet: the emulator's per-host block files (local backend)
    iptables.py   IptablesNet: iptables, tc and the NFQUEUE delayer in each host's network namespace
    toxiproxy.py  ToxiproxyNet: one Toxiproxy proxy per flow, steered by DMEMU_DIAL_MAP or DNAT
    hostfiles.py  HostFaultFiles: disk full, slow disk (fsync delay), clock skew on a DB host
The backend provides what a mechanism needs (Backend.net_mechanism(), net_shell(), proxy_site()), so
nothing here asks which backend runs. Host faults: kill -9, SIGSTOP/SIGCONT through Host.signal;
disk full, slow disk and clock skew through HostFaultFiles. A fault with no mechanism raises Unsupported.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.chaos.blockfile import BlockFileNet
from harness.chaos.faults import MODES, PROCESSES, Chaos, Fault, FaultRecord
from harness.chaos.flows import LINKS, STREAMS, Flow, Selection, describe, resolve_flows, select_streams
from harness.chaos.hostfiles import HostFaultFiles
from harness.chaos.iptables import Egress, IptablesNet, NfqDelayer
from harness.chaos.mechanism import Heal, NetBackend, Unsupported
from harness.chaos.toxiproxy import ToxiproxyNet

__all__ = ["LINKS", "MODES", "PROCESSES", "STREAMS", "BlockFileNet", "Chaos", "Egress", "Fault", "FaultRecord",
           "Flow", "Heal", "HostFaultFiles", "IptablesNet", "NetBackend", "NfqDelayer", "Selection", "ToxiproxyNet", "Unsupported", "describe",
           "resolve_flows", "select_streams"]

# names that moved to the backends that own them, still importable from here (loaded on first use)
_MOVED = {"NetnsHelper": ("harness.backends.docker_net", "NetnsHelper"),
          "ToxiproxyContainer": ("harness.backends.docker_net", "ToxiproxyContainer"),
          "HostShell": ("harness.backends.shell", "RootShell"),
          "ToxiproxyProcess": ("harness.backends.local", "LoopbackToxiproxy")}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, attr = _MOVED[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'harness.chaos' has no attribute {name!r}")
