"""The run report: run folder, self-contained HTML (sign-off, measurements, plots, steps), environment
table, redaction and the terminal end of progress lines (a pytest plugin, loaded by the root conftest.py).

Modules: runfolder (id, `latest`, pruning), redact, metadata (environment table), html (page pieces),
attachments (rendering of attached data), autoattach, terminal (progress sink), api (attach, measure,
Recorder), plugin (the hooks and the `report` fixture). Public API (harness/ARCHITECTURE.md, "Report API"):
    attach(target, kind, payload, *, name=None)    per-test data: steps, show, log, timeline, apply_lag
    measure(target, name, value, unit, *, note="")  a measured figure (also `report.measure(...)`)
    report fixture                                  the same bound to the running test (Recorder)
    test_failed(target) -> bool                     did any phase of this test fail so far?
    progress(msg) / Meter(what, total, unit)        from harness.progress (core modules use that)
    add_secret(value), redact(text)                 password masking
    run_dir(config) -> Path | None                  the run folder
"""

from harness.progress import Meter, progress
from harness.redact import MASK, SEED_PASSWORD, add_secret, redact
from harness.report.api import Recorder, attach, measure, test_failed
from harness.report.attachments import KINDS
from harness.report.html import steps_html
from harness.report.runfolder import RUN_ID, open_run_dir, run_dir
from harness.report.state import Measurement

pytest_plugins = ["harness.report.plugin"]

__all__ = ["KINDS", "MASK", "RUN_ID", "SEED_PASSWORD", "Measurement", "Meter", "Recorder", "add_secret",
           "attach", "measure", "open_run_dir", "progress", "redact", "run_dir", "steps_html", "test_failed"]
