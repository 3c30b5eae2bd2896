"""Hand-built histories for the checker tests: a builder recording invoke/completion pairs."""

from __future__ import annotations

from typing import Any

from harness.checkers import operations
from harness.checkers.model import Operation
from harness.history import History


class Build:
    """Records ops as invoke + completion events at given times; `done()` gives the paired Operations."""

    def __init__(self) -> None:
        self.hist = History()
        self.n = 0

    def op(self, f: str, asked: Any, result: Any = None, t: tuple[float, float] = (0, 1), outcome: str = "ok",
           node: str | None = "mema1", process: str | None = None) -> None:
        """One op; outcome "open" leaves it without completion (a crashed client)."""
        self.n += 1
        proc = process or f"p{self.n}"
        self.hist.record(proc, "invoke", f, asked, node=node, at=t[0])
        if outcome != "open":
            self.hist.record(proc, outcome, f, asked if result is None else result, node=node, at=t[1])

    def txn(self, mops: list, t: tuple[float, float] = (0, 1), outcome: str = "ok", **kw: Any) -> None:
        """A list-append txn; `mops` as completed (reads with their values); the invoke blanks reads."""
        asked = [[f, k, None] if f == "r" else [f, k, v] for f, k, v in mops]
        self.op("txn", asked, mops, t, outcome, **kw)

    def done(self) -> list[Operation]:
        return operations(self.hist.ops)
