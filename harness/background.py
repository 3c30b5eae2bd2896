"""Run one blocking harness call (e.g. a monitor's switchover) in a thread while the test does something
else meanwhile; leaving the block waits for it and re-raises what it raised."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """`with Background(fn, *args) as bg:` starts fn(*args); on exit waits up to `timeout` s for it."""

    def __init__(self, fn: Callable[..., Any], *args: Any, timeout: float = 300.0, **kw: Any) -> None:
        self._fn, self._args, self._kw, self.timeout = fn, args, kw, timeout
        self.value: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"bg-{getattr(fn, '__name__', 'call')}")

    def _run(self) -> None:
        try:
            self.value = self._fn(*self._args, **self._kw)
        except BaseException as e:  # noqa: BLE001 - handed back to the test on exit
            self.error = e

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(self.timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} still running after {self.timeout:.0f}s")
        if self.error is not None and exc[0] is None:
            raise self.error
