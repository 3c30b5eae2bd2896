"""What a test gets without asking: the procedure steps run during each of its phases, the timeline of a
workload fixture's history, and on failure what the monitor transcripts gained since the test began."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.report.state import PENDING_KEY, PROCEDURE_STEPS, TIMELINE_KEY, TRANSCRIPT_KEY, Run


def auto_attach(run: Run, item: pytest.Item, rep: pytest.TestReport) -> None:
    """Queue the automatic attachments of this phase on the item."""
    assert run.run_dir is not None
    pending = item.stash.setdefault(PENDING_KEY, [])
    first, steps = run.steps_given, _new_steps(run)
    if steps:  # rendered as a reference to the page's one procedure step log (harness.report.attachments)
        pending.append(("procedure", {"first": first, "steps": steps}, f"{PROCEDURE_STEPS} {rep.when}"))
    if rep.when == "call" and not any(p[0] == "timeline" for p in pending) \
            and not item.stash.get(TIMELINE_KEY, False):
        for history in _histories(item):
            pending.append(("timeline", {"history": history, "title": "Roles, faults and writes (workload)"},
                            None))
    if rep.failed and not item.stash.get(TRANSCRIPT_KEY, False):
        item.stash[TRANSCRIPT_KEY] = True
        for path in sorted(run.run_dir.glob("monitor-*.log")):
            start = run.transcripts.get(path.name, 0)
            if path.stat().st_size > start:
                with open(path, "rb") as f:
                    f.seek(start)
                    text = f.read().decode("utf-8", errors="replace")
                pending.append(("log", {"host": "monitor", "name": path.name, "text": text}, None))


def _new_steps(run: Run) -> list[dict]:
    """Complete lines of <run-dir>/steps.jsonl written since the last call (a line being written waits)."""
    assert run.run_dir is not None
    steps_file = run.run_dir / "steps.jsonl"
    if not steps_file.exists() or steps_file.stat().st_size <= run.steps_offset:
        return []
    with open(steps_file, "rb") as f:
        f.seek(run.steps_offset)
        chunk = f.read()
    complete = chunk[:chunk.rfind(b"\n") + 1]
    run.steps_offset += len(complete)
    steps = []
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:
            steps.append(json.loads(line))
        except ValueError:
            continue
    run.steps_given += len(steps)
    return steps


def _histories(item: pytest.Item) -> list[Any]:
    """Workload histories of this test: a fixture value with a `.history` holding ops and role samples."""
    found = []
    for value in getattr(item, "funcargs", {}).values():
        history = getattr(value, "history", None)
        if history is not None and getattr(history, "ops", None) and hasattr(history, "roles") \
                and history not in found:
            found.append(history)
    return found
