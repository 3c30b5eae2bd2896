"""dmmonitor (package): session and links, the command table, rendering, managing plans, group commands,
auto takeover. `Monitor` and the console entry point `main` live in session.py."""

from __future__ import annotations

from .model import CmdError, WatcherView
from .session import Monitor, main

__all__ = ["CmdError", "Monitor", "WatcherView", "main"]
