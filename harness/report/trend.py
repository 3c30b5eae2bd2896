"""Trends across runs: the newest run folder compared with the earlier ones of the same target and topology.

    python -m harness.trend REPORTS_DIR [--html FILE] [--last N] [--fail-on-change]

Runs are the run folders (RUN_ID names) with an env.json; each is keyed by its DM build (env.json
`dm_build`), target and topology (group, DW mode, hosts and their roles, timers; not the addresses and ports
a backend picked). For the newest run it prints, against the previous comparable run: verdicts that
changed (per test, from junit.xml, and per sign-off item, from signoff.json), new failures, and the
measurements (measurements.json) of the last N comparable runs side by side, and plots over those runs of
RTO, RPO, switchover and takeover times, apply lag and suite durations (harness.report.series; inline SVG).
The same as a self-contained HTML page (default REPORTS_DIR/trend.html); every report carries the section.
Exit status: 1 on a new failure (with --fail-on-change: on any changed verdict), 2 without runs, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from harness.report import series
from harness.report.html import CSS, format_value
from harness.report.runfolder import RUN_ID
from harness.report.svgplot import line_chart

FAILING = ("failed", "error")
FIGURES = "figures.json"  # a run's trend figures, written when its session ends


@dataclass
class RunSummary:
    """What the trend needs of one run folder."""

    run: str
    build: str
    target: str
    topology: str
    tests: dict[str, str] = field(default_factory=dict)  # junit classname::name -> outcome
    items: dict[str, str] = field(default_factory=dict)  # sign-off item -> verdict
    measurements: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)  # (test, name) -> (v, unit)
    folder: Path | None = None
    raw_measurements: list[dict] = field(default_factory=list)
    _figures: dict[str, float] | None = None

    @property
    def failed(self) -> bool:
        return any(o in FAILING for o in self.tests.values())

    def figures(self) -> dict[str, float]:
        """The run's trend figures (harness.report.series), from figures.json when the run wrote one."""
        if self._figures is None:
            stored = _json(self.folder / FIGURES, None) if self.folder else None
            self._figures = stored if isinstance(stored, dict) else (
                series.run_figures(self.folder, self.raw_measurements) if self.folder else {})
        return self._figures

    @property
    def key(self) -> tuple[str, str]:
        return self.target, self.topology


def _json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def topology_key(env: dict) -> str:
    """Group, DW mode, hosts with roles and the timers: what makes two runs comparable."""
    topo = env.get("topology") or {}
    hosts = ",".join(f"{n}:{(h or {}).get('role', '')}" for n, h in sorted((topo.get("hosts") or {}).items()))
    timers = ",".join(f"{k}={v}" for k, v in sorted((topo.get("timers") or env.get("timers") or {}).items()))
    return f"{topo.get('group', '')} {topo.get('dw_mode', '')} [{hosts}] ({timers})"


def build_of(env: dict) -> str:
    """The DM build of a run (v$instance BUILD_VERSION as the core plugin stores it, or a plain string)."""
    build = env.get("dm_build") or {}
    if not isinstance(build, dict):
        return str(build)
    return str(build.get("BUILD_VERSION") or build.get("SVR_VERSION") or "unknown build")


def junit_outcomes(path: Path) -> dict[str, str]:
    """classname::name -> passed/failed/error/skipped for each testcase of a junit file."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        out[f"{case.get('classname', '')}::{case.get('name', '')}"] = case_outcome(case)
    return out


def case_outcome(case: ET.Element) -> str:
    """passed/failed/error/skipped of a junit <testcase>."""
    tags = {c.tag for c in case}
    return "error" if "error" in tags else "failed" if "failure" in tags else \
        "skipped" if "skipped" in tags else "passed"


def item_verdicts(path: Path) -> dict[str, str]:
    """Sign-off item -> verdict from a run's signoff.json (empty for runs without one)."""
    from harness.signoff import Tally

    tallies = _json(path, {}).get("tallies", {})
    return {key: Tally(dict(t.get("outcomes", {})), set(t.get("pending", []))).verdict()
            for key, t in tallies.items()}


def load_run(folder: Path) -> RunSummary:
    env = _json(folder / "env.json", {})
    run = RunSummary(folder.name, build_of(env), str(env.get("target", "")), topology_key(env), folder=folder)
    run.tests = junit_outcomes(folder / "junit.xml")
    run.items = item_verdicts(folder / "signoff.json")
    run.raw_measurements = [m for m in _json(folder / "measurements.json", []) if isinstance(m, dict)]
    for m in run.raw_measurements:
        run.measurements[(m.get("test", ""), m.get("name", ""))] = (m.get("value", 0), m.get("unit", ""))
    return run


