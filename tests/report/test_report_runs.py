"""Runs that end badly still leave a report: failed tests, setup errors, Ctrl-C, bad sign-off markers."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from reportdemo import latest_run, pytest_cmd, pytest_env, run_demo, write_demo


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(pytest_cmd(folder, *args), cwd=folder, env=pytest_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)


def test_failed_run_writes_its_report(tmp_path: Path) -> None:
    _write(tmp_path, "test_bad.py", '''
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("cannot reach host1 with SYSDBA/Mema_1234@127.0.0.1:5236")

@pytest.mark.signoff("shutdown-order")
def test_needs_broken(broken):
    pass

@pytest.mark.signoff("replication")
def test_wrong():
    password = "Mema_1234"
    assert password == "x"
''')
    proc = _run(tmp_path, "-q")
    assert proc.returncode == 1, proc.stdout
    run = latest_run(tmp_path)
    html = (run / "report.html").read_text()
    junit = (run / "junit.xml").read_text()
    assert 'id="dw-signoff-table"' in html
    assert 'Run verdict: <span class="dw-verdict dw-fail">FAIL</span>' in html
    assert '<tr data-item="replication">' in html and "dw-fail\">FAIL</td>" in html
    assert "error" in html  # the setup error counts against shutdown order
    assert "Mema_1234" not in html and "Mema_1234" not in junit
    assert "cannot reach host1" in junit


def test_interrupted_run_writes_what_it_has(tmp_path: Path) -> None:
    write_demo(tmp_path)
    marker = tmp_path / "started"
    proc = subprocess.Popen(pytest_cmd(tmp_path, "-q"), cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=pytest_env(DEMO_SLOW=str(marker)),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the slow demo test never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, out  # pytest's INTERRUPTED
    run = latest_run(tmp_path)
    html = (run / "report.html").read_text()
    assert "run interrupted: results so far" in html
    assert '<tr data-item="chaos">' in html
    assert 'dw-incomplete">INCOMPLETE</td>' in html  # the chaos test never finished
    assert 'data-item="takeover"><td>Takeover</td><td>' in html and "dw-pass\">PASS</td>" in html
    assert (run / "junit.xml").exists()
    assert "waiting for SIGINT" in (run / "progress.log").read_text()


def test_unknown_signoff_item_is_one_clear_line(tmp_path: Path) -> None:
    _write(tmp_path, "test_typo.py", '''
import pytest

@pytest.mark.signoff("swichover")
def test_x():
    pass
''')
    proc = _run(tmp_path, "-q")
    assert proc.returncode == 4, proc.stdout
    assert "unknown sign-off item 'swichover'" in proc.stdout
    assert "known: build, replication, switchover" in proc.stdout
    assert "Traceback" not in proc.stdout


def test_bad_report_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _write(tmp_path, "test_ok.py", "def test_ok():\n    pass\n")
    cmd = pytest_cmd(tmp_path, "-q")
    cmd[cmd.index("--dw-report-dir") + 1] = str(blocker / "reports")
    proc = subprocess.run(cmd, cwd=tmp_path,
                          env=pytest_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60)
    assert proc.returncode == 4, proc.stdout
    assert "cannot create the report folder" in proc.stdout and "fix --dw-report-dir" in proc.stdout
    assert "Traceback" not in proc.stdout


def test_latest_points_at_the_newest_run(tmp_path: Path) -> None:
    first = run_demo(tmp_path, "-q", "-k", "build")
    assert first.returncode == 0, first.stdout
    one = latest_run(tmp_path)
    second = run_demo(tmp_path, "-q", "-k", "build")
    assert second.returncode == 0, second.stdout
    two = latest_run(tmp_path)
    assert one != two and one.exists() and two.exists()
    assert (tmp_path / "reports" / "latest").readlink() == Path(two.name)  # relative link


def test_user_given_html_and_junit_paths_are_kept(tmp_path: Path) -> None:
    _write(tmp_path, "test_ok.py", "def test_ok():\n    pass\n")
    proc = _run(tmp_path, "-q", "--html", str(tmp_path / "mine.html"), "--junitxml", str(tmp_path / "mine.xml"))
    assert proc.returncode == 0, proc.stdout
    assert (tmp_path / "mine.xml").exists()
    assert 'id="dw-signoff-table"' in (tmp_path / "mine.html").read_text()
    assert not (latest_run(tmp_path) / "report.html").exists()


def test_keep_runs_prunes_only_older_run_folders(tmp_path: Path) -> None:
    base = tmp_path / "reports"
    old = ["20261101T000000Z-aaaaaa", "20261102T000000Z-bbbbbb", "20261103T000000Z-cccccc"]
    for name in old:
        (base / name).mkdir(parents=True)
    (base / "signed-2026-11").mkdir()  # a DBA's own folder: never touched
    _write(tmp_path, "test_ok.py", "def test_ok():\n    pass\n")
    proc = _run(tmp_path, "-q", "--dw-keep-runs", "2")
    assert proc.returncode == 0, proc.stdout
    left = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == [old[-1], latest_run(tmp_path).name, "signed-2026-11"], left


def test_keep_runs_bad_value_is_one_clear_line(tmp_path: Path) -> None:
    _write(tmp_path, "test_ok.py", "def test_ok():\n    pass\n")
    proc = _run(tmp_path, "-q", "--dw-keep-runs", "none")
    assert proc.returncode == 4, proc.stdout
    assert "--dw-keep-runs must be a whole number" in proc.stdout and "Traceback" not in proc.stdout
