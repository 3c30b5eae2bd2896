"""Sign-off table: the seed's acceptance items, the tests behind each, and a verdict per item.

A DBA signs a run against these items, so each one names the seed section it accepts and lists the
tests that decided its verdict. Tests map to items by an explicit `@pytest.mark.signoff("item")` or,
failing that, by the suite folder / area marker and (for failover) by keywords in the test name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

import pytest

_NUMERALS = "一二三四五六七八九十"
_CITATION = re.compile(rf"(?<![\u4e00-\u9fff])(?:[{_NUMERALS}]{{1,3}}(?:\.\d+)*|附录)(?![\u4e00-\u9fff])")


def citations(text: str) -> list[str]:
    """The seed sections a text cites, in order: 十二.2.1, 十三, 附录 ... (both ends of a range 三–十一).

    A numeral inside Chinese prose (一致, 三台主机) is not a citation."""
    return _CITATION.findall(text)


@dataclass(frozen=True)
class Item:
    """One acceptance item of the seed procedure; `seed` starts with the sections it accepts."""

    key: str
    title: str
    seed: str

    @property
    def sections(self) -> list[str]:
        """The seed sections this item cites (headings of the seed document)."""
        return citations(self.seed)


ITEMS: tuple[Item, ...] = (
    Item("build", "Build procedure", "二.2, 三–十一: ports, OS user and limits, dminit, archive mode, "
         "backup/restore, dm.ini/dmmal/dmarch/dmwatcher, mount, OGUID, modes, watchers, monitor"),
    Item("replication", "Replication", "十二.1, 附录: real-time redo shipping and apply, data identical on "
         "both sides (t_objects, tablespace, user, bulk insert)"),
    Item("switchover", "Switchover", "十二.2.1: planned role swap from the monitor"),
    Item("takeover", "Takeover", "十二.2.2: standby takes over after the primary is lost"),
    Item("split-brain", "Split-brain rebuild", "十二.2.3–十二.2.4: split brain after the old primary returns; "
         "rebuilt online as standby"),
    Item("client-failover", "Client failover", "十三: dm_svc.conf LOGIN_MODE, SWITCH_TIME/SWITCH_INTERVAL"),
    Item("rw-separation", "Read/write separation", "十三: dm_svc.conf RW_SEPARATE, RW_PERCENT: writes on the "
         "primary, reads spread over the standbys fit for them"),
    Item("shutdown-order", "Shutdown order", "十二.3: stop the monitor, the primary's watcher, then the "
         "standby's (十二.3.1); start the primary's watcher, the standby's, then the monitor (十二.3.2)"),
    Item("chaos", "Chaos", "十二.2 and beyond: network and process faults: no lost acknowledged writes, "
         "one primary"),
)
KEYS: tuple[str, ...] = tuple(i.key for i in ITEMS)

# area (suite folder or marker) -> sign-off item; failover is split by name keywords below
_AREA_ITEMS = {
    "smoke": "build",
    "conformance": "build",
    "replication": "replication",
    "client": "client-failover",
    "lifecycle": "shutdown-order",
    "chaos": "chaos",
}
_FAILOVER_KEYWORDS = (
    ("switchover", "switchover"),
    ("takeover", "takeover"),
    ("split", "split-brain"),
    ("brain", "split-brain"),
    ("rebuild", "split-brain"),
)

MARKER_LINE = (
    "signoff(*items): counts this test towards sign-off items of the report "
    f"({', '.join(KEYS)}); overrides the mapping by suite folder"
)


def items_for(item: pytest.Item) -> list[str]:
    """The sign-off items a collected test counts towards (empty: none). Raises UsageError on a bad key."""
    explicit: list[str] = []
    for mark in item.iter_markers("signoff"):
        for key in mark.args:
            if key not in KEYS:
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown sign-off item {key!r} in @pytest.mark.signoff "
                    f"(known: {', '.join(KEYS)})"
                )
            if key not in explicit:
                explicit.append(key)
    if explicit:
        return explicit
    areas = _areas(item)
    found: list[str] = []
    for area in areas:
        key = _AREA_ITEMS.get(area)
        if key and key not in found:
            found.append(key)
    if "failover" in areas:
        name = item.name.lower()
        for word, key in _FAILOVER_KEYWORDS:
            if word in name and key not in found:
                found.append(key)
    return found


def _areas(item: pytest.Item) -> list[str]:
    """Suite folders (suites/<area>/...) and area markers of a test."""
    parts = item.nodeid.split("::", 1)[0].split("/")
    areas = [parts[i + 1] for i, p in enumerate(parts[:-1]) if p == "suites"]
    areas += [m.name for m in item.iter_markers() if m.name in _AREA_ITEMS or m.name == "failover"]
    return areas


@dataclass
class Tally:
    """Outcomes of the tests behind one item; `pending` are collected tests that have not finished."""

    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/failed/error/skipped/...
    pending: set[str] = field(default_factory=set)

    def verdict(self) -> str:
        """PASS, FAIL, INCOMPLETE (some tests never finished), SKIPPED or NOT RUN."""
        values = set(self.outcomes.values())
        if values & {"failed", "error", "xpassed"}:
            return "FAIL"
        if self.pending:
            return "INCOMPLETE"
        if values & {"passed", "xfailed"}:
            return "PASS"
        if values:
            return "SKIPPED"
        return "NOT RUN"


class SignOff:
    """Collects per-item test outcomes during a run and renders the sign-off table."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {k: Tally() for k in KEYS}
        self._by_test: dict[str, list[str]] = {}

    def collected(self, items: Iterable[pytest.Item]) -> None:
        """Record which collected test counts towards which item."""
        for item in items:
            self.expect(item.nodeid, items_for(item))

    def expect(self, nodeid: str, keys: list[str]) -> None:
        """Record that a test counts towards these items (an xdist controller learns it from reports)."""
        if keys and nodeid not in self._by_test:
            self._by_test[nodeid] = list(keys)
            for key in keys:
                self.tallies[key].pending.add(nodeid)

    def outcome(self, nodeid: str, outcome: str, *, final: bool) -> None:
        """Record a test outcome; a failure in any phase sticks, `final` marks the test finished."""
        for key in self._by_test.get(nodeid, ()):
            tally = self.tallies[key]
            if tally.outcomes.get(nodeid) not in ("failed", "error"):
                tally.outcomes[nodeid] = outcome
            if final:
                tally.pending.discard(nodeid)

    def to_json(self) -> dict[str, dict]:
        """Each item's outcomes and pending tests (signoff.json, read by harness.report.merge and harness.report.trend)."""
        return {k: {"outcomes": dict(t.outcomes), "pending": sorted(t.pending)} for k, t in self.tallies.items()}

    def finished(self, nodeid: str) -> None:
        """Mark a test finished without changing its recorded outcome."""
        for key in self._by_test.get(nodeid, ()):
            self.tallies[key].pending.discard(nodeid)

    def overall(self, interrupted: bool) -> str:
        """The run's verdict over all items that ran."""
        verdicts = [t.verdict() for t in self.tallies.values()]
        if "FAIL" in verdicts:
            return "FAIL"
        if interrupted or "INCOMPLETE" in verdicts:
            return "INCOMPLETE"
        if "PASS" in verdicts:
            return "PASS"
        return "NOT RUN"

    def html(self, *, interrupted: bool = False, exitstatus: int | None = None,
             group: dict | None = None) -> str:
        """The sign-off section: overall verdict, the group signed for (every instance, from the topology
        summary `group`), one row per item, and a place to sign."""
        rows = []
        for item in ITEMS:
            tally = self.tallies[item.key]
            verdict = tally.verdict()
            tests = [
                f'<li><span class="dw-outcome dw-{escape(o)}">{escape(o)}</span> {escape(n)}</li>'
                for n, o in sorted(tally.outcomes.items())
            ]
            tests += [f'<li><span class="dw-outcome dw-pending">not run</span> {escape(n)}</li>'
                      for n in sorted(tally.pending - set(tally.outcomes))]
            if not tests:
                cell = '<span class="dw-none">no tests</span>'
            elif len(tests) <= 4:
                cell = f"<ul>{''.join(tests)}</ul>"
            else:
                cell = f"<details><summary>{len(tests)} tests</summary><ul>{''.join(tests)}</ul></details>"
            rows.append(
                f'<tr data-item="{item.key}"><td>{escape(item.title)}</td><td>{escape(item.seed)}</td>'
                f'<td class="dw-verdict dw-{verdict.lower().replace(" ", "-")}">{verdict}</td><td>{cell}</td></tr>'
            )
        overall = self.overall(interrupted)
        note = " (run interrupted: results so far)" if interrupted else ""
        if overall in ("PASS", "NOT RUN") and exitstatus in (1, 3, 4):
            overall, note = "FAIL", " (tests outside the sign-off items failed, or pytest reported an error)"
        status = f" · pytest exit status {exitstatus}" if exitstatus is not None else ""
        return (
            '<section id="dw-signoff"><h2>Sign-off</h2>'
            f'<p class="dw-overall">Run verdict: <span class="dw-verdict dw-{overall.lower().replace(" ", "-")}">'
            f"{overall}</span>{escape(note)}{status}</p>{group_html(group)}"
            '<table id="dw-signoff-table"><thead><tr><th>Acceptance item</th><th>Seed</th><th>Verdict</th>'
            f"<th>Tests</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            '<p class="dw-sign">Accepted by: ____________________ &nbsp; Date: ____________ &nbsp; '
            "Signature: ____________________</p></section>"
        )


