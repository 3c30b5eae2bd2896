"""The figures a run folder yields for trends across runs: RTO, RPO, switchover and takeover times, apply
lag and suite durations, each read from what the run stored (never from a sentence the target printed).

- RTO: the longest write outage around an injected fault, from the workload histories and the fault log
  (harness.checker.rto, as the report's timelines), or a measured "RTO"/"write outage" figure.
- RPO: the most acknowledged writes lost by one test (its "acknowledged writes lost" measurement).
- switchover / takeover: the longest successful switchover / takeover step, as the harness timed it until
  `show` reported the new roles (the procedure's "(decision)" steps in steps.jsonl).
- apply lag: the largest "max apply lag" measurement, else the largest lag among the apply-lag samples.
- suite <name>: the summed junit time of the tests of suites/<name>.
A merged run (python -m harness.merge) is read through its shards' folders.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.archive import histories, read_lines
from harness.check import distinct, load_faults, overlapping
from harness.checker import rto
from harness.checkers import load

FIXED = (("RTO", "s"), ("RPO", "writes lost"), ("switchover", "s"), ("takeover", "s"), ("apply lag", "LSN"))
_DECISION = re.compile(r"^monitor: (switchover|takeover)\b.*\(decision\)$")


def _maxed(figures: dict[str, float], name: str, value: Any) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return
    figures[name] = max(figures.get(name, v), v)


def _lines(path: Path) -> list[dict]:
    out = []
    for line in read_lines(path):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _rto(folder: Path, figures: dict[str, float]) -> None:
    faults = load_faults(folder)
    if not faults:
        return
    recs, _ = distinct(rec for path in histories(folder) for rec in _loaded(path))
    for rec in recs:
        near = overlapping(faults, rec.history.ops)
        for r in rto(rec.history.ops, near) if near else []:
            if r.seconds is not None:
                _maxed(figures, "RTO", r.seconds)


def _loaded(path: Path) -> list[Any]:
    """The histories of one file; a file that is not a workload history (a report's list of plain dicts
    without op fields) yields none rather than stopping the trend."""
    try:
        return load(path)
    except (TypeError, ValueError, KeyError):
        return []


def _steps(folder: Path, figures: dict[str, float]) -> None:
    for path in [folder / "steps.jsonl", *(w / "steps.jsonl" for w in sorted(folder.glob("gw*")))]:
        for step in _lines(path):
            m = _DECISION.match(str(step.get("step", "")))
            if m and step.get("ok", step.get("rc") in (0, None)):
                _maxed(figures, m.group(1), step.get("duration"))


def _measurements(measurements: list[dict], figures: dict[str, float]) -> None:
    for m in measurements:
        name = str(m.get("name", ""))
        if name in ("RTO", "write outage"):
            _maxed(figures, "RTO", m.get("value"))
        elif name == "acknowledged writes lost":
            _maxed(figures, "RPO", m.get("value"))
        elif name == "max apply lag":
            _maxed(figures, "apply lag", m.get("value"))


def _apply_lag_samples(folder: Path, figures: dict[str, float]) -> None:
    for path in sorted(folder.glob("**/tests/*/apply-lag*.json")):
        try:
            samples = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for s in samples if isinstance(samples, list) else []:
            lag = s.get("lag") if isinstance(s, dict) else None
            if lag is None and isinstance(s, dict) and s.get("primary_lsn") is not None \
                    and s.get("standby_lsn") is not None:
                lag = s["primary_lsn"] - s["standby_lsn"]
            _maxed(figures, "apply lag", lag)


def suite_durations(junit: Path) -> dict[str, float]:
    """suite name (suites/<name>) -> summed seconds of its test cases in a junit file."""
    out: dict[str, float] = {}
    if not junit.is_file():
        return out
    for case in ET.parse(junit).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        if len(parts) >= 2 and parts[0] == "suites":
            out[parts[1]] = out.get(parts[1], 0.0) + float(case.get("time") or 0)
    return out


def parts(folder: Path) -> list[Path]:
    """The folders holding a run's files: the run folder, or a merged folder's shards (links under shards/)."""
    shards = sorted(p.resolve() for p in (folder / "shards").glob("*") if p.is_dir())
    return shards or [folder]


def run_figures(folder: Path, measurements: list[dict]) -> dict[str, float]:
    """Every trend figure one run folder yields (series name -> value); series without data are absent."""
    figures: dict[str, float] = {}
    _measurements(measurements, figures)
    for part in parts(folder):
        _rto(part, figures)
        _steps(part, figures)
        if "apply lag" not in figures:
            _apply_lag_samples(part, figures)
    for suite, seconds in suite_durations(folder / "junit.xml").items():
        figures[f"suite {suite}"] = round(seconds, 3)
    return figures


def unit_of(series: str) -> str:
    """The unit a series is plotted in."""
    return dict(FIXED).get(series, "s")