def load_runs(reports: Path) -> list[RunSummary]:
    """Every run folder under reports with an env.json, oldest first."""
    folders = sorted(p for p in reports.iterdir()
                     if p.is_dir() and not p.is_symlink() and RUN_ID.match(p.name) and (p / "env.json").is_file())
    return [load_run(p) for p in folders]


@dataclass
class Trend:
    """The newest run against its comparable predecessors."""

    newest: RunSummary
    earlier: list[RunSummary]  # same target and topology, oldest first
    changed: list[tuple[str, str, str]]  # (test, before, now)
    new_failures: list[str]
    items_changed: list[tuple[str, str, str]]

    @property
    def previous(self) -> RunSummary | None:
        return self.earlier[-1] if self.earlier else None

    @property
    def verdict_changed(self) -> bool:
        return bool(self.changed or self.items_changed)


def compare(runs: list[RunSummary], last: int = 10) -> Trend:
    """The newest run against the last `last`-1 earlier runs of the same target and topology."""
    newest = runs[-1]
    earlier = [r for r in runs[:-1] if r.key == newest.key][-(last - 1):] if last > 1 else []
    prev = earlier[-1] if earlier else None
    changed, new_failures, items_changed = [], [], []
    if prev is not None:
        for test in sorted(set(newest.tests) | set(prev.tests)):
            before, now = prev.tests.get(test, "absent"), newest.tests.get(test, "absent")
            if before != now:
                changed.append((test, before, now))
            if now in FAILING and before not in FAILING:
                new_failures.append(test)
        items_changed = [(k, prev.items.get(k, "-"), v) for k, v in sorted(newest.items.items())
                         if prev.items.get(k, "-") != v]
    return Trend(newest, earlier, changed, new_failures, items_changed)


def _measure_rows(trend: Trend) -> tuple[list[RunSummary], list[tuple[tuple[str, str], list[str], str]]]:
    runs = [*trend.earlier, trend.newest]
    keys = sorted({k for r in runs for k in r.measurements})
    rows = []
    for key in keys:
        cells = [format_value(r.measurements[key][0]) if key in r.measurements else "" for r in runs]
        unit = next((r.measurements[key][1] for r in runs if key in r.measurements), "")
        rows.append((key, cells, unit))
    return runs, rows


def text(trend: Trend) -> str:
    n = trend.newest
    lines = [f"newest run {n.run}: build {n.build}, target {n.target}, topology {n.topology}"]
    prev = trend.previous
    if prev is None:
        lines.append("no earlier run of the same target and topology to compare with")
    else:
        lines.append(f"compared with {prev.run} (build {prev.build}); {len(trend.earlier)} earlier comparable run(s)")
        lines.append(f"verdicts that changed: {len(trend.changed)}")
        lines += [f"  {t}: {b} -> {a}" for t, b, a in trend.changed]
        lines.append(f"new failures: {len(trend.new_failures)}")
        lines += [f"  {t}" for t in trend.new_failures]
        lines += [f"sign-off {k}: {b} -> {a}" for k, b, a in trend.items_changed]
    runs, rows = _measure_rows(trend)
    names = _series_names(runs)
    if names:
        lines.append("figures over runs (" + " | ".join(r.run for r in runs) + "):")
        lines += [f"  {name}: " + " | ".join(format_value(r.figures()[name]) if name in r.figures() else "-"
                                             for r in runs) + f" {series.unit_of(name)}" for name in names]
    if rows:
        lines.append("measurements (" + " | ".join(r.run for r in runs) + "):")
        lines += [f"  {test} {name}: " + " | ".join(c or "-" for c in cells) + f" {unit}"
                  for (test, name), cells, unit in rows]
    return "\n".join(lines)


def _series_names(runs: list[RunSummary]) -> list[str]:
    present = {k for r in runs for k in r.figures()}
    fixed = [name for name, _ in series.FIXED]
    return [n for n in fixed if n in present] + sorted(present - set(fixed))


def plots_html(trend: Trend) -> str:
    """One inline SVG chart per figure (RTO, RPO, switchover, takeover, apply lag, suite durations)."""
    runs = [*trend.earlier, trend.newest]
    labels = [f"{r.run[4:13]} {r.build[-12:]}" for r in runs]
    charts = "".join(f'<figure class="dw-plot" style="display:inline-block" data-series="{escape(name)}">' + line_chart(
        name, series.unit_of(name), labels, [r.figures().get(name) for r in runs], [r.failed for r in runs])
        + "</figure>" for name in _series_names(runs))
    return (f'<h2 id="dw-trend-plots">Figures over runs</h2>'
            f"<p>{len(runs)} comparable run(s), oldest first; a red point is a run with a failing test.</p>"
            f"{charts or '<p>No figure in these runs.</p>'}")


