"""scripts/nightly's exit status and publishing, on fake run folders (--no-run: compare and publish only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fakeruns import RUNS, fake_run
from reportdemo import REPO, pytest_env

SCRIPT = REPO / "scripts" / "nightly"


def _nightly(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], cwd=REPO, env=pytest_env(), text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)


def test_a_changed_verdict_fails_the_night_and_is_published(tmp_path: Path) -> None:
    reports, pub = tmp_path / "reports", tmp_path / "pub"
    fake_run(reports, RUNS[0], "b1", takeover_ok=True, outage=6.0, lost=0, takeover_s=7.0, lag=900)
    fake_run(reports, RUNS[1], "b2", takeover_ok=False, outage=16.0, lost=2, takeover_s=20.0, lag=900)
    proc = _nightly("--no-run", "--reports", str(reports), "--publish", str(pub))
    assert proc.returncode == 1, proc.stdout
    assert "a verdict changed since the previous comparable run" in proc.stdout
    assert (pub / "trend.html").is_file() and (pub / "runs" / RUNS[1] / "junit.xml").is_file()
    assert (pub / "latest").resolve() == (pub / "runs" / RUNS[1]).resolve()


def test_a_fixed_test_is_a_changed_verdict_too(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    fake_run(reports, RUNS[0], "b1", takeover_ok=False, outage=6.0, lost=0, takeover_s=7.0, lag=900)
    fake_run(reports, RUNS[1], "b2", takeover_ok=True, outage=6.0, lost=0, takeover_s=7.0, lag=900)
    assert _nightly("--no-run", "--reports", str(reports)).returncode == 1


def test_unchanged_verdicts_pass_the_night(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    fake_run(reports, RUNS[0], "b1", takeover_ok=True, outage=6.0, lost=0, takeover_s=7.0, lag=900)
    fake_run(reports, RUNS[1], "b2", takeover_ok=True, outage=9.0, lost=0, takeover_s=8.0, lag=990)
    proc = _nightly("--no-run", "--reports", str(reports))
    assert proc.returncode == 0, proc.stdout
    assert "verdicts that changed: 0" in proc.stdout and (reports / "trend.html").is_file()


def test_bad_arguments_are_one_line_and_status_two(tmp_path: Path) -> None:
    for args, words in ((["--workers", "many"], "--workers must be a whole number"),
                        ([], "give the new build's installer: --dm8-installer"),
                        (["--dm8-installer", str(tmp_path / "nope.bin")], "no such file"),
                        (["--bogus"], "unknown argument '--bogus'")):
        proc = _nightly(*args)
        assert proc.returncode == 2 and words in proc.stdout, (args, proc.stdout)
        assert len(proc.stdout.strip().splitlines()) == 1, proc.stdout


def test_no_run_folder_is_status_three(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    proc = _nightly("--no-run", "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 3 and "no run folder" in proc.stdout, proc.stdout
