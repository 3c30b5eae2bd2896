"""The op model shared by the transactional workloads and their checkers.

Why: a recorded history is a stream of events (invoke, then ok / fail / info) per process; every checker
wants whole operations instead: what was asked, what came back, when it started and ended, which instance
served it. `operations` pairs the events; `Anomaly` and `Result` are the common verdict shapes, so the
offline re-check can print every checker the same way.

Micro-ops of a transaction (f == "txn"): ["append", k, v], ["r", k, [v, ...] or None], ["w", k, v],
["cas", k, [old, new]]. Reads carry None in the invoke and the values seen in the ok completion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.history import Op

OUTCOMES = ("ok", "fail", "info")
VERDICTS = ("valid", "invalid", "unknown")


@dataclass
class Operation:
    """One logical operation: its invoke and completion events folded together.

    `type` is the outcome (ok / fail / info); `value` is the completion's value when ok, else the
    invoke's; `complete` is math.inf when the operation never completed (info, crashed client)."""

    index: int
    process: str
    type: str
    f: str
    value: Any
    invoke: float
    complete: float = math.inf
    instance: str | None = None
    error: str | None = None
    asked: Any = None

    @property
    def ok(self) -> bool:
        return self.type == "ok"

    def brief(self) -> str:
        """One readable line: #index process f value outcome [invoke..complete] @instance."""
        end = "?" if math.isinf(self.complete) else f"{self.complete:.3f}"
        at = f" @{self.instance}" if self.instance else ""
        return f"#{self.index} {self.process} {self.f} {_short(self.value)} {self.type} [{self.invoke:.3f}..{end}]{at}"


def _short(value: Any, limit: int = 80) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def operations(events: list[Op]) -> list[Operation]:
    """Pair each invoke with the next completion of the same process (any f). An invoke never completed
    (or followed by another invoke of the same process) becomes an info operation with no end."""
    open_by_proc: dict[str, Op] = {}
    out: list[Operation] = []

    def fold(inv: Op, comp: Op | None) -> Operation:
        if comp is None:
            return Operation(inv.index, inv.process, "info", inv.f, inv.value, inv.time,
                             instance=inv.node, asked=inv.value)
        value = comp.value if comp.type == "ok" and comp.value is not None else inv.value
        return Operation(inv.index, inv.process, comp.type, inv.f, value, inv.time,
                         math.inf if comp.type == "info" else comp.time, comp.node or inv.node,
                         comp.error, inv.value)

    for ev in sorted(events, key=lambda e: (e.time, e.index)):
        if ev.type == "invoke":
            if ev.process in open_by_proc:
                out.append(fold(open_by_proc[ev.process], None))
            open_by_proc[ev.process] = ev
        else:
            inv = open_by_proc.pop(ev.process, None)
            if inv is not None:
                out.append(fold(inv, ev))
    out.extend(fold(inv, None) for inv in open_by_proc.values())
    out.sort(key=lambda o: (o.invoke, o.index))
    return out


def append_mop(k: Any, v: Any) -> list:
    """Micro-op: append v to the list at key k."""
    return ["append", k, v]


def read_mop(k: Any, values: Any = None) -> list:
    """Micro-op: read key k (None when invoked; the list, or register value, seen when ok)."""
    return ["r", k, values]


def write_mop(k: Any, v: Any) -> list:
    """Micro-op: set key k to v."""
    return ["w", k, v]


def cas_mop(k: Any, old: Any, new: Any) -> list:
    """Micro-op: set key k to new if it holds old."""
    return ["cas", k, [old, new]]


@dataclass
class Anomaly:
    """One finding: its class (e.g. "G-single", "lost-append"), a one-line account and the ops involved."""

    kind: str
    explanation: str
    ops: list[Operation] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.kind}: {self.explanation}"]
        lines += [f"    {op.brief()}" for op in self.ops[:8]]
        if len(self.ops) > 8:
            lines.append(f"    ... ({len(self.ops)} ops in all)")
        return "\n".join(lines)


@dataclass
class Result:
    """A checker's verdict: `valid`, `invalid` or `unknown`, the anomalies found and a few figures."""

    checker: str
    verdict: str = "valid"
    anomalies: list[Anomaly] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"

    def kinds(self) -> set[str]:
        """The anomaly classes found."""
        return {a.kind for a in self.anomalies}

    def add(self, anomaly: Anomaly) -> None:
        self.anomalies.append(anomaly)
        self.verdict = "invalid"

    def summary(self) -> str:
        """One line: checker, verdict, anomaly counts by class, figures."""
        counts: dict[str, int] = {}
        for a in self.anomalies:
            counts[a.kind] = counts.get(a.kind, 0) + 1
        found = ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))
        figs = ", ".join(f"{k}={v}" for k, v in self.stats.items())
        return f"{self.checker}: {self.verdict.upper()}" + (f" ({found})" if found else "") + (
            f" [{figs}]" if figs else "")

    def explain(self, limit: int = 20) -> str:
        """The summary and the first `limit` anomalies, each with its ops."""
        lines = [self.summary()] + [str(a) for a in self.anomalies[:limit]]
        if len(self.anomalies) > limit:
            lines.append(f"... {len(self.anomalies) - limit} more anomalies")
        return "\n".join(lines)