def html(trend: Trend) -> str:
    """The self-contained trend page."""
    n = trend.newest
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>DM8 Data Watch trend — {escape(n.run)}'
            f"</title><style>{CSS}</style></head><body><div id=\"dw-top\">"
            f"<h1>Trend: run {escape(n.run)}</h1>{section_html(trend)}</div></body></html>")


def section_html(trend: Trend) -> str:
    """The trend as a section of a page: what changed since the previous comparable run, plots, figures."""
    n, prev = trend.newest, trend.previous
    parts = [f"<p>Build <b>{escape(n.build)}</b>, target {escape(n.target)}, "
             f"topology <code>{escape(n.topology)}</code></p>"]
    if prev is None:
        parts.append("<p>No earlier run of the same target and topology.</p>")
    else:
        parts.append(f"<p>Compared with {escape(prev.run)} (build {escape(prev.build)}).</p>")
        rows = "".join(f'<tr class="{"dw-bad" if t in trend.new_failures else ""}"><td>{escape(t)}</td>'
                       f'<td><span class="dw-outcome dw-{escape(b)}">{escape(b)}</span></td>'
                       f'<td><span class="dw-outcome dw-{escape(a)}">{escape(a)}</span></td></tr>'
                       for t, b, a in trend.changed)
        parts.append(f'<h2 id="dw-changed">Verdicts that changed ({len(trend.changed)})</h2>'
                     f"<table><thead><tr><th>Test</th><th>Before</th><th>Now</th></tr></thead><tbody>{rows}"
                     "</tbody></table>")
        parts.append(f'<h2 id="dw-new-failures">New failures ({len(trend.new_failures)})</h2><ul>'
                     + "".join(f"<li>{escape(t)}</li>" for t in trend.new_failures) + "</ul>")
        if trend.items_changed:
            parts.append("<h2>Sign-off items that changed</h2><ul>" + "".join(
                f"<li>{escape(k)}: {escape(b)} → {escape(a)}</li>" for k, b, a in trend.items_changed) + "</ul>")
    parts.append(plots_html(trend))
    runs, rows = _measure_rows(trend)
    head = "".join(f"<th>{escape(r.run)}<br>{escape(r.build)}</th>" for r in runs)
    body = "".join(f"<tr><td>{escape(t)}</td><td>{escape(m)}</td>"
                   + "".join(f'<td class="dw-value">{escape(c)}</td>' for c in cells) + f"<td>{escape(u)}</td></tr>"
                   for (t, m), cells, u in rows)
    parts.append(f'<h2 id="dw-trend-measurements">Measurements</h2><table class="dw-measurements"><thead><tr>'
                 f"<th>Test</th><th>Measurement</th>{head}<th>Unit</th></tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def report_section(run_dir: Path, last: int = 10) -> str:
    """The trend section of a run's report (run_dir's report dir holds the earlier runs); also writes the
    run's figures.json, so later trends need not recompute them."""
    runs = [r for r in load_runs(run_dir.parent) if r.run <= run_dir.name]
    if not runs or runs[-1].run != run_dir.name:
        return ""
    trend = compare(runs, last)
    (run_dir / FIGURES).write_text(json.dumps(trend.newest.figures(), indent=1), encoding="utf-8")
    return f'<section id="dw-trend"><h2>Trend across runs</h2>{section_html(trend)}</section>'


def exit_status(trend: Trend, fail_on_change: bool = False) -> int:
    """1 on a new failure, or with fail_on_change on any changed verdict (test or sign-off item); else 0."""
    return 1 if trend.new_failures or (fail_on_change and trend.verdict_changed) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.trend", description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", type=Path, metavar="REPORTS_DIR")
    ap.add_argument("--html", type=Path, default=None, help="the HTML page (default REPORTS_DIR/trend.html)")
    ap.add_argument("--last", type=int, default=10, help="comparable runs shown side by side (default 10)")
    ap.add_argument("--fail-on-change", action="store_true",
                    help="exit 1 when any verdict changed since the previous comparable run (not only new failures)")
    args = ap.parse_args(argv)
    runs = load_runs(args.reports)
    if not runs:
        print(f"trend: no run folders with env.json under {args.reports}", file=sys.stderr)
        return 2
    trend = compare(runs, args.last)
    print(text(trend))
    out = args.html or args.reports / "trend.html"
    out.write_text(html(trend), encoding="utf-8")
    print(f"trend page: {out}")
    return exit_status(trend, args.fail_on_change)


if __name__ == "__main__":
    sys.exit(main())
