"""Checkers: pure functions over a History (harness/history.py), no database needed.

- `set_full`: Jepsen set-full semantics over adds and reads: lost acknowledged writes, stale reads,
  never-read, duplicates, unexpected rows, recovered info writes.
- `divergence`: per-table count and ordered checksum (computed by SQL on each instance) vs the primary.
- `two_primaries`: the time during which two instances were writable primaries (from role polling).
- `rto`: per fault, last ok write before it to first ok write after its start.
- `rpo`: rows (lost acknowledged writes) and LSN gap between the old primary and the new one.
`check` combines them into a Verdict with explain().
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.history import History, Op, RoleSample, TableSnapshot


@dataclass
class Read:
    """A completed read: when it was invoked and completed, and the ids it returned (with repeats)."""

    process: str
    invoke: float
    complete: float
    values: list[int]


@dataclass
class SetFull:
    """Result of the set-full analysis; lists hold element ids, sorted."""

    lost: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    never_read: list[int] = field(default_factory=list)
    duplicated: dict[int, int] = field(default_factory=dict)
    unexpected: list[int] = field(default_factory=list)
    recovered_info: list[int] = field(default_factory=list)
    stable: int = 0
    attempted: int = 0
    acknowledged: int = 0


def _pairs(ops: list[Op], f: str) -> list[tuple[Op, Op | None]]:
    """Match each invoke of `f` with its completion by the same process (None when it never completed)."""
    open_by_proc: dict[str, Op] = {}
    out: list[tuple[Op, Op | None]] = []
    for op in sorted(ops, key=lambda o: (o.time, o.index)):
        if op.f != f:
            continue
        if op.type == "invoke":
            if op.process in open_by_proc:
                out.append((open_by_proc[op.process], None))
            open_by_proc[op.process] = op
        else:
            inv = open_by_proc.pop(op.process, None)
            if inv is not None:
                out.append((inv, op))
    out.extend((inv, None) for inv in open_by_proc.values())
    return out


def reads_of(ops: list[Op]) -> list[Read]:
    """The ok reads of a history."""
    return [Read(inv.process, inv.time, comp.time, list(comp.value or []))
            for inv, comp in _pairs(ops, "read") if comp is not None and comp.type == "ok"]


def set_full(ops: list[Op]) -> SetFull:
    """Jepsen set-full: an element is known from its ok add (or the first read that saw it); it is lost
    when the last read that missed it started after it was known and after the last read that saw it;
    stale when some read started after it was known and missed it but a later read saw it."""
    adds: dict[int, tuple[Op, Op | None]] = {}
    for inv, comp in _pairs(ops, "add"):
        adds[inv.value] = (inv, comp)
    reads = sorted(reads_of(ops), key=lambda r: r.invoke)
    res = SetFull(attempted=len(adds))
    seen_anywhere: set[int] = set()
    for r in reads:
        counts = Counter(r.values)
        for v, n in counts.items():
            if n > 1:
                res.duplicated[v] = max(n, res.duplicated.get(v, 0))
        seen_anywhere.update(counts)
    for v in sorted(seen_anywhere):
        if v not in adds:
            res.unexpected.append(v)
        elif adds[v][1] is not None and adds[v][1].type == "fail":
            res.unexpected.append(v)  # the database said no, yet the row is there
    read_sets = [(r, set(r.values)) for r in reads]
    for v, (_inv, comp) in sorted(adds.items()):
        outcome = comp.type if comp is not None else "info"
        if outcome == "ok":
            res.acknowledged += 1
        if outcome == "fail":
            continue
        known = comp.time if outcome == "ok" else None
        first_seen = next((r.complete for r, s in read_sets if v in s), None)
        if first_seen is not None:
            known = first_seen if known is None else min(known, first_seen)
        if outcome == "info" and first_seen is not None:
            res.recovered_info.append(v)
        if known is None:
            continue  # an info add never seen: allowed either way
        last_present = max((r.invoke for r, s in read_sets if v in s), default=None)
        absent_after = [r.invoke for r, s in read_sets if v not in s and r.invoke > known]
        last_absent = max(absent_after, default=None)
        if last_absent is not None and (last_present is None or last_absent > last_present):
            res.lost.append(v)
        elif last_present is None:
            res.never_read.append(v)
        elif any(t < last_present for t in absent_after):
            res.stale.append(v)
        else:
            res.stable += 1
    return res


@dataclass
class Divergence:
    """One table on one instance that differs from the reference (primary) instance."""

    table: str
    instance: str
    reference: str
    count: int
    ref_count: int
    checksum: int | None
    ref_checksum: int | None
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        s = (f"{self.table} on {self.instance}: count {self.count} vs {self.ref_count} on {self.reference}, "
             f"checksum {self.checksum} vs {self.ref_checksum}")
        if self.missing:
            s += f"; missing ids {self.missing[:10]}{'...' if len(self.missing) > 10 else ''}"
        if self.extra:
            s += f"; extra ids {self.extra[:10]}{'...' if len(self.extra) > 10 else ''}"
        return s


def divergence(snapshots: dict[str, dict[str, TableSnapshot]], reference: str | None = None) -> list[Divergence]:
    """Compare every instance's per-table count and ordered checksum with the reference instance's."""
    if not snapshots:
        return []
    ref = reference if reference in snapshots else sorted(snapshots)[0]
    out: list[Divergence] = []
    for inst in sorted(snapshots):
        if inst == ref:
            continue
        for table in sorted(set(snapshots[ref]) | set(snapshots[inst])):
            a = snapshots[ref].get(table)
            b = snapshots[inst].get(table)
            if a is None or b is None or (a.count, a.checksum) != (b.count, b.checksum):
                ids_a = set(a.ids or []) if a else set()
                ids_b = set(b.ids or []) if b else set()
                out.append(Divergence(table, inst, ref, b.count if b else 0, a.count if a else 0,
                                      b.checksum if b else None, a.checksum if a else None,
                                      sorted(ids_a - ids_b), sorted(ids_b - ids_a)))
    return out


def _writable_intervals(samples: list[RoleSample], max_gap: float) -> dict[str, list[tuple[float, float]]]:
    """Per instance, the spans during which polling saw it as a writable primary: from the first to the
    last sample of each run of writable samples (a run breaks on a gap above `max_gap`). Spans are not
    stretched to the next sample, so a switchover seen by two unsynchronised pollers is no false overlap;
    a real split brain shows as overlapping runs, under-measured by at most one poll interval."""
    by_inst: dict[str, list[RoleSample]] = defaultdict(list)
    for s in samples:
        by_inst[s.instance].append(s)
    out: dict[str, list[tuple[float, float]]] = {}
    for inst, ss in by_inst.items():
        ss.sort(key=lambda s: s.time)
        spans: list[tuple[float, float]] = []
        run: list[float] = []
        for s in ss:
            if s.writable_primary and (not run or s.time - run[-1] <= max_gap):
                run.append(s.time)
                continue
            if run:
                spans.append((run[0], run[-1]))
            run = [s.time] if s.writable_primary else []
        if run:
            spans.append((run[0], run[-1]))
        out[inst] = spans
    return out


def two_primaries(samples: list[RoleSample], max_gap: float = 0.5) -> tuple[float, list[tuple[float, float]]]:
    """Total seconds (and the windows) during which two or more instances were writable primaries."""
    events: list[tuple[float, int]] = []
    for spans in _writable_intervals(samples, max_gap).values():
        for a, b in spans:
            if b > a:
                events += [(a, 1), (b, -1)]
    events.sort(key=lambda e: (e[0], e[1]))
    windows: list[tuple[float, float]] = []
    depth, opened = 0, 0.0
    for t, d in events:
        before = depth
        depth += d
        if before < 2 <= depth:
            opened = t
        elif before >= 2 > depth:
            if windows and abs(windows[-1][1] - opened) < 1e-9:
                windows[-1] = (windows[-1][0], t)
            else:
                windows.append((opened, t))
    return sum(b - a for a, b in windows), windows


@dataclass
class Rto:
    """Recovery time around one fault: last ok write (completion) before it, first ok write after it."""

    fault: str
    start: float
    last_ok_before: float | None
    first_ok_after: float | None

    @property
    def seconds(self) -> float | None:
        if self.last_ok_before is None or self.first_ok_after is None:
            return None
        return self.first_ok_after - self.last_ok_before


def _ok_add_times(ops: list[Op]) -> list[float]:
    return sorted(comp.time for _inv, comp in _pairs(ops, "add") if comp is not None and comp.type == "ok")


def rto(ops: list[Op], faults: list[Any]) -> list[Rto]:
    """RTO per fault (objects with name/start/end): the longest gap between consecutive ok writes from the
    last ok write before the fault starts to the first ok write after it ends (None: no ok write on one
    side). Without faults: the longest gap between ok writes of the whole run."""
    oks = _ok_add_times(ops)
    if not faults:
        if len(oks) < 2:
            return []
        gap_start, gap_end = max(zip(oks, oks[1:], strict=False), key=lambda p: p[1] - p[0])
        return [Rto("longest gap", gap_start, gap_start, gap_end)]
    out = []
    for f in faults:
        start = float(getattr(f, "start", 0.0))
        end = getattr(f, "end", None)
        end = start if end is None else max(start, float(end))
        before = max((t for t in oks if t <= start), default=None)
        after = min((t for t in oks if t > end), default=None)
        if before is None or after is None:
            out.append(Rto(str(getattr(f, "name", "fault")), start, before, after))
            continue
        seq = [before] + [t for t in oks if start < t <= after]
        a, b = max(zip(seq, seq[1:], strict=False), key=lambda p: p[1] - p[0])
        out.append(Rto(str(getattr(f, "name", "fault")), start, a, b))
    return out


@dataclass
class Rpo:
    """Data lost at failover: acknowledged rows, and the LSN gap between the old and new primary."""

    rows: int
    lsn_gap: int | None


def rpo(lost_rows: int, samples: list[RoleSample]) -> Rpo:
    """LSN gap: for each change of writable primary, the old primary's highest LSN while primary minus
    the new primary's LSN when first seen as primary (never negative); the largest such gap."""
    ordered = sorted((s for s in samples if s.writable_primary and s.lsn is not None), key=lambda s: s.time)
    gap: int | None = None
    current: str | None = None
    top = 0
    for s in ordered:
        if current is not None and s.instance != current:
            gap = max(gap or 0, top - s.lsn)
            current, top = s.instance, s.lsn
        elif current is None:
            current, top = s.instance, s.lsn
        else:
            top = max(top, s.lsn)
    return Rpo(lost_rows, gap)


