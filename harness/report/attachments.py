"""Rendering of attachments: each is saved (redacted) under the run folder and turned into an HTML part
for the test's entry, or into a plot of the top gallery.

Kinds: steps, show, log, timeline, apply_lag (see harness/ARCHITECTURE.md, "Report API").
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from harness import archive, plots
from harness.redact import redact
from harness.report import runfolder
from harness.report.html import plot_anchor, procedure_ref, steps_html
from harness.report.state import Run

KINDS = ("steps", "show", "log", "timeline", "apply_lag")
_LOG_TAIL_LINES = 200


def render(run: Run, nodeid: str, kind: str, payload: Any, name: str | None,
           *, failed: bool) -> tuple[str, tuple[str, str] | None]:
    """Save one attachment under the run folder; return (html part, (title, gallery anchor) or None).

    `show` and `log` are always saved but shown only when the test failed."""
    try:
        if kind == "steps":
            return _steps(run, nodeid, payload, name), None
        if kind == "procedure":  # automatic (autoattach): steps of the run's steps.jsonl
            return procedure_ref(payload["first"], payload["steps"], name or "", run.plot_prefix.rstrip("-")), None
        if kind == "show":
            text = str(payload)
            save(run, nodeid, unique(run, nodeid, "show", "txt"), text)
            return (f'<h4>Last monitor <code>show</code></h4><pre class="dw-pre">{escape(redact(text))}</pre>'
                    if failed else ""), None
        if kind == "log":
            return _log(run, nodeid, payload, name, failed), None
        if kind == "timeline":
            return _timeline(run, nodeid, payload)
        if kind == "apply_lag":
            data = payload if isinstance(payload, Mapping) else {"samples": payload}
            title = str(data.get("title") or "Standby apply lag during load")
            png = plots.apply_lag(data.get("samples"), title=title)
            samples = [as_dict(s) for s in plots.records(data.get("samples"))]
            save(run, nodeid, unique(run, nodeid, "apply-lag", "json"), json.dumps(samples, default=str))
            return "", _image(run, nodeid, "apply-lag", title, png)
    except Exception as exc:  # a bad payload must not hide the test's own result; show it instead
        msg = f"{nodeid}: report.attach({kind!r}) could not be rendered: {type(exc).__name__}: {exc}"
        run.errors.append(msg)
        return f'<p class="dw-error">{escape(redact(msg))}</p>', None
    return "", None


def _steps(run: Run, nodeid: str, payload: Any, name: str | None) -> str:
    steps = [payload] if isinstance(payload, Mapping) else list(plots.records(payload))
    steps = [as_dict(s) for s in steps]
    save(run, nodeid, unique(run, nodeid, "steps", "jsonl"), _jsonl(steps))
    heading = f"<h4>{escape(name)}</h4>" if name else ""
    return heading + steps_html(steps)


def _log(run: Run, nodeid: str, payload: Any, name: str | None, failed: bool) -> str:
    if isinstance(payload, Mapping):
        host, lname = str(payload.get("host") or ""), str(payload.get("name") or name or "log")
        text = str(payload.get("text", ""))
    else:
        host, lname, text = "", name or "log", str(payload)
    save(run, nodeid, f"log-{host}-{lname}" if host else f"log-{lname}", text)
    if not failed:
        return ""
    lines = text.splitlines()
    tail = "\n".join(lines[-_LOG_TAIL_LINES:])
    cut = f" (last {_LOG_TAIL_LINES} of {len(lines)} lines)" if len(lines) > _LOG_TAIL_LINES else ""
    label = f"{host}: {lname}" if host else lname
    return (f"<details open><summary>Log {escape(label)}{cut}</summary>"
            f'<pre class="dw-pre">{escape(redact(tail))}</pre></details>')


def _timeline(run: Run, nodeid: str, payload: Any) -> tuple[str, tuple[str, str]]:
    data = payload if isinstance(payload, Mapping) else {"history": payload}
    title = str(data.get("title") or "Roles, faults and writes")
    samples, faults, rto = timeline_parts(data)
    png = plots.timeline(samples, faults, data.get("history"), rto=rto, title=title)
    link = _history_link(run, nodeid, data.get("history"))
    faults = [as_dict(f) for f in plots.records(faults)]
    if faults:
        save(run, nodeid, unique(run, nodeid, "faults", "json"),
             json.dumps(faults, default=str, indent=1, ensure_ascii=False))
    return link, _image(run, nodeid, "timeline", title, png)


def _history_link(run: Run, nodeid: str, history: Any) -> str:
    """A link to the history behind a timeline. A workload's history is already a file of the run folder
    (stored once: it is compressed at the end of the session); any other is saved here, compressed."""
    stored = getattr(history, "path", None)
    if run.run_dir is None:
        return ""
    if stored is not None and Path(stored).resolve().is_relative_to(run.run_dir.resolve()):
        target = archive.archived_name(Path(stored).resolve())
    else:
        ops = [as_dict(op) for op in plots.records(history)]
        if not ops:
            return ""
        folder = test_folder(run, nodeid)
        assert folder is not None
        target = folder / unique(run, nodeid, "history", "jsonl.gz")
        target.write_bytes(gzip.compress(redact(_jsonl(ops)).encode("utf-8")))
    home = run.run_dir.resolve().parent if runfolder.is_worker(run.config) else run.run_dir.resolve()
    href = target.relative_to(home).as_posix()
    return f'<p class="dw-history">Workload history: <a href="{escape(href)}">{escape(href)}</a></p>'


def timeline_parts(data: Mapping) -> tuple[Any, Any, Any]:
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


def _image(run: Run, nodeid: str, stem: str, title: str, png: bytes) -> tuple[str, str]:
    """Save a plot and add it to the top gallery; returns (title, its anchor in the gallery)."""
    save(run, nodeid, unique(run, nodeid, stem, "png"), png)
    anchor = plot_anchor(len(run.gallery), run.plot_prefix)
    run.gallery.append((nodeid, title, base64.b64encode(png).decode("ascii"), anchor))
    return title, anchor


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in records)


def as_dict(obj: Any) -> dict:
    """A record (mapping, dataclass, namedtuple or plain object) as a dict."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {
        "value": obj}


def test_folder(run: Run, nodeid: str) -> Path | None:
    """<run-dir>/tests/<test>/ (or <run-dir>/run/ for run-level attachments), created on demand."""
    if run.run_dir is None:
        return None
    sub = "run" if nodeid == "run" else "tests/" + re.sub(r"[^\w.-]+", "_", nodeid).strip("_")[-120:]
    folder = run.run_dir / sub
    folder.mkdir(parents=True, exist_ok=True)
    return folder


test_folder.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


def save(run: Run, nodeid: str, filename: str, data: str | bytes) -> None:
    """Write one file of a test's folder (text redacted)."""
    folder = test_folder(run, nodeid)
    if folder is None:
        return
    path = folder / re.sub(r"[^\w.-]+", "_", filename)
    if isinstance(data, str):
        path.write_text(redact(data), encoding="utf-8")
    else:
        path.write_bytes(data)


def unique(run: Run, nodeid: str, stem: str, ext: str) -> str:
    """stem.ext, or stem-2.ext, stem-3.ext ... when the test already has one."""
    folder = test_folder(run, nodeid)
    n = 1
    while folder is not None and (folder / f"{stem}{'' if n == 1 else f'-{n}'}.{ext}").exists():
        n += 1
    return f"{stem}{'' if n == 1 else f'-{n}'}.{ext}"
