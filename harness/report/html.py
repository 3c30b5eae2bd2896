"""HTML pieces of the report page: the top block (sign-off, measurements, plots, procedure step log, run
folder listing), the step table and the measurement table. Every text is escaped and redacted."""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from pathlib import Path

from harness import archive
from harness.redact import redact
from harness.report.accepted import accepted_html
from harness.report.state import Measurement, Run
from harness.transcript import UNCONFIRMED_WORDING

CSS = """
#dw-top{font-family:Helvetica,Arial,sans-serif;margin:12px 0 24px}
#dw-top table{border-collapse:collapse;margin:6px 0 10px}
#dw-top table{width:auto}
#dw-top th,#dw-top td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px;color:#222}
#dw-signoff-table td.dw-verdict{white-space:nowrap;text-align:center;vertical-align:middle}
#dw-top th{background:#f2f2f2}
#dw-top ul{margin:0;padding-left:16px}
.dw-verdict{font-weight:bold}
.dw-pass{color:#fff;background:#2e7d32}.dw-fail{color:#fff;background:#c62828}
.dw-incomplete{color:#000;background:#ffb300}.dw-skipped,.dw-not-run{color:#555;background:#eee}
span.dw-verdict{padding:1px 8px;border-radius:3px}
.dw-outcome{font-size:11px;padding:0 4px;border-radius:2px;background:#eee}
.dw-passed,.dw-xfailed{background:#c8e6c9}.dw-failed,.dw-error,.dw-xpassed{background:#ffcdd2}
.dw-pending{background:#ffe0b2}.dw-none{color:#888}
.dw-sign{margin-top:10px;color:#333}
.dw-plot{margin:8px 0 16px}.dw-plot img{max-width:100%;border:1px solid #ddd}
.dw-pre{max-height:400px;overflow:auto;background:#f7f7f7;border:1px solid #ddd;padding:6px;font-size:12px}
.dw-steps tr.dw-bad td{background:#ffebee}
.dw-measurements td.dw-value{text-align:right;font-variant-numeric:tabular-nums}
.dw-error{color:#c62828;font-weight:bold}
"""


def plot_anchor(index: int, prefix: str = "") -> str:
    """The id of the index-th plot of the top gallery (tests link to it); an xdist worker's plots carry
    its id as prefix, so they keep their anchors in the controller's merged gallery."""
    return f"dw-plot-{prefix}{index + 1}"


