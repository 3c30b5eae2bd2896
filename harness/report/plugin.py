"""The report's pytest hooks and the `report` fixture (registered through harness.report).

Configure opens the run folder, points pytest-html (self-contained) and junitxml at it unless the user
gave --html / --junitxml, and connects harness.progress to the terminal. Each phase's attachments and
measurements become extras of the test's entry. Session end (failed and interrupted runs too) inserts the
top block, writes measurements.json and unconfirmed-wording.json (decisions that rested on emulator-only
wording, harness.transcript) and redacts every file of the run folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

import pytest

from harness import archive, progress
from harness.redact import redact, redact_file
from harness.report import remote, runfolder
from harness.report.accepted import skip_reason
from harness.report.api import Recorder
from harness.report.attachments import render
from harness.report.autoattach import auto_attach
from harness.report.html import measurements_html, top_block
from harness.report.metadata import fill_metadata
from harness.report.state import (
    CURRENT,
    FAILED_KEY,
    MEASURED_KEY,
    PENDING_KEY,
    RUN_KEY,
    Measurement,
    Run,
    run_of,
)
from harness.report.terminal import terminal_sink
from harness.signoff import MARKER_LINE, items_for
from harness.transcript import UNCONFIRMED_WORDING


def pytest_addoption(parser: pytest.Parser) -> None:
    runfolder.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Open the run folder and point pytest-html and junitxml at it (before they configure)."""
    config.addinivalue_line("markers", MARKER_LINE)
    folder = runfolder.open_run_dir(config)
    run = Run(config, folder, runfolder.run_id(config))
    if runfolder.is_worker(config):
        run.plot_prefix = f"{config.workerinput['workerid']}-"  # type: ignore[attr-defined]
    elif folder is not None:
        if config.pluginmanager.hasplugin("html") and not config.getoption("htmlpath", None):
            config.option.htmlpath = str(folder / "report.html")
            config.option.self_contained_html = True
        if not getattr(config.option, "xmlpath", None):
            config.option.xmlpath = str(folder / "junit.xml")
    config.stash[RUN_KEY] = run
    CURRENT["outer"].append((CURRENT["run"], CURRENT["item"]))  # an in-process (pytester) session nests
    CURRENT["run"], CURRENT["item"] = run, None
    run.outer_sink = progress.set_sink(terminal_sink)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = CURRENT["run"]
    if run is not None and run.config is config:
        progress.set_sink(run.outer_sink)
        CURRENT["run"], CURRENT["item"] = CURRENT["outer"].pop() if CURRENT["outer"] else (None, None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where the run folder is (it writes into a sub-folder)."""
    node.workerinput.update(runfolder.worker_input(node.config, remote=remote.is_remote(node)))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: take a finished worker's measurements, plots and errors into the one report, and
    a remote worker's folder into <run folder>/<gwN>/."""
    run = run_of(node.config)
    output = getattr(node, "workeroutput", {})
    data = output.get("dmdw_report")
    if run is not None and run.run_dir is not None and output.get(remote.OUTPUT_KEY):
        remote.unpack(output[remote.OUTPUT_KEY], run.run_dir / node.gateway.id)
    if run is None or not data:
        return
    run.measurements += [Measurement(**m) for m in data["measurements"]]
    run.gallery += [tuple(g) for g in data["gallery"]]  # type: ignore[misc]
    run.errors += [f"{node.gateway.id}: {e}" for e in data["errors"]]


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    """Title the HTML report for the DBA who signs it."""
    run = CURRENT["run"]
    report.title = "DM8 Data Watch acceptance report" + (f" — run {run.run_id}" if run else "")


def pytest_report_header(config: pytest.Config) -> str | None:
    folder = runfolder.run_dir(config)
    return f"dmdw run folder: {folder}" if folder else None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    fill_metadata(session.config)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    run = run_of(session.config)
    if run is not None:
        run.signoff.collected(session.items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each phase's outcome towards the test's sign-off items."""
    run = CURRENT["run"]
    if run is None:
        return
    run.signoff.expect(report.nodeid, getattr(report, "dmdw_signoff", []))  # from an xdist worker
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "skipped"
        run.skips[report.nodeid] = skip_reason(report)
    else:
        outcome = "passed"
    final = report.when == "teardown"
    if report.when == "call" or outcome != "passed":
        run.signoff.outcome(report.nodeid, outcome, final=final)
    elif final:
        run.signoff.finished(report.nodeid)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Recorder:
    """Attach steps, monitor output, logs, plots and measurements to this test's entry in the HTML report."""
    return Recorder(request.node)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Track the running test (for attach(None, ...)) and where the monitor transcripts stood at its start."""
    before, CURRENT["item"] = CURRENT["item"], item
    run = run_of(item.config)
    if run is not None and run.run_dir is not None:
        run.transcripts = {p.name: p.stat().st_size for p in run.run_dir.glob("monitor-*.log")}
    try:
        yield
    finally:
        CURRENT["item"] = before


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Render this phase's attachments and measurements into pytest-html extras (inner to its wrapper)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item.stash[FAILED_KEY] = True
    if runfolder.is_worker(item.config):
        rep.dmdw_signoff = items_for(item)  # type: ignore[attr-defined]  # travels to the controller
    run = run_of(item.config)
    if run is not None and run.run_dir is not None:
        auto_attach(run, item, rep)
    pending, measured = item.stash.get(PENDING_KEY, []), item.stash.get(MEASURED_KEY, [])
    if run is None or not (pending or measured):
        return
    item.stash[PENDING_KEY], item.stash[MEASURED_KEY] = [], []
    failed = item.stash.get(FAILED_KEY, False)
    html_parts: list[str] = []
    if measured:
        html_parts.append(f"<h4>Measurements</h4>{measurements_html(measured, with_test=False)}")
    images: list[tuple[str, str]] = []
    last_show = max((i for i, p in enumerate(pending) if p[0] == "show"), default=None)
    for index, (kind, payload, name) in enumerate(pending):
        shown = kind != "show" or index == last_show
        part, image = render(run, item.nodeid, kind, payload, name, failed=failed and shown)
        if part:
            html_parts.append(part)
        if image:
            images.append(image)
    _add_extras(rep, html_parts, images)


def _add_extras(rep: pytest.TestReport, html_parts: list[str], images: list[tuple[str, str]]) -> None:
    try:
        from pytest_html import extras as html_extras
    except ImportError:
        return
    extras = list(getattr(rep, "extras", []))
    if html_parts:
        extras.append(html_extras.html(f'<div class="dw-extras">{"".join(html_parts)}</div>'))
    if images:  # each plot is embedded once, in the top gallery; the test links to it
        links = "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for title, anchor in images)
        extras.append(html_extras.html(f'<div class="dw-extras"><h4>Plots</h4><ul>{links}</ul></div>'))
    rep.extras = extras


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Before pytest-html renders: refresh the environment table (the DM build is known only after
    bring-up). After pytest-html and junitxml wrote their files: add the top block, redact all."""
    fill_metadata(session.config)
    yield
    _finish_files(session.config, int(exitstatus))


def _trend_section(run_dir: Path) -> str:
    """This run against the earlier ones of the report dir (harness.report.trend); a broken earlier run
    folder must not cost the report, so a failure is one line in the section instead."""
    from harness.report.trend import report_section

    try:
        return report_section(run_dir)
    except Exception as exc:  # noqa: BLE001 - shown in the report, the run's own verdict stands
        return f'<section id="dw-trend"><p class="dw-error">trend: {escape(type(exc).__name__)}: {escape(str(exc))}</p></section>'


def _finish_files(config: pytest.Config, exitstatus: int) -> None:
    run = run_of(config)
    if run is None or run.run_dir is None:
        return
    measurements = [asdict(m) for m in run.measurements]
    (run.run_dir / "measurements.json").write_text(
        json.dumps(measurements, ensure_ascii=False, indent=1), encoding="utf-8")
    (run.run_dir / "unconfirmed-wording.json").write_text(
        json.dumps(UNCONFIRMED_WORDING, ensure_ascii=False, indent=1), encoding="utf-8")
    archive.compress_run_folder(run.run_dir, clean=redact_file)  # stored once, redacted, compressed
    worker = runfolder.is_worker(config)
    if not worker:  # the verdicts behind the sign-off table, for python -m harness.report.merge and harness.trend
        (run.run_dir / "signoff.json").write_text(json.dumps(
            {"exitstatus": exitstatus, "tallies": run.signoff.to_json()}, ensure_ascii=False, indent=1),
            encoding="utf-8")
    if worker:  # the controller merges these into its report (pytest_testnodedown)
        config.workeroutput["dmdw_report"] = {  # type: ignore[attr-defined]
            "measurements": measurements, "gallery": [list(g) for g in run.gallery], "errors": run.errors}
    html_path = Path(config.getoption("htmlpath", None) or run.run_dir / "report.html")
    if html_path.exists() and not worker:
        text = html_path.read_text(encoding="utf-8")
        interrupted = exitstatus == int(pytest.ExitCode.INTERRUPTED)
        block = top_block(run, interrupted, exitstatus, extra=_trend_section(run.run_dir))
        m = re.search(r'<h1 id="title">.*?</h1>\s*<p>.*?</p>', text, re.S)
        text = text[:m.end()] + block + text[m.end():] if m else text.replace("<body>", "<body>" + block, 1)
        html_path.write_text(redact(text), encoding="utf-8")
    for path in sorted(run.run_dir.rglob("*")):
        if path.is_file() and not path.is_symlink() and path != html_path and path.suffix != ".png":
            redact_file(path)
    if runfolder.is_remote_worker(config):  # its folder goes back to the controller (harness.report.remote)
        config.workeroutput[remote.OUTPUT_KEY] = remote.pack(run.run_dir)  # type: ignore[attr-defined]
