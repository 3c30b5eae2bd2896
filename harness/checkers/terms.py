"""The terms a suite judged a history under, stored beside it so the offline re-check judges alike.

Why: a suite may judge some acknowledged writes as `info` (cut_off: the instance left the group at that
time, seed 十二.2.3, so a write it acknowledged afterwards may be lost by design) and leave out anomaly
classes the isolation level allows (list-append under READ COMMITTED: G-single, G2). Without these
`python -m harness.check RUN_DIR` would print another verdict than the report. Terms keeps the cut-offs,
the exact operations they forgave, the allowed classes and the figures the run added (client crashes),
in `<history>.terms.json`; the verdict line the suite printed goes along as `summary` for comparison.
The insert workload's set-full histories get terms too (`set_terms`): a suite may accept the loss of
writes acknowledged after a fault started (`lost_after`: those writes are forgiven, judged as info) and
measure two writable primaries during a split brain instead of forbidding them (allowed "two-primaries").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import archive
from harness.checkers.judge import judge
from harness.checkers.model import Result
from harness.checkers.records import Recorded
from harness.history import History

SUFFIX = ".terms.json"


@dataclass
class Terms:
    """cut_off {instance: monotonic time}; lost_after: time from which any acknowledged write may be lost
    (set-full); forgiven [(process, time)] of the ok ops judged as info; allowed anomaly classes; extra
    stats the run added; the summary line the suite got."""

    cut_off: dict[str, float] = field(default_factory=dict)
    lost_after: float | None = None
    forgiven: list[tuple[str, float]] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    @staticmethod
    def path_for(history_path: str | Path) -> Path:
        p = Path(history_path)
        return p.with_name(p.name.removesuffix(".gz").removesuffix(".jsonl") + SUFFIX)

    def save(self, history_path: str | Path) -> Path:
        path = self.path_for(history_path)
        path.write_text(json.dumps(dataclasses.asdict(self), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, history_path: str | Path) -> Terms | None:
        """The terms stored beside a history, or None (judged with no cut-off and nothing allowed)."""
        path = archive.stored(cls.path_for(history_path))  # compressed at session end (harness.archive)
        if not path.is_file():
            return None
        raw = json.loads(archive.read_text(path))
        raw["forgiven"] = [tuple(x) for x in raw.get("forgiven", [])]
        return cls(**{k: v for k, v in raw.items() if k in {f.name for f in dataclasses.fields(cls)}})

    def view(self, hist: History) -> History:
        """The history with the forgiven ok operations turned into info."""
        keys = {(p, round(t, 6)) for p, t in self.forgiven}
        ops = [dataclasses.replace(op, type="info")
               if op.type == "ok" and (op.process, round(op.time, 6)) in keys else op for op in hist.ops]
        return History(seed=hist.seed, ops=ops, roles=list(hist.roles), snapshots=dict(hist.snapshots),
                       primary=hist.primary, faults=list(hist.faults), notes=list(hist.notes))

    def judged(self, res: Result) -> Result:
        """`res` with the allowed classes left out and the run's figures added."""
        res = allow(res, tuple(self.allowed))
        res.stats.update(self.stats)
        return res


def forgive(hist: History, cut_off: dict[str, float]) -> list[tuple[str, float]]:
    """(process, time) of the ok operations an instance answered at or after its cut-off time: its writes
    may be lost by design, its reads show a lineage the group has left (they prove nothing about it)."""
    cut = {k.upper(): t for k, t in cut_off.items()}
    out = []
    for op in hist.ops:
        since = cut.get((op.node or "").upper())
        if op.type == "ok" and since is not None and op.time >= since and op.process != "final":
            out.append((op.process, op.time))
    return out


def forgive_writes(hist: History, since: float) -> list[tuple[str, float]]:
    """(process, time) of the writes (f "add") acknowledged at or after `since`: the suite accepts their loss
    (acknowledged by a primary the group was leaving, or after a documented lossy takeover)."""
    return [(op.process, op.time) for op in hist.ops if op.type == "ok" and op.f == "add" and op.time >= since]


def set_terms(hist: History, faults: list[Any], lost_after: float | None = None,
              allowed: tuple[str, ...] = ()) -> Result:
    """The set-full verdict of an insert-workload history under a suite's terms; the terms and that verdict
    line are stored beside the history (when it has a file) so `python -m harness.check` judges it alike."""
    terms = Terms(lost_after=lost_after, allowed=list(allowed))
    if lost_after is not None:
        terms.forgiven = forgive_writes(hist, lost_after)
        terms.stats["acked_after_cut_off"] = len(terms.forgiven)
    rec = Recorded(str(hist.path or "set"), "set", terms.view(hist))
    res = terms.judged(judge(rec, faults))
    terms.summary = res.summary()
    if hist.path is not None:
        terms.save(hist.path)
    return res


def writes(hist: History, ops: list[tuple[str, float]], readonly: Callable[[str, Any], bool]) -> int:
    """How many of `ops` ((process, time) of ok operations) are writes."""
    keys = {(p, round(t, 6)) for p, t in ops}
    return sum(1 for op in hist.ops if op.type == "ok" and (op.process, round(op.time, 6)) in keys
               and not readonly(op.f, op.value))


def allow(res: Result, kinds: tuple[str, ...]) -> Result:
    """The verdict without the anomaly classes the isolation level in use allows (counted in the stats as
    `allowed`); a verdict left with no anomaly becomes valid, an `unknown` stays unknown."""
    allowed = [a for a in res.anomalies if a.kind in kinds]
    if not allowed:
        return res
    res.anomalies = [a for a in res.anomalies if a.kind not in kinds]
    res.stats["allowed"] = ", ".join(sorted({a.kind for a in allowed})) + f" x{len(allowed)}"
    if res.verdict == "invalid" and not res.anomalies:
        res.verdict = "valid"
    return res
