"""measure() on the `report` fixture, the progress hook core modules use instead of the report, and the
report as the one owner of the run folder (its id, `latest`), with and without the core plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from reportdemo import REPO, pytest_env

from harness import progress
from harness.report import RUN_ID, Measurement
from harness.report.state import run_of


def test_measure_records_user_property_and_run_table(report, request: pytest.FixtureRequest) -> None:
    m = report.measure("RTO", 7.25, "s", note="isolate host1")
    assert m == Measurement(request.node.nodeid, "RTO", 7.25, "s", "isolate host1")
    assert ("RTO", "7.25 s (isolate host1)") in request.node.user_properties
    assert report.measure("rows lost", 0, "rows").value == 0
    assert ("rows lost", "0 rows") in request.node.user_properties
    run = run_of(request.config)
    assert run is not None and run.measurements[-2:] == [m, Measurement(request.node.nodeid, "rows lost", 0, "rows")]


@pytest.mark.parametrize(("name", "value", "unit", "error"), [
    ("RTO", "8 s", "s", "must be a finite number"),
    ("RTO", True, "s", "must be a finite number"),
    ("RTO", float("nan"), "s", "must be a finite number"),
    ("", 1.0, "s", "non-empty string"),
    ("RTO", 1.0, None, "unit must be a string"),
])
def test_measure_rejects_what_is_not_a_figure(report, name, value, unit, error) -> None:
    with pytest.raises(ValueError, match=error):
        report.measure(name, value, unit)


def test_progress_goes_to_the_installed_sink_and_back() -> None:
    seen: list[str] = []
    before = progress.set_sink(seen.append)
    try:
        progress.progress("waiting for mema2")
        with progress.Meter("bulk load", total=10, unit="rows", every=0.0) as meter:
            meter.update(10)
    finally:
        assert progress.set_sink(before) == seen.append
    assert seen[0] == "waiting for mema2" and seen[1] == "bulk load: started (10 rows)"
    assert seen[2].startswith("bulk load: 10/10 rows (100%)") and seen[-1].startswith("bulk load: done in ")


def test_the_report_plugin_is_the_sink_during_a_run() -> None:
    from harness.report.terminal import terminal_sink

    assert progress._sink is terminal_sink  # connected at configure (this session loads the report)


def test_core_modules_do_not_import_the_report() -> None:
    code = ("import sys\n"
            "import harness.wait, harness.sql, harness.steps, harness.procedure, harness.dw, harness.workload\n"
            "from harness.steps import Step, StepLog\n"
            "StepLog().record(Step('host1', 'hello from core', 'true', 0, '', 0.1, True, 0.0))\n"
            "print(sorted(m for m in sys.modules if m.startswith('harness.report')))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=pytest_env(), text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert "[dmdw] host1: hello from core (0.1s)" in proc.stderr  # the default sink: stderr


def test_pytest_free_modules_do_not_name_the_report() -> None:
    """Core modules (those without pytest) report progress through harness.progress, never the report."""
    short_names = {REPO / "harness" / "trend.py", REPO / "harness" / "merge.py"}  # python -m harness.trend: the report's tools
    core = [p for p in (REPO / "harness").rglob("*.py")
            if p.relative_to(REPO / "harness").parts[0] != "report" and "import pytest" not in p.read_text()
            and p not in short_names]
    assert len(core) > 10 and REPO / "harness" / "wait.py" in core
    naming = [str(p.relative_to(REPO)) for p in core
              if re.search(r"harness\.report|from harness import[^\n]*\breport\b", p.read_text())]
    assert naming == [], naming


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=folder, env=pytest_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)


SUITE = '''
def test_writes_into_the_run_folder(run_dir, request):
    assert run_dir == request.config.dmdw_run_dir
    (run_dir / "mine.txt").write_text("written by a test")
'''


@pytest.mark.parametrize("plugins", [("harness.plugin", "harness.report"), ("harness.report", "harness.plugin"),
                                     ("harness.plugin",)], ids=["core-first", "report-first", "core-only"])
def test_one_run_folder_with_the_report_id_whoever_asks_first(tmp_path: Path, plugins: tuple[str, ...]) -> None:
    (tmp_path / "test_x.py").write_text(SUITE)
    args = [a for p in plugins for a in ("-p", p)]
    proc = _pytest(tmp_path, *args, "-q", "--dw-backend", "local")
    assert proc.returncode == 0, proc.stdout
    reports = tmp_path / "reports"
    folders = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(folders) == 1 and RUN_ID.match(folders[0].name), folders
    run = folders[0]
    assert (reports / "latest").readlink() == Path(run.name)
    assert {"mine.txt", "env.json"} <= {p.name for p in run.iterdir()}  # the test's and the core plugin's files
    if "harness.report" in plugins:
        assert (run / "report.html").exists() and (run / "measurements.json").read_text().strip() == "[]"


def test_help_makes_no_run_folder(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "-p", "harness.plugin", "-p", "harness.report", "--help")
    assert proc.returncode == 0, proc.stdout
    assert "--dw-report-dir" in proc.stdout
    assert not (tmp_path / "reports").exists()
