"""`pytest -n 2` on the local backend: each worker builds its own group in a sub-folder of one run folder,
the controller writes one report, and nothing survives a normal end, a killed worker or Ctrl-C.

Two small suite folders (suites/smoke, suites/replication in a temp dir) use the real `dw_group` fixture,
so each xdist worker brings up a whole emulator group with run id <controller's run id>-gwN.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import archive
from harness.backends.local_processes import leftovers
from harness.report import RUN_ID
from harness.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]

ALPHA = """
    def test_alpha(dw_group, report):
        report.measure("alpha_builds", dw_group.builds, "builds")
        assert dw_group.dw.healthy()
"""
BETA = """
    def test_beta(dw_group, report):
        report.measure("beta_builds", dw_group.builds, "builds")
        assert dw_group.dw.healthy()
"""


def _project(tmp_path: Path, alpha: str, beta: str) -> Path:
    for area, body in (("smoke", alpha), ("replication", beta)):
        folder = tmp_path / "suites" / area
        folder.mkdir(parents=True)
        (folder / f"test_{area}.py").write_text(textwrap.dedent(body))
    return tmp_path


def _pytest(project: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pytest", "-p", "harness.plugin", "-p", "harness.report", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--rootdir", str(project), "-c", os.devnull, "--dw-backend", "local",
           "--dw-report-dir", str(project / "reports"), "-n", "2", "-q", str(project / "suites"), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out


def _run_folder(project: Path) -> Path:
    runs = [p for p in (project / "reports").iterdir() if RUN_ID.match(p.name)]
    assert len(runs) == 1, runs
    return runs[0]


def _nothing_left(run: Path) -> bool:
    return not leftovers(run.name + "-")


def test_two_workers_two_groups_one_report(tmp_path: Path) -> None:
    project = _project(tmp_path, ALPHA, BETA)
    out = _finish(_pytest(project), 300)
    assert "2 passed" in out, out[-4000:]
    run = _run_folder(project)
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["gw0", "gw1"]
    for worker in ("gw0", "gw1"):
        assert archive.read_lines(run / worker / "steps.jsonl"), f"{worker} built its own group"
    env = json.loads((run / "env.json").read_text())
    assert sorted(env["workers"]) == ["gw0", "gw1"]
    assert env["builds"] == 2 and env["dm_build"], env
    html = (run / "report.html").read_text()
    assert html.count('data-item="build"') == 1, "one sign-off table"
    for worker in ("gw0", "gw1"):
        assert f'id="dw-step-{worker}-1"' in html and f"#dw-step-{worker}-1" in html, "each worker's steps, linked"
    assert 'data-item="replication"><td>Replication' in html
    assert html.count("dw-verdict dw-pass") >= 2, "both suites' items signed off from the workers' reports"
    junit = (run / "junit.xml").read_text()
    assert 'name="test_alpha"' in junit and 'name="test_beta"' in junit
    names = sorted(m["name"] for m in json.loads((run / "measurements.json").read_text()))
    assert names == ["alpha_builds", "beta_builds"]
    assert _nothing_left(run)


def test_two_runs_at_once_from_two_checkouts_leave_nothing(tmp_path: Path) -> None:
    """Two `-n 2` runs started together from two checkouts (each its own rootdir and reports), three groups
    up at once; in the first a worker is killed with kill -9 mid-test (the second has one test, one worker). Each run writes its report and no
    process of either outlives it."""
    dies = """
        import os, signal

        def test_alpha_dies(dw_group):
            assert dw_group.daemons_missing() == []
            os.kill(os.getpid(), signal.SIGKILL)
    """
    first, second = _project(tmp_path / "one", dies, BETA), _project(tmp_path / "two", ALPHA, "")
    procs = [_pytest(first), _pytest(second)]
    out_first, out_second = (_finish(proc, 400) for proc in procs)
    assert "crashed" in out_first and "1 passed" in out_first, out_first[-3000:]
    assert "maximum crashed workers" not in out_first, "the crashed test is not run again on new workers"
    assert "1 passed" in out_second, out_second[-3000:]
    runs = [_run_folder(first), _run_folder(second)]
    assert runs[0].name != runs[1].name
    junit = (runs[0] / "junit.xml").read_text()
    assert 'name="test_alpha_dies"' in junit and "crashed while running" in junit
    for run in runs:
        assert 'data-item="build"' in (run / "report.html").read_text()
        assert _nothing_left(run), leftovers(run.name + "-")


def test_ctrl_c_to_the_controller_leaves_nothing_and_writes_the_report(tmp_path: Path) -> None:
    block = """
        import time

        def test_{name}(dw_group):
            time.sleep(300)
    """
    project = _project(tmp_path, block.format(name="alpha"), block.format(name="beta"))
    proc = _pytest(project)
    t0 = time.monotonic()
    try:
        def both_groups_up() -> bool:
            runs = list((project / "reports").glob("2*")) if (project / "reports").exists() else []
            marks = {m.split(":", 1)[1].split("/")[0] for m in leftovers(runs[0].name)} if runs else set()
            return len(marks) == 2 and all(
                len(leftovers(f"{m}/")) >= 2 for m in marks)
        wait_until(lambda: both_groups_up() or proc.poll() is not None, 240, "both workers' groups", interval=0.5)
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(3)
        proc.send_signal(signal.SIGINT)  # the controller only, as `kill -INT`
        out = _finish(proc, 150)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = _run_folder(project)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert (run / "report.html").exists() and (run / "junit.xml").exists(), out[-3000:]
    assert _nothing_left(run), leftovers(run.name + "-")
    assert time.monotonic() - t0 < 400


ORDERED = """
    import os, time, pytest

    def _log(kind):
        time.sleep(0.3)  # long enough that every worker asks for work
        with open({log!r}, "a") as f:
            f.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {tag}:{{kind}}\\n")

    @pytest.mark.dw_auto
    def test_auto_{tag}(): _log("auto")

    @pytest.mark.parametrize("i", range(3))
    def test_plain_{tag}(i): _log("plain")

    @pytest.mark.destructive
    def test_breaks_{tag}(): _log("breaks")

    @pytest.mark.destructive
    @pytest.mark.dw_auto
    def test_breaks_auto_{tag}(): _log("breaks-auto")
