"""Run folder, self-contained HTML report, sign-off table, environment table, plots and progress.

A pytest plugin (loaded by the root conftest.py). Every run gets `reports/<run-id>/` (and the
`reports/latest` symlink) holding `report.html` (pytest-html, self-contained), `junit.xml` and every
artifact the harness leaves there; failed and interrupted runs write theirs too, because pytest calls
pytest_sessionfinish in both cases. Passwords are masked in the report and in every copied file.

Public API (see harness/ARCHITECTURE.md, "Report API"):
    attach(target, kind, payload, *, name=None)   per-test data: steps, show, log, timeline, apply_lag
    report fixture                                 the same bound to the running test
    test_failed(target) -> bool                    did any phase of this test fail so far?
    progress(msg) / Meter(what, total, unit)       terminal progress for long steps (works under -q)
    add_secret(value), redact(text)                password masking
    run_dir(config) -> Path | None                 the run folder
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as _secrets
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pytest

from harness import plots
from harness.signoff import MARKER_LINE, SignOff

KINDS = ("steps", "show", "log", "timeline", "apply_lag")
_SHOW_ON_FAILURE = ("show", "log")  # attached always, shown in the HTML only when the test failed
_LOG_TAIL_LINES = 200
_MAX_REDACT_BYTES = 64 * 1024 * 1024

# ---------------------------------------------------------------------------------------------------
# Redaction


MASK = "******"
SEED_PASSWORD = "Mema_1234"  # the seed's password for SYSDBA and the OS user; always masked
_KEY_VALUE = re.compile(
    r"(?i)\b([\w.-]*(?:PWD|PASSWORD|PASSWD|SECRET|密码)[\w.-]*)(\"?'?[ \t]*[=:：][ \t]*)(\"?'?)([^\s\"',;}&<]+)"
)
_USER_SLASH_PWD = re.compile(r"(?<![\w/.~-])([A-Za-z_][\w$#]*)/(\"?)([^\s/@\"']+)\2@(?=[\w.\[\]:-])")
_IDENTIFIED_BY = re.compile(r"(?i)(IDENTIFIED\s+BY\s+)(\"?)([^\s\";]+)")
_SECRET_KEY = re.compile(r"(?i)PWD|PASSWORD|PASSWD|SECRET|密码")
_DATA_URI = re.compile(r"data:[\w/+.-]+(?:;[\w=.-]+)*;base64,[A-Za-z0-9+/=]+")
_secret_values: set[str] = {SEED_PASSWORD}


def add_secret(value: str | None) -> None:
    """Mask this literal everywhere in the report and copied files from now on (ignored if < 4 chars)."""
    if value and len(str(value)) >= 4:
        _secret_values.add(str(value))


def _redact_plain(text: str) -> str:
    for value in sorted(_secret_values, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + MASK
                          if m.group(4) != MASK else m.group(0), text)
    text = _USER_SLASH_PWD.sub(lambda m: f"{m.group(1)}/{m.group(2)}{MASK}{m.group(2)}@", text)
    return _IDENTIFIED_BY.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def redact(text: str) -> str:
    """Mask passwords: known secrets, values of *PWD*/*PASSWORD* keys, user/pwd@host, IDENTIFIED BY.

    Embedded base64 data URIs are left alone (they are redacted before encoding).
    """
    out, pos = [], 0
    for m in _DATA_URI.finditer(text):
        out.append(_redact_plain(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_redact_plain(text[pos:]))
    return "".join(out)


def _redact_value(key: str, value: Any) -> Any:
    """Redact one (possibly nested) metadata value; keys naming a password are masked whole."""
    if _SECRET_KEY.search(str(key)):
        if isinstance(value, str):
            add_secret(value)
        return MASK
    if isinstance(value, Mapping):
        return {k: _redact_value(k, v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------
# Run state


@dataclass
class _Run:
    """Everything the plugin keeps for one pytest session."""

    config: pytest.Config
    run_dir: Path | None
    run_id: str
    started: float = field(default_factory=time.time)
    signoff: SignOff = field(default_factory=SignOff)
    gallery: list[tuple[str, str, str]] = field(default_factory=list)  # (test id, title, base64 png)
    errors: list[str] = field(default_factory=list)
    steps_offset: int = 0  # bytes of run_dir/steps.jsonl already given to a test
    transcripts: dict[str, int] = field(default_factory=dict)  # monitor-*.log sizes when the test began


_RUN_KEY = pytest.StashKey["_Run"]()
_PENDING_KEY = pytest.StashKey[list]()
_FAILED_KEY = pytest.StashKey[bool]()
_TRANSCRIPT_KEY = pytest.StashKey[bool]()
_TIMELINE_KEY = pytest.StashKey[bool]()  # the test attached a timeline itself (no automatic one)
_CURRENT: dict[str, Any] = {"run": None, "item": None, "outer": []}  # outer: runs of enclosing sessions


def run_dir(config: pytest.Config) -> Path | None:
    """The run folder of this session (None on xdist workers or before configure)."""
    run = config.stash.get(_RUN_KEY, None)
    return run.run_dir if run else None


def _new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + _secrets.token_hex(3)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dmdw-report", "dmdw-harness report")
    group.addoption(
        "--dw-report-dir",
        default=None,
        metavar="DIR",
        help="where run folders go (default: <rootdir>/reports); each run writes DIR/<run-id>/ and DIR/latest",
    )
    group.addoption(
        "--dw-keep-runs",
        default=None,
        metavar="N",
        help="after creating this run's folder, delete all but the newest N run folders in the report dir "
             "(default: keep every run; signed reports are yours to archive first)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Create the run folder and point pytest-html and junitxml at it (before they configure)."""
    config.addinivalue_line("markers", MARKER_LINE)
    if hasattr(config, "workerinput"):
        run = _Run(config, None, config.workerinput.get("dmdw_run_id", "worker"))
    elif any(getattr(config.option, opt, False) for opt in ("help", "showfixtures", "markers")):
        run = _Run(config, None, "no-run")  # pytest --help / --fixtures / --markers: no run folder
    else:
        base = Path(config.getoption("dw_report_dir") or (config.rootpath / "reports")).expanduser()
        keep_runs = _keep_runs(config)
        run_id = _new_run_id()
        folder = base / run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise pytest.UsageError(
                f"cannot create the report folder {folder} ({exc.strerror}); fix --dw-report-dir"
            ) from None
        _point_latest(base, run_id)
        _prune_runs(base, keep_runs, keep=run_id)
        run = _Run(config, folder, run_id)
        if config.pluginmanager.hasplugin("html") and not config.getoption("htmlpath", None):
            config.option.htmlpath = str(folder / "report.html")
            config.option.self_contained_html = True
        if not getattr(config.option, "xmlpath", None):
            config.option.xmlpath = str(folder / "junit.xml")
    config.stash[_RUN_KEY] = run
    config.dmdw_run_dir = run.run_dir
    _CURRENT["outer"].append((_CURRENT["run"], _CURRENT["item"]))  # an in-process (pytester) session nests
    _CURRENT["run"], _CURRENT["item"] = run, None


RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def _keep_runs(config: pytest.Config) -> int | None:
    raw = config.getoption("dw_keep_runs")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"--dw-keep-runs must be a whole number of runs >= 1; got {raw!r}")
    return n


def _prune_runs(base: Path, n: int | None, *, keep: str) -> list[str]:
    """Delete all but the newest n run folders (names from _new_run_id only, never `keep`)."""
    if n is None:
        return []
    runs = sorted((p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and RUN_ID.match(p.name)),
                  key=lambda p: p.name, reverse=True)
    gone = [p for p in runs[n:] if p.name != keep]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in gone]


def _point_latest(base: Path, run_id: str) -> None:
    """Atomically repoint base/latest at the new run folder (a relative symlink)."""
    latest = base / "latest"
    if latest.exists() and not latest.is_symlink():
        return  # someone's own folder named latest: leave it alone
    tmp = base / f".latest-{run_id}"
    try:
        tmp.symlink_to(run_id)
        os.replace(tmp, latest)
    except OSError:
        tmp.unlink(missing_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CURRENT["run"] is not None and _CURRENT["run"].config is config:
        _CURRENT["run"], _CURRENT["item"] = _CURRENT["outer"].pop() if _CURRENT["outer"] else (None, None)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    """Title the HTML report for the DBA who signs it."""
    run = _CURRENT["run"]
    report.title = "DM8 Data Watch acceptance report" + (f" — run {run.run_id}" if run else "")


def pytest_report_header(config: pytest.Config) -> str | None:
    folder = run_dir(config)
    return f"dmdw run folder: {folder}" if folder else None


# ---------------------------------------------------------------------------------------------------
# Environment table (pytest-metadata)

_ENV_LABELS = {
    "target": "Target",
    "backend": "Backend",
    "dm_build": "DM build",
    "svr_version": "DM SVR_VERSION",
    "build_version": "DM BUILD_VERSION",
    "topology": "Topology",
    "seed": "Seed",
    "timers": "Timers",
    "images": "Image ids",
    "image_ids": "Image ids",
    "lang": "Message language",
    "bulk_rows": "Bulk load rows",
    "bringup_seconds": "Bring-up (s)",
    "cleanup": "Cleanup (--keep-topology)",
}


def _metadata(config: pytest.Config) -> dict | None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def _env_value(key: str, value: Any) -> Any:
    """A metadata value safe for pytest-html's environment table (rendered as HTML there)."""
    value = _redact_value(key, value)
    if isinstance(value, Mapping):
        return {escape(k): escape(redact(_plain(v))) for k, v in _flatten(value).items()}
    return escape(redact(_plain(value)))


def _flatten(value: Mapping) -> dict[str, Any]:
    """A mapping of mappings one level down (hosts.host1: name=host1, role=primary, ...), so each host
    of a topology gets one line."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, Mapping) and v and any(isinstance(x, Mapping) for x in v.values()):
            out.update({f"{k}.{k2}": v2 for k2, v2 in v.items()})
        else:
            out[str(k)] = v
    return out


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _fill_metadata(config: pytest.Config) -> None:
    """Copy config.dmdw_env (target, backend, DM build, topology, seed, timers, image ids) into the table."""
    meta = _metadata(config)
    run = config.stash.get(_RUN_KEY, None)
    if meta is None or run is None:
        return
    meta["Run id"] = run.run_id
    if run.run_dir is not None:
        meta["Run folder"] = escape(str(run.run_dir))
    env = getattr(config, "dmdw_env", None) or {}
    for key, value in env.items():
        if key == "dm_build" and not value:
            value = "not known: no DM instance was started in this run"
        meta[_ENV_LABELS.get(key, str(key))] = _env_value(key, value)
    for key in list(meta):
        if _SECRET_KEY.search(str(key)):
            meta[key] = MASK


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _fill_metadata(session.config)


# ---------------------------------------------------------------------------------------------------
# Sign-off bookkeeping


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    run = session.config.stash.get(_RUN_KEY, None)
    if run is not None:
        run.signoff.collected(session.items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    run = _CURRENT["run"]
    if run is None:
        return
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "skipped"
    else:
        outcome = "passed"
    final = report.when == "teardown"
    if report.when == "call" or outcome != "passed":
        run.signoff.outcome(report.nodeid, outcome, final=final)
    elif final:
        run.signoff.finished(report.nodeid)


# ---------------------------------------------------------------------------------------------------
# Attach API


def _item_of(target: Any) -> Any:
    """A pytest Item from an Item, a FixtureRequest, or None (the running test); a Config/Session for run-level."""
    if target is None:
        target = _CURRENT["item"]
        if target is None:
            raise RuntimeError("report.attach(None, ...) outside a running test: pass the request or item")
    if isinstance(target, (pytest.Item, pytest.Config, pytest.Session)):
        return target
    node = getattr(target, "node", None)  # FixtureRequest
    if isinstance(node, pytest.Item):
        return node
    if isinstance(node, (pytest.Collector)):  # a module/session-scoped request: run level
        return node.session
    raise TypeError(f"report.attach: cannot attach to {type(target).__name__}; pass request or item")


def attach(target: Any, kind: str, payload: Any, *, name: str | None = None) -> None:
    """Attach data to a test (or to the run when target is the Config/Session/a session-scoped request).

    kind:
      steps     list of step dicts {host, step, command, rc, output, duration, ok} (or one dict)
      show      monitor `show` output (str); the last one is shown when the test fails
      log       {host, name, text} or a str (name= names it); shown (tail) when the test fails
      timeline  {samples, faults, history, rto, title} -> plots.timeline, always embedded
      apply_lag {samples, title} or a list of samples -> plots.apply_lag, always embedded
    Everything is also written (redacted) under <run-dir>/tests/<test>/ or <run-dir>/run/.
    """
    if kind not in KINDS:
        raise ValueError(f"report.attach: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    target = _item_of(target)
    if isinstance(target, pytest.Item):
        target.stash.setdefault(_PENDING_KEY, []).append((kind, payload, name))
        if kind == "timeline":
            target.stash[_TIMELINE_KEY] = True
        return
    config = target if isinstance(target, pytest.Config) else target.config
    run = config.stash.get(_RUN_KEY, None)
    if run is not None:
        _render(run, "run", kind, payload, name, failed=False)


def test_failed(target: Any) -> bool:
    """True when a phase (setup/call/teardown so far) of this test failed — e.g. to collect DM logs."""
    item = _item_of(target)
    return bool(isinstance(item, pytest.Item) and item.stash.get(_FAILED_KEY, False))


test_failed.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


class Recorder:
    """The `report` fixture: attach() bound to the running test, with one method per kind."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def attach(self, kind: str, payload: Any, *, name: str | None = None) -> None:
        attach(self.item, kind, payload, name=name)

    def steps(self, steps: Any) -> None:
        attach(self.item, "steps", steps)

    def show(self, text: str) -> None:
        attach(self.item, "show", text)

    def log(self, host: str, name: str, text: str) -> None:
        attach(self.item, "log", {"host": host, "name": name, "text": text})

    def timeline(self, history: Any = None, *, samples: Any = None, faults: Any = None, rto: Any = None,
                 title: str | None = None) -> None:
        payload = {"history": history, "samples": samples, "faults": faults, "rto": rto}
        if title:
            payload["title"] = title
        attach(self.item, "timeline", payload)

    def apply_lag(self, samples: Any, *, title: str | None = None) -> None:
        attach(self.item, "apply_lag", {"samples": samples, **({"title": title} if title else {})})

    def measure(self, name: str, value: float, unit: str, *, note: str = "") -> None:
        """Record one measured figure of this test (RTO, loss, recovery time ...) for the report."""
        figure = {"name": name, "value": round(value, 3) if isinstance(value, float) else value, "unit": unit,
                  "note": note}
        self.item.user_properties.append(("measure", figure))
        print(f"measured: {name} = {figure['value']} {unit}{f' ({note})' if note else ''}")

    @property
    def failed(self) -> bool:
        return test_failed(self.item)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Recorder:
    """Attach steps, monitor output, logs and plots to this test's entry in the HTML report."""
    return Recorder(request.node)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Track the running test (for attach(None, ...)) and where the monitor transcripts stood at its start."""
    before, _CURRENT["item"] = _CURRENT["item"], item
    run = item.config.stash.get(_RUN_KEY, None)
    if run is not None and run.run_dir is not None:
        run.transcripts = {p.name: p.stat().st_size for p in run.run_dir.glob("monitor-*.log")}
    try:
        yield
    finally:
        _CURRENT["item"] = before


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Render this phase's attachments into pytest-html extras (inner to pytest-html's own wrapper)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item.stash[_FAILED_KEY] = True
    run = item.config.stash.get(_RUN_KEY, None)
    if run is not None and run.run_dir is not None:
        _auto_attach(run, item, rep)
    pending = item.stash.get(_PENDING_KEY, [])
    if run is None or not pending:
        return
    item.stash[_PENDING_KEY] = []
    failed = item.stash.get(_FAILED_KEY, False)
    html_parts: list[str] = []
    images: list[tuple[str, str]] = []
    last_show = max((i for i, p in enumerate(pending) if p[0] == "show"), default=None)
    for index, (kind, payload, name) in enumerate(pending):
        if kind == "show" and index != last_show:
            _render(run, item.nodeid, kind, payload, name, failed=False)
            continue
        part, image = _render(run, item.nodeid, kind, payload, name, failed=failed)
        if part:
            html_parts.append(part)
        if image:
            images.append(image)
    extras = list(getattr(rep, "extras", []))
    try:
        from pytest_html import extras as html_extras
    except ImportError:
        return
    if html_parts:
        extras.append(html_extras.html(f'<div class="dw-extras">{"".join(html_parts)}</div>'))
    if images:  # each plot is embedded once, in the top gallery; the test links to it
        links = "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for title, anchor in images)
        extras.append(html_extras.html(f'<div class="dw-extras"><h4>Plots</h4><ul>{links}</ul></div>'))
    rep.extras = extras


def _auto_attach(run: _Run, item: pytest.Item, rep: pytest.TestReport) -> None:
    """Give the test what the core plugin logged meanwhile: procedure steps run during this phase
    (new lines of steps.jsonl) and, on its first failure, the monitor transcript since the test began."""
    assert run.run_dir is not None
    pending = item.stash.setdefault(_PENDING_KEY, [])
    steps_file = run.run_dir / "steps.jsonl"
    if steps_file.exists() and steps_file.stat().st_size > run.steps_offset:
        with open(steps_file, "rb") as f:
            f.seek(run.steps_offset)
            chunk = f.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a step being written right now waits for the next phase
        run.steps_offset += len(complete)
        steps = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                steps.append(json.loads(line))
            except ValueError:
                continue
        if steps:
            pending.append(("steps", steps, f"procedure steps during {rep.when}"))
    if rep.when == "call" and not any(p[0] == "timeline" for p in pending) \
            and not item.stash.get(_TIMELINE_KEY, False):
        for history in _histories(item):
            pending.append(("timeline", {"history": history, "title": "Roles, faults and writes (workload)"},
                            None))
    if rep.failed and not item.stash.get(_TRANSCRIPT_KEY, False):
        item.stash[_TRANSCRIPT_KEY] = True
        for path in sorted(run.run_dir.glob("monitor-*.log")):
            start = run.transcripts.get(path.name, 0)
            if path.stat().st_size > start:
                with open(path, "rb") as f:
                    f.seek(start)
                    text = f.read().decode("utf-8", errors="replace")
                pending.append(("log", {"host": "monitor", "name": path.name, "text": text}, None))


def _histories(item: pytest.Item) -> list[Any]:
    """Workload histories of this test: a fixture value with a `.history` holding ops and role samples."""
    found = []
    for value in getattr(item, "funcargs", {}).values():
        history = getattr(value, "history", None)
        if history is not None and getattr(history, "ops", None) and hasattr(history, "roles") \
                and history not in found:
            found.append(history)
    return found


def _test_folder(run: _Run, nodeid: str) -> Path | None:
    if run.run_dir is None:
        return None
    sub = "run" if nodeid == "run" else "tests/" + re.sub(r"[^\w.-]+", "_", nodeid).strip("_")[-120:]
    folder = run.run_dir / sub
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save(run: _Run, nodeid: str, filename: str, data: str | bytes) -> None:
    folder = _test_folder(run, nodeid)
    if folder is None:
        return
    path = folder / re.sub(r"[^\w.-]+", "_", filename)
    if isinstance(data, str):
        path.write_text(redact(data), encoding="utf-8")
    else:
        path.write_bytes(data)


def _unique(run: _Run, nodeid: str, stem: str, ext: str) -> str:
    folder = _test_folder(run, nodeid)
    n = 1
    while folder is not None and (folder / f"{stem}{'' if n == 1 else f'-{n}'}.{ext}").exists():
        n += 1
    return f"{stem}{'' if n == 1 else f'-{n}'}.{ext}"


def _render(run: _Run, nodeid: str, kind: str, payload: Any, name: str | None,
            *, failed: bool) -> tuple[str, tuple[str, str] | None]:
    """Save one attachment under the run folder; return (html part, (title, gallery anchor) or None)."""
    try:
        if kind == "steps":
            steps = [payload] if isinstance(payload, Mapping) else list(plots.records(payload))
            steps = [_as_dict(s) for s in steps]
            _save(run, nodeid, _unique(run, nodeid, "steps", "jsonl"),
                  "".join(json.dumps(s, default=str, ensure_ascii=False) + "\n" for s in steps))
            heading = f"<h4>{escape(name)}</h4>" if name else ""
            return heading + steps_html(steps), None
        if kind == "show":
            text = str(payload)
            _save(run, nodeid, _unique(run, nodeid, "show", "txt"), text)
            return (f'<h4>Last monitor <code>show</code></h4><pre class="dw-pre">{escape(redact(text))}</pre>'
                    if failed else ""), None
        if kind == "log":
            host, lname, text = _log_parts(payload, name)
            _save(run, nodeid, f"log-{host}-{lname}" if host else f"log-{lname}", text)
            if not failed:
                return "", None
            lines = text.splitlines()
            tail = "\n".join(lines[-_LOG_TAIL_LINES:])
            cut = f" (last {_LOG_TAIL_LINES} of {len(lines)} lines)" if len(lines) > _LOG_TAIL_LINES else ""
            label = f"{host}: {lname}" if host else lname
            return (f"<details open><summary>Log {escape(label)}{cut}</summary>"
                    f'<pre class="dw-pre">{escape(redact(tail))}</pre></details>'), None
        if kind == "timeline":
            data = payload if isinstance(payload, Mapping) else {"history": payload}
            title = str(data.get("title") or "Roles, faults and writes")
            samples, faults, rto = _timeline_parts(data)
            png = plots.timeline(samples, faults, data.get("history"), rto=rto, title=title)
            history = [_as_dict(op) for op in plots.records(data.get("history"))]
            if history:
                _save(run, nodeid, _unique(run, nodeid, "history", "jsonl"),
                      "".join(json.dumps(op, default=str, ensure_ascii=False) + "\n" for op in history))
            faults = [_as_dict(f) for f in plots.records(faults)]
            if faults:
                _save(run, nodeid, _unique(run, nodeid, "faults", "json"),
                      json.dumps(faults, default=str, indent=1, ensure_ascii=False))
            return "", _image(run, nodeid, "timeline", title, png)
        if kind == "apply_lag":
            data = payload if isinstance(payload, Mapping) else {"samples": payload}
            title = str(data.get("title") or "Standby apply lag during load")
            png = plots.apply_lag(data.get("samples"), title=title)
            samples = [_as_dict(s) for s in plots.records(data.get("samples"))]
            _save(run, nodeid, _unique(run, nodeid, "apply-lag", "json"), json.dumps(samples, default=str))
            return "", _image(run, nodeid, "apply-lag", title, png)
    except Exception as exc:  # a bad payload must not hide the test's own result; show it instead
        msg = f"{nodeid}: report.attach({kind!r}) could not be rendered: {type(exc).__name__}: {exc}"
        run.errors.append(msg)
        return f'<p class="dw-error">{escape(redact(msg))}</p>', None
    return "", None


def _timeline_parts(data: Mapping) -> tuple[Any, Any, Any]:
    """Samples, faults and RTO of a timeline payload; a harness History supplies what is not given
    (its role samples and faults), and the RTO comes from harness.checker when faults are known."""
    history = data.get("history")
    samples = data.get("samples")
    if samples is None:
        samples = getattr(history, "roles", None)
    faults = data.get("faults")
    if faults is None:
        faults = getattr(history, "faults", None)
    rto = data.get("rto")
    ops = getattr(history, "ops", None)
    if rto is None and ops is not None and faults:
        from harness.checker import rto as checker_rto

        rto = checker_rto(list(ops), list(plots.records(faults)))
    return samples, faults, rto


def _image(run: _Run, nodeid: str, stem: str, title: str, png: bytes) -> tuple[str, str]:
    """Save a plot and add it to the top gallery; returns (title, its anchor in the gallery)."""
    _save(run, nodeid, _unique(run, nodeid, stem, "png"), png)
    run.gallery.append((nodeid, title, base64.b64encode(png).decode("ascii")))
    return title, _plot_anchor(len(run.gallery) - 1)


def _plot_anchor(index: int) -> str:
    return f"dw-plot-{index + 1}"


def _as_dict(obj: Any) -> dict:
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {
        "value": obj}


def _log_parts(payload: Any, name: str | None) -> tuple[str, str, str]:
    if isinstance(payload, Mapping):
        return (str(payload.get("host") or ""), str(payload.get("name") or name or "log"),
                str(payload.get("text", "")))
    return "", name or "log", str(payload)


def steps_html(steps: list[dict]) -> str:
    """A table of procedure steps: host, step, command, rc, duration, output (collapsed)."""
    rows = []
    for s in steps:
        ok = s.get("ok", s.get("rc") in (0, None))
        out = str(s.get("output") or "")
        out_cell = (f"<details><summary>{len(out.splitlines())} lines</summary>"
                    f'<pre class="dw-pre">{escape(redact(out))}</pre></details>') if out.strip() else ""
        dur = s.get("duration")
        rows.append(
            f'<tr class="{"dw-ok" if ok else "dw-bad"}"><td>{escape(str(s.get("host", "")))}</td>'
            f'<td>{escape(redact(str(s.get("step", ""))))}</td>'
            f'<td><code>{escape(redact(str(s.get("command", s.get("cmd", "")))))}</code></td>'
            f'<td>{escape(str(s.get("rc", "")))}</td>'
            f'<td>{f"{float(dur):.2f} s" if isinstance(dur, (int, float)) else escape(str(dur or ""))}</td>'
            f"<td>{out_cell}</td></tr>"
        )
    return ('<table class="dw-steps"><thead><tr><th>Host</th><th>Step</th><th>Command</th><th>rc</th>'
            f"<th>Duration</th><th>Output</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


# ---------------------------------------------------------------------------------------------------
# Session end: finish the HTML, redact copied files


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Before pytest-html renders: refresh the environment table (the DM build is known only after
    bring-up). After pytest-html and junitxml wrote their files: add the sign-off block, redact all."""
    _fill_metadata(session.config)
    yield
    _finish_files(session, exitstatus)


def _finish_files(session: pytest.Session, exitstatus: int) -> None:
    """After pytest-html and junitxml wrote their files: insert the sign-off block, redact everything."""
    config = session.config
    run = config.stash.get(_RUN_KEY, None)
    if run is None or run.run_dir is None:
        return
    interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
    html_path = Path(config.getoption("htmlpath", None) or run.run_dir / "report.html")
    if html_path.exists():
        text = html_path.read_text(encoding="utf-8")
        block = _top_block(run, interrupted, int(exitstatus))
        m = re.search(r'<h1 id="title">.*?</h1>\s*<p>.*?</p>', text, re.S)
        text = text[:m.end()] + block + text[m.end():] if m else text.replace("<body>", "<body>" + block, 1)
        html_path.write_text(redact(text), encoding="utf-8")
    for path in sorted(run.run_dir.rglob("*")):
        if path.is_file() and not path.is_symlink() and path != html_path and path.suffix != ".png":
            _redact_file(path)


def _redact_file(path: Path) -> None:
    try:
        if path.stat().st_size > _MAX_REDACT_BYTES:
            return
        raw = path.read_bytes()
    except OSError:
        return
    if b"\0" in raw[:4096]:
        return  # binary
    text = raw.decode("utf-8", errors="surrogateescape")
    new = redact(text)
    if new != text:
        path.write_bytes(new.encode("utf-8", errors="surrogateescape"))


_CSS = """
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
.dw-error{color:#c62828;font-weight:bold}
"""


def _top_block(run: _Run, interrupted: bool, exitstatus: int) -> str:
    """Sign-off, plots, procedure step log and run folder, placed right under the report title."""
    parts = [f"<style>{_CSS}</style>", '<div id="dw-top">',
             run.signoff.html(interrupted=interrupted, exitstatus=exitstatus)]
    if run.errors:
        parts.append("<h3>Report problems</h3><ul>" + "".join(
            f'<li class="dw-error">{escape(redact(e))}</li>' for e in run.errors) + "</ul>")
    if run.gallery:
        parts.append('<section id="dw-plots"><h2>Plots</h2>')
        for index, (nodeid, title, b64) in enumerate(run.gallery):
            parts.append(f'<figure class="dw-plot" id="{_plot_anchor(index)}"><figcaption><b>{escape(title)}</b> — {escape(nodeid)}'
                         f'</figcaption><img alt="{escape(title)}" src="data:image/png;base64,{b64}"/></figure>')
        parts.append("</section>")
    assert run.run_dir is not None
    steps_file = run.run_dir / "steps.jsonl"
    if steps_file.exists():
        steps = []
        for line in steps_file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                steps.append(json.loads(line))
            except ValueError:
                continue
        total = sum(float(s.get("duration") or 0) for s in steps)
        bad = sum(1 for s in steps if not s.get("ok", s.get("rc") in (0, None)))
        parts.append(f'<section id="dw-procedure"><h2>Procedure step log</h2><details{" open" if bad else ""}>'
                     f"<summary>{len(steps)} steps, {total:.1f} s, {bad} failed</summary>"
                     f"{steps_html(steps)}</details></section>")
    files = [p for p in sorted(run.run_dir.rglob("*")) if p.is_file() and p.name != "report.html"]
    if files:
        listing = "".join(
            f'<li><a href="{escape(str(p.relative_to(run.run_dir)))}">{escape(str(p.relative_to(run.run_dir)))}'
            f"</a> ({p.stat().st_size} bytes)</li>" for p in files)
        parts.append(f'<section id="dw-files"><h2>Run folder</h2><p><code>{escape(str(run.run_dir))}</code> '
                     f"— {len(files)} files</p><details><summary>files</summary><ul>{listing}</ul></details>"
                     "</section>")
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------------
# Progress on the terminal


def progress(msg: str) -> None:
    """One progress line on the terminal, shown even under -q and while output is captured."""
    run = _CURRENT["run"]
    msg = redact(msg)
    if run is None:
        print(f"[dmdw] {msg}", file=sys.stderr, flush=True)
        return
    line = f"[dmdw {time.time() - run.started:7.1f}s] {msg}"
    if run.run_dir is not None:
        with open(run.run_dir / "progress.log", "a", encoding="utf-8") as f:
            f.write(time.strftime("%H:%M:%S ", time.gmtime()) + msg + "\n")
    pm = run.config.pluginmanager
    tr = pm.get_plugin("terminalreporter")
    if tr is None:
        print(line, file=sys.stderr, flush=True)
        return
    capman = pm.get_plugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else nullcontext():
        if getattr(getattr(tr, "_tw", None), "width_of_current_line", 0):
            tr.write("\n")  # after the progress dots of -q / the test name of -v
        tr.write_line(line)


class Meter:
    """Progress for a long counted step, e.g. `with Meter("bulk load", total=10**6, unit="rows") as m:
    m.update(n)` prints "bulk load: 350000/1000000 rows (35%), 41200 rows/s" at most every `every` s."""

    def __init__(self, what: str, total: int | None = None, unit: str = "rows", every: float = 2.0) -> None:
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.done = 0
        self._start = self._last = 0.0

    def __enter__(self) -> Meter:
        self._start = self._last = time.monotonic()
        progress(f"{self.what}: started" + (f" ({self.total} {self.unit})" if self.total else ""))
        return self

    def update(self, n: int = 1) -> None:
        """Count n more units; print a line if `every` seconds passed since the last one."""
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            progress(f"{self.what}: {self._status(now)}")

    def _status(self, now: float) -> str:
        rate = self.done / max(now - self._start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.done}{of} {self.unit}{pct}, {rate:.0f} {self.unit}/s"

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        now = time.monotonic()
        state = "interrupted" if exc_type else "done"
        progress(f"{self.what}: {state} in {now - self._start:.1f} s, {self._status(now)}")