@dataclass
class Verdict:
    """Everything the checkers found; `valid` is False on any lost, unexpected, duplicate or divergence."""

    lost: list[int]
    unexpected: list[int]
    duplicates: dict[int, int]
    recovered_info: list[int]
    stale: list[int]
    never_read: list[int]
    divergence: list[Divergence]
    two_primaries_window: float
    two_primaries_windows: list[tuple[float, float]]
    rto: float | None
    rtos: list[Rto]
    rpo: Rpo
    attempted: int = 0
    acknowledged: int = 0
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    judged: str = ""  # the set-full verdict line under the suite's terms (History.check)

    @property
    def valid(self) -> bool:
        return not (self.lost or self.unexpected or self.duplicates or self.divergence
                    or self.two_primaries_window > 0)

    def explain(self) -> str:
        """A short human account: what was checked and each problem found, with ids."""

        def ids(xs: list[int]) -> str:
            return ", ".join(map(str, xs[:20])) + (f" ... ({len(xs)} in all)" if len(xs) > 20 else "")

        lines = [f"seed {self.seed}: {self.attempted} writes attempted, {self.acknowledged} acknowledged; "
                 f"verdict {'VALID' if self.valid else 'INVALID'}"]
        if self.lost:
            lines.append(f"LOST {len(self.lost)} acknowledged writes (missing from the final read): {ids(self.lost)}")
        if self.unexpected:
            lines.append(f"UNEXPECTED {len(self.unexpected)} rows never written or reported failed: "
                         f"{ids(self.unexpected)}")
        if self.duplicates:
            lines.append(f"DUPLICATED {len(self.duplicates)} ids: {ids(sorted(self.duplicates))}")
        for d in self.divergence:
            lines.append(f"DIVERGENCE {d}")
        if self.two_primaries_window > 0:
            lines.append(f"TWO PRIMARIES for {self.two_primaries_window:.3f}s in "
                         f"{len(self.two_primaries_windows)} window(s)")
        if self.stale:
            lines.append(f"stale reads of {len(self.stale)} ids: {ids(self.stale)}")
        if self.recovered_info:
            lines.append(f"{len(self.recovered_info)} indeterminate (info) writes turned out applied")
        if self.never_read:
            lines.append(f"{len(self.never_read)} acknowledged writes never read")
        for r in self.rtos:
            lines.append(f"RTO around {r.fault}: " + (f"{r.seconds:.3f}s" if r.seconds is not None
                                                      else "no ok write on one side of the fault"))
        lines.append(f"RPO: {self.rpo.rows} rows, LSN gap {self.rpo.lsn_gap}")
        lines += [f"note: {n}" for n in self.notes]
        if self.judged:
            lines.append(f"under the suite's terms: {self.judged}")
        return "\n".join(lines)


def check(history: History, faults: list[Any] | None = None, max_gap: float = 0.5) -> Verdict:
    """Run every checker over `history`; `faults` are chaos.FaultRecord-like objects (name, start)."""
    sf = set_full(history.ops)
    window, windows = two_primaries(history.roles, max_gap)
    rtos = rto(history.ops, list(faults or []))
    secs = [r.seconds for r in rtos if r.seconds is not None]
    return Verdict(
        lost=sf.lost, unexpected=sf.unexpected, duplicates=sf.duplicated, recovered_info=sf.recovered_info,
        stale=sf.stale, never_read=sf.never_read,
        divergence=divergence(history.snapshots, history.primary),
        two_primaries_window=window, two_primaries_windows=windows,
        rto=max(secs) if secs else None, rtos=rtos, rpo=rpo(len(sf.lost), history.roles),
        attempted=sf.attempted, acknowledged=sf.acknowledged, seed=history.seed, notes=list(history.notes))
