"""Nothing outlives a run: a normal smoke run, and a run interrupted with SIGINT (Ctrl-C) mid-build.

The local backend marks every process it starts with DMDW_LOCAL_HOST=<run-id>/<host> (inherited by
children), and its run id ends with the pytest process's pid, so these tests can find any survivor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.backends.local_processes import MARK, marked_pids
from harness.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


def run_pids(pid: int) -> list[int]:
    """Live processes started by the local backend of the pytest process `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(MARK.encode() + b"="):
                run_id = item.split(b"=", 1)[1].decode().split("/")[0]
                owner = run_id.rsplit("-", 1)[-1].partition(".")[0]  # <run>-<pid>.<start time>
                if owner == str(pid) and int(entry) in marked_pids(run_id):
                    out.append(int(entry))
    return out


def _pytest(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _interrupt_when(proc: subprocess.Popen, ready, what: str, timeout: float) -> str:
    try:
        wait_until(lambda: ready() or proc.poll() is not None, timeout, what, interval=0.1)
        assert proc.poll() is None, f"pytest ended before {what}:\n{proc.stdout.read()[-3000:]}"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out


def test_sigint_with_dummy_daemons_leaves_nothing(tmp_path: Path) -> None:
    """The teardown machinery alone (no emulator): daemons, an escaped grandchild, Ctrl-C."""
    (tmp_path / "test_dummy.py").write_text(textwrap.dedent("""
        import time
        import pytest
        from harness.backends.base import BackendOptions
        from harness.backends.local import LocalBackend
        from harness.topology import Topology

        @pytest.fixture(scope="session")
        def backend(request):
            b = LocalBackend(BackendOptions(run_id="dummy"))
            request.addfinalizer(b.down)
            b.up(b.adapt(Topology()))
            for name, h in b.hosts.items():
                h.spawn("sleep 300", name=f"sleeper-{name}")
            b.hosts["host1"].run("nohup setsid sleep 302 >/dev/null 2>&1 &")
            return b

        def test_block(backend):
            time.sleep(120)
    """))
    proc = _pytest(["-p", "no:cacheprovider", "-q", "-s", "--rootdir", str(tmp_path), str(tmp_path)], ROOT)
    out = _interrupt_when(proc, lambda: len(run_pids(proc.pid)) >= 4, "four dummy daemons", 30)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert run_pids(proc.pid) == [], out


def test_smoke_run_passes_and_leaves_nothing() -> None:
    """`pytest suites/smoke` on the local backend passes, and no process of it survives."""
    proc = _pytest(["suites/smoke", "--dw-backend", "local", "-q", "-p", "no:randomly"], ROOT)
    try:
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-4000:]
    assert "3 passed" in out
    assert run_pids(proc.pid) == []


def test_sigint_during_smoke_build_leaves_nothing() -> None:
    """Ctrl-C while the seed procedure runs (daemons up, monitor not yet): teardown still runs."""
    proc = _pytest(["suites/smoke", "--dw-backend", "local", "-q"], ROOT)
    t0 = time.monotonic()
    out = _interrupt_when(proc, lambda: len(run_pids(proc.pid)) >= 3, "dmserver/dmwatcher daemons", 120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert run_pids(proc.pid) == [], out[-3000:]
    assert time.monotonic() - t0 < 120