"""
IN_ORDER = ["breaks", "breaks-auto", "plain", "plain", "plain", "auto"]  # destructive first, dw_auto last in each


def _ran(log: Path) -> dict[str, list[tuple[str, str]]]:
    """worker -> [(tag, kind)] in the order it ran them."""
    out: dict[str, list[tuple[str, str]]] = {}
    for worker, what in (line.split() for line in log.read_text().splitlines()):
        out.setdefault(worker, []).append(tuple(what.split(":")))  # type: ignore[arg-type]
    return out


def test_spread_by_suite_keeps_each_suite_on_one_worker_in_its_order(tmp_path: Path) -> None:
    """`-n 2 --dw-spread suite` distributes by suite folder: a suite's tests share one worker, in its order."""
    log = tmp_path / "order.log"
    project = _project(tmp_path, ORDERED.format(log=str(log), tag="smoke"), ORDERED.format(log=str(log), tag="replication"))
    out = _finish(_pytest(project, "--dw-spread", "suite"), 120)
    assert "12 passed" in out, out[-3000:]
    ran = _ran(log)
    for area in ("smoke", "replication"):
        workers = [w for w, done in ran.items() if any(tag == area for tag, _ in done)]
        assert len(workers) == 1, f"{area} ran on one worker: {ran}"
        assert [k for tag, k in ran[workers[0]] if tag == area] == IN_ORDER


def test_n_spreads_single_tests_and_each_worker_keeps_the_order(tmp_path: Path) -> None:
    """`-n 2` (by test, the default; also `make failover ARGS="-n 2"` on one suite): both workers get tests
    of both suites; on each, destructive tests come first and dw_auto tests last."""
    log = tmp_path / "order.log"
    project = _project(tmp_path, ORDERED.format(log=str(log), tag="smoke"), ORDERED.format(log=str(log), tag="replication"))
    out = _finish(_pytest(project), 120)
    assert "12 passed" in out, out[-3000:]
    ran = _ran(log)
    assert sorted(ran) == ["gw0", "gw1"], ran
    for worker, done in ran.items():
        kinds = [k for _, k in done]
        assert kinds == sorted(kinds, key=IN_ORDER.index), f"{worker} ran {kinds}"


TIMED = """
    import os, time, pytest

    @pytest.mark.parametrize("seconds", [0.3, 0.6, 1.0, 1.5])
    def test_sleeps_{tag}(seconds):
        with open({log!r}, "a") as f:
            f.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {{seconds}}\\n")
        time.sleep(seconds)
"""


def test_n_hands_out_the_longest_tests_first_by_the_previous_runs_times(tmp_path: Path) -> None:
    """The first `-n 2` run records each test's time in <report dir>/durations.json; the next one runs,
    on each worker, the longest tests first (within an ordering class), so no worker is left with a long
    test at the end. Collected order is shortest first here, so only the recorded times can reorder it."""
    log = tmp_path / "order.log"
    project = _project(tmp_path, TIMED.format(log=str(log), tag="smoke"), "def test_other():\n    pass\n")
    out = _finish(_pytest(project), 120)
    assert "5 passed" in out, out[-3000:]
    known = json.loads((project / "reports" / "durations.json").read_text())
    sleeps = {n: v for n, v in known.items() if "test_sleeps" in n}
    assert len(sleeps) == 4 and all(v >= float(n.split("[")[1].rstrip("]")) for n, v in sleeps.items()), known
    log.unlink()
    out = _finish(_pytest(project), 120)
    assert "5 passed" in out, out[-3000:]
    ran: dict[str, list[float]] = {}
    for worker, seconds in (line.split() for line in log.read_text().splitlines()):
        ran.setdefault(worker, []).append(float(seconds))
    assert sorted(s for done in ran.values() for s in done) == [0.3, 0.6, 1.0, 1.5], ran
    for worker, done in ran.items():
        assert done == sorted(done, reverse=True), f"{worker} ran {done}: not the longest first"
