"""Polling with a deadline (never fixed sleeps). A timeout says what was awaited and the last state seen;
hold() is the converse: a state that must last, named when it stops."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.progress import progress

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """wait_until gave up; carries what it waited for and the last value/exception it saw."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        self.what, self.timeout, self.last = what, timeout, last
        super().__init__(f"timed out after {timeout:.1f}s waiting for {what}; last seen: {last!r}")


def wait_until(
    probe: Callable[[], T],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    ok: Callable[[T], bool] = bool,
    describe: Callable[[T], object] | None = None,
) -> T:
    """Call probe() until ok(result) holds; return that result.

    Exceptions raised by probe count as "not yet" (they become the last state seen), so a probe may
    simply try to connect. On timeout raises WaitTimeout naming `what` and the last result or error.
    """
    start = time.monotonic()
    deadline = start + timeout
    last: object = "<never probed>"
    announced = False
    while True:
        try:
            value = probe()
        except Exception as exc:  # noqa: BLE001 - a failing probe is a state, reported on timeout
            last = f"{type(exc).__name__}: {exc}"
        else:
            if ok(value):
                return value
            last = describe(value) if describe else value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, last)
        if not announced and time.monotonic() - start > 2.0:
            announced = True
            progress(f"waiting up to {timeout:.0f}s for {what}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def hold(probe: Callable[[], object], seconds: float, what: str, interval: float = 0.3) -> None:
    """Assert probe() stays truthy for `seconds`, polled ("nothing bad happens for a while").

    The AssertionError names `what`, when it stopped holding and the value probe() returned; an
    exception raised by probe propagates (unlike wait_until, a failing probe is not a state here)."""
    start = time.monotonic()
    deadline = start + seconds
    while True:
        value = probe()
        assert value, f"{what} stopped holding after {time.monotonic() - start:.1f}s: {value!r}"
        if time.monotonic() >= deadline:
            return
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