def format_value(value: float) -> str:
    """A measured value as shown: integers whole, other numbers to 6 significant digits."""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def steps_html(steps: list[dict], first: int | None = None, prefix: str = "") -> str:
    """A table of procedure steps: host, step, command, rc, duration, output (collapsed); numbered from
    `first` (+1), with row anchors, when given (the page's procedure step log)."""
    rows = []
    for n, s in enumerate(steps, start=(first or 0) + 1):
        ok = s.get("ok", s.get("rc") in (0, None))
        out = str(s.get("output") or "")
        out_cell = (f"<details><summary>{len(out.splitlines())} lines</summary>"
                    f'<pre class="dw-pre">{escape(redact(out))}</pre></details>') if out.strip() else ""
        dur = s.get("duration")
        number = f'<td id="{step_anchor(prefix, n)}">{n}</td>' if first is not None else ""
        rows.append(
            f'<tr class="{"dw-ok" if ok else "dw-bad"}">{number}<td>{escape(str(s.get("host", "")))}</td>'
            f'<td>{escape(redact(str(s.get("step", ""))))}</td>'
            f'<td><code>{escape(redact(str(s.get("command", s.get("cmd", "")))))}</code></td>'
            f'<td>{escape(str(s.get("rc", "")))}</td>'
            f'<td>{f"{float(dur):.2f} s" if isinstance(dur, (int, float)) else escape(str(dur or ""))}</td>'
            f"<td>{out_cell}</td></tr>"
        )
    return ('<table class="dw-steps"><thead><tr>' + ("<th>#</th>" if first is not None else "")
            + "<th>Host</th><th>Step</th><th>Command</th><th>rc</th>"
            f"<th>Duration</th><th>Output</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def step_anchor(prefix: str, number: int) -> str:
    """The id of step `number` of the procedure step log (of worker `prefix` under xdist)."""
    return f"dw-step-{prefix + '-' if prefix else ''}{number}"


def procedure_ref(first: int, steps: list[dict], title: str, prefix: str) -> str:
    """A test's procedure steps, stored once in the page: their count and time, a link to their rows in
    the procedure step log and, in full here, the ones that failed."""
    total = sum(float(s.get("duration") or 0) for s in steps)
    bad = [s for s in steps if not s.get("ok", s.get("rc") in (0, None))]
    where = f"{prefix} " if prefix else ""
    link = (f'<a href="#{step_anchor(prefix, first + 1)}">{where}steps {first + 1}–{first + len(steps)}</a> '
            "of the procedure step log")
    part = (f'<p class="dw-steps-ref"><b>{escape(title)}</b>: {len(steps)} steps, {total:.1f} s, '
            f"{len(bad)} failed — {link}</p>")
    return part + (steps_html(bad) if bad else "")


def measurements_html(measurements: Iterable[Measurement], *, with_test: bool) -> str:
    """A table of measured figures (with a Test column for the run-wide table)."""
    head = ("<th>Test</th>" if with_test else "") + "<th>Measurement</th><th>Value</th><th>Unit</th><th>Note</th>"
    rows = "".join(
        "<tr>" + (f"<td>{escape(m.test)}</td>" if with_test else "")
        + f'<td>{escape(redact(m.name))}</td><td class="dw-value">{escape(format_value(m.value))}</td>'
        f"<td>{escape(m.unit)}</td><td>{escape(redact(m.note))}</td></tr>"
        for m in measurements)
    return f'<table class="dw-measurements"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def top_block(run: Run, interrupted: bool, exitstatus: int, extra: str = "") -> str:
    """Sign-off, measurements, plots, `extra` (the trend section), procedure step log and run folder, right
    under the report title."""
    parts = [f"<style>{CSS}</style>", '<div id="dw-top">',
             run.signoff.html(interrupted=interrupted, exitstatus=exitstatus,
                              group=(getattr(run.config, "dmdw_env", None) or {}).get("topology")),
             unconfirmed_html(UNCONFIRMED_WORDING),
             accepted_html(getattr(run.config, "dmdw_env", None) or {}, run.skips)]
    if run.errors:
        parts.append("<h3>Report problems</h3><ul>" + "".join(
            f'<li class="dw-error">{escape(redact(e))}</li>' for e in run.errors) + "</ul>")
    if run.measurements:
        parts.append(f'<section id="dw-measurements"><h2>Measurements</h2>'
                     f"{measurements_html(run.measurements, with_test=True)}</section>")
    if run.gallery:
        parts.append('<section id="dw-plots"><h2>Plots</h2>')
        for nodeid, title, b64, anchor in run.gallery:
            parts.append(f'<figure class="dw-plot" id="{anchor}"><figcaption><b>{escape(title)}</b>'
                         f" — {escape(nodeid)}</figcaption>"
                         f'<img alt="{escape(title)}" src="data:image/png;base64,{b64}"/></figure>')
        parts.append("</section>")
    assert run.run_dir is not None
    parts.append(extra)  # the trend across runs
    parts.append(_procedure_html(run.run_dir))
    parts.append(_files_html(run.run_dir))
    parts.append("</div>")
    return "".join(parts)


def unconfirmed_html(entries: list[dict[str, str]]) -> str:
    """The sign-off line naming every decision that rested on wording no real DM8 capture confirms (issue 12:
    there should be none; readers record them with harness.transcript.unconfirmed)."""
    if not entries:
        return '<p id="dw-unconfirmed" class="dw-sign">Verdicts resting on unconfirmed wording: none</p>'
    items = "".join(f"<li>{escape(redact(e.get('decision', '')))} — {escape(e.get('reader', ''))} read "
                    f"<code>{escape(redact(e.get('wording', '')))}</code> at {escape(e.get('time', ''))}</li>"
                    for e in entries)
    return (f'<div id="dw-unconfirmed" class="dw-sign dw-error">Verdicts resting on unconfirmed wording: '
            f"{len(entries)}<ul>{items}</ul></div>")


def _procedure_html(run_dir: Path) -> str:
    """The run's procedure step log (steps.jsonl; each xdist worker's from gwN/), collapsed unless a step
    failed; the one place in the page that shows every step (the tests link to their rows)."""
    logs = [("", run_dir / "steps.jsonl")] + [(w.name, w / "steps.jsonl") for w in sorted(run_dir.glob("gw*"))]
    parts = []
    for prefix, path in logs:
        steps = []
        for line in archive.read_lines(path):
            try:
                steps.append(json.loads(line))
            except ValueError:
                continue
        if not steps:
            continue
        total = sum(float(s.get("duration") or 0) for s in steps)
        bad = sum(1 for s in steps if not s.get("ok", s.get("rc") in (0, None)))
        label = f"{prefix}: " if prefix else ""
        parts.append(f'<details{" open" if bad else ""}><summary>{escape(label)}{len(steps)} steps, {total:.1f} s, '
                     f"{bad} failed</summary>{steps_html(steps, 0, prefix)}</details>")
    if not parts:
        return ""
    return f'<section id="dw-procedure"><h2>Procedure step log</h2>{"".join(parts)}{_OPEN_ON_LINK}</section>'


# a test's link to its steps opens the collapsed log at that row
_OPEN_ON_LINK = ("<script>addEventListener('hashchange',()=>{const t=document.getElementById(location.hash.slice(1));"
                 "for(let e=t;e;e=e.parentElement){if(e.tagName==='DETAILS')e.open=true}if(t)t.scrollIntoView()})"
                 "</script>")


def _files_html(run_dir: Path) -> str:
    """Where the run folder is and what it holds."""
    files = [p for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "report.html"]
    if not files:
        return ""
    listing = "".join(
        f'<li><a href="{escape(str(p.relative_to(run_dir)))}">{escape(str(p.relative_to(run_dir)))}'
        f"</a> ({p.stat().st_size} bytes)</li>" for p in files)
    return (f'<section id="dw-files"><h2>Run folder</h2><p><code>{escape(str(run_dir))}</code> '
            f"— {len(files)} files</p><details><summary>files</summary><ul>{listing}</ul></details>"
            "</section>")