def group_html(topology: dict | None) -> str:
    """The group the sign-off is for: one row per instance of the topology summary (Topology.summary()) --
    instance, host, role at the start of the run, how it is fed (REALTIME / TIMELY / ASYNC and its timer)."""
    if not topology or not topology.get("hosts"):
        return ""
    rows = []
    for h in topology["hosts"].values():
        if not h.get("instance"):
            continue
        fed = "" if h.get("role") == "primary" else str(h.get("arch_type") or "REALTIME")
        if h.get("timer_minutes"):
            fed += f" (timer every {h['timer_minutes']} min)"
        rows.append(f'<tr data-instance="{escape(str(h["instance"]))}"><td>{escape(str(h["instance"]))}</td>'
                    f'<td>{escape(str(h.get("name", "")))}</td><td>{escape(str(h.get("role", "")))}</td>'
                    f"<td>{escape(fed)}</td></tr>")
    head = (f'<p class="dw-group">Group {escape(str(topology.get("group", "")))}, configured DW_MODE '
            f'{escape(str(topology.get("dw_mode", "")))}, {len(rows)} instances:</p>')
    return (f'{head}<table id="dw-signoff-group"><thead><tr><th>Instance</th><th>Host</th><th>Role at start</th>'
            f"<th>Archive from the primary</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
