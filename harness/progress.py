"""Progress lines for long steps (waits, bulk loads, procedure steps), through a replaceable sink.

Core modules call `progress(msg)` or use `Meter`; they never import the report. The report plugin installs
its sink at configure time (terminal line under -q, progress.log, redaction) and restores the previous one
at unconfigure. Without it, lines go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

Sink = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"[dmdw] {msg}", file=sys.stderr, flush=True)


_sink: Sink = _stderr


def progress(msg: str) -> None:
    """One progress line, handed to the current sink."""
    _sink(msg)


def set_sink(sink: Sink | None) -> Sink:
    """Send progress lines to `sink` (None: back to stderr); returns the sink it replaces."""
    global _sink
    previous, _sink = _sink, sink or _stderr
    return previous


class Meter:
    """Progress for a long counted step, e.g. `with Meter("bulk load", total=10**6, unit="rows") as m:
    m.update(n)` prints "bulk load: 350000/1000000 rows (35%), 41200 rows/s" at most every `every` s."""

    def __init__(self, what: str, total: int | None = None, unit: str = "rows", every: float = 2.0) -> None:
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.done = 0
        self._start = self._last = 0.0

    def __enter__(self) -> Meter:
        self._start = self._last = time.monotonic()
        progress(f"{self.what}: started" + (f" ({self.total} {self.unit})" if self.total else ""))
        return self

    def update(self, n: int = 1) -> None:
        """Count n more units; print a line if `every` seconds passed since the last one."""
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            progress(f"{self.what}: {self._status(now)}")

    def _status(self, now: float) -> str:
        rate = self.done / max(now - self._start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.done}{of} {self.unit}{pct}, {rate:.0f} {self.unit}/s"

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        now = time.monotonic()
        state = "interrupted" if exc_type else "done"
        progress(f"{self.what}: {state} in {now - self._start:.1f} s, {self._status(now)}")
