"""The report's progress sink: redacted lines on pytest's terminal (shown under -q and while output is
captured), timed from the start of the run, and appended to <run-dir>/progress.log."""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext

from harness.redact import redact
from harness.report.state import CURRENT


def terminal_sink(msg: str) -> None:
    """One progress line for the running session (stderr when no session runs)."""
    run = CURRENT["run"]
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
