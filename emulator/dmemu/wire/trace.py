"""Emulator-only wire trace: with DMEMU_WIRE_TRACE=<file>, every login and every command a listener
receives is appended to that file, one line each, so a probe can see what a client library (the DPI)
sends and to which instance. Off (no cost beyond one check) when the variable is unset."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()


def enabled() -> bool:
    """True while DMEMU_WIRE_TRACE names a file."""
    return bool(os.environ.get("DMEMU_WIRE_TRACE"))


def record(listener: tuple, peer: tuple, event: str, detail: str = "") -> None:
    """Append `<time> <listener host:port> <peer host:port> <event> <detail>` to the trace file."""
    path = os.environ.get("DMEMU_WIRE_TRACE")
    if not path:
        return
    line = (f"{time.time():.6f} {listener[0]}:{listener[1]} {peer[0]}:{peer[1]} {event} "
            f"{detail.replace(chr(10), ' ')}\n")
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)
