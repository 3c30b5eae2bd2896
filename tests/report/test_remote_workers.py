"""A run spread over two "machines": one local xdist worker and one reached over ssh (an sshd of the test's
own on 127.0.0.2), each with its own group on the local backend; the controller writes one report.

Runs suites/smoke: serialize it with the suites (`flock /tmp/dmdw-suites.lock pytest tests/report/...`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from loopsshd import ensure_openssh_server, loop_sshd
from reportdemo import REPO, pytest_env

from harness import archive


def remote_run_cmd(python: str, reports: Path, sshd_alias: str, ssh_config: Path, cache: Path,
                   *tests: str) -> list[str]:
    """The controller's command line: a popen worker and an ssh worker; the checkout is rsynced to the ssh
    worker's cache folder (xdist's model), test paths are absolute (xdist rewrites them per rsync root)."""
    return [python, "-m", "pytest", *tests, "--dw-backend", "local", f"--dw-report-dir={reports}",
            "-v", "-p", "no:randomly", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
            "--dist", "load", f"--rsyncdir={REPO}", "--rsyncignore=reports",
            "--tx", f"popen//python={python}",
            "--tx", f"ssh={sshd_alias}//ssh_config={ssh_config}//python={python}//chdir={cache}"]


def test_one_local_and_one_ssh_worker_run_smoke_into_one_report(tmp_path: Path) -> None:
    why = ensure_openssh_server()
    if why:
        pytest.skip(why)
    reports = tmp_path / "reports"
    with loop_sshd(tmp_path / "sshd") as sshd:
        cmd = remote_run_cmd(sys.executable, reports, sshd.alias, sshd.ssh_config, tmp_path / "cache",
                             str(REPO / "suites" / "smoke"))
        proc = subprocess.run(cmd, cwd=REPO, env=pytest_env(), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=900)
    with pytest.raises(ProcessLookupError):
        os.kill(sshd.pid, 0)  # the sshd is gone
    assert proc.returncode == 0, proc.stdout[-4000:]
    run = (reports / "latest").resolve()
    cases = list(ET.parse(run / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == 3 and not any(len(c) for c in cases), "one junit with every smoke test, all passed"
    env = json.loads((run / "env.json").read_text())
    assert set(env["workers"]) == {"gw0", "gw1"}, "both workers brought up a group and reported it"
    ssh_folder = run / "gw1"
    steps = archive.read_lines(ssh_folder / "steps.jsonl")
    assert steps and (ssh_folder / "env.json").is_file(), "the ssh worker's folder came back to the controller"
    assert not list(Path("/tmp").glob(f"dmdw-worker-{run.name}")), "the worker's own copy is removed"
    page = (run / "report.html").read_text()
    assert 'id="dw-signoff-table"' in page and "[gw1]" in proc.stdout
