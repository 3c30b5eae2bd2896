"""What the report keeps for one pytest session, and which session and test are running now."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.progress import Sink
from harness.signoff import SignOff


@dataclass(frozen=True)
class Measurement:
    """One measured figure of a test (report.measure)."""

    test: str
    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Run:
    """Everything the report plugin keeps for one pytest session."""

    config: pytest.Config
    run_dir: Path | None
    run_id: str
    started: float = field(default_factory=time.time)
    signoff: SignOff = field(default_factory=SignOff)
    gallery: list[tuple[str, str, str, str]] = field(default_factory=list)  # (test id, title, base64 png, anchor)
    plot_prefix: str = ""  # an xdist worker's id, so its plot anchors stay unique once merged
    measurements: list[Measurement] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skips: dict[str, str] = field(default_factory=dict)  # test id -> skip reason (the accepted-deployment section)
    steps_offset: int = 0  # bytes of run_dir/steps.jsonl already given to a test
    steps_given: int = 0  # steps of run_dir/steps.jsonl already given to a test (their numbers in the page)
    transcripts: dict[str, int] = field(default_factory=dict)  # monitor-*.log sizes when the test began
    outer_sink: Sink | None = None  # the progress sink before this session's


RUN_KEY = pytest.StashKey[Run]()
PENDING_KEY = pytest.StashKey[list]()  # (kind, payload, name) attached and not yet rendered
MEASURED_KEY = pytest.StashKey[list]()  # Measurements not yet shown in the test's section
FAILED_KEY = pytest.StashKey[bool]()
TRANSCRIPT_KEY = pytest.StashKey[bool]()
PROCEDURE_STEPS = "procedure steps during"  # the automatic steps attachment: lines of steps.jsonl
TIMELINE_KEY = pytest.StashKey[bool]()  # the test attached a timeline itself (no automatic one)
CURRENT: dict[str, Any] = {"run": None, "item": None, "outer": []}  # outer: runs of enclosing sessions


def run_of(config: pytest.Config) -> Run | None:
    """The report's state for this session (None before configure)."""
    return config.stash.get(RUN_KEY, None)
