"""Nothing outlives a run: Ctrl-C (SIGINT) of a pytest run mid-test, and SIGKILL followed by the next
run's cleanup_stale(). The run under test is a real pytest subprocess holding a docker topology."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.backends import docker as dk
from harness.images import REPO

RUN_FILE = '''
import time
import pytest
from harness.backends.base import BackendOptions
from harness.backends.docker import DockerBackend
from harness.topology import Topology

@pytest.fixture(scope="session")
def topo():
    b = DockerBackend(BackendOptions(run_id="test-interrupt"))
    try:
        hosts = b.up(Topology())
        hosts["host1"].spawn("sleep 1000", name="daemon")
        print("\\nUP", b.run_id, flush=True)
        yield b
    finally:
        b.down()

def test_long(topo):
    time.sleep(300)
'''


def start_run(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A pytest subprocess with a docker topology up; returns it and its run id once it is up."""
    (tmp_path / "test_held_topology.py").write_text(RUN_FILE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "--confcutdir", str(tmp_path),
         "--rootdir", str(tmp_path), str(tmp_path / "test_held_topology.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    proc.output = []  # type: ignore[attr-defined]

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            proc.output.append(line)  # type: ignore[attr-defined]
            lines.put(line)

    proc.pump = threading.Thread(target=pump, daemon=True)  # type: ignore[attr-defined]
    proc.pump.start()  # type: ignore[attr-defined]
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith("UP "):
            return proc, line.split()[1]
    proc.kill()
    proc.wait()
    pytest.fail("the held run never came up:\n" + "".join(seen[-30:]))


def test_ctrl_c_mid_run_leaves_nothing(tmp_path: Path, client: Any, emulator_image: str) -> None:
    proc, run_id = start_run(tmp_path)
    try:
        assert len(dk.labelled(client, run_id)) == 5
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
        proc.pump.join(10)  # type: ignore[attr-defined]  # ends at the pipe's EOF
        out = "".join(proc.output)  # type: ignore[attr-defined]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, out  # pytest's "interrupted"
    assert "KeyboardInterrupt" in out
    assert dk.labelled(client, run_id) == [], "containers/networks outlived a Ctrl-C"


def test_sigkill_leftovers_are_removed_by_the_next_run(tmp_path: Path, client: Any, emulator_image: str) -> None:
    proc, run_id = start_run(tmp_path)
    proc.kill()
    proc.wait()
    assert len(dk.labelled(client, run_id)) == 5  # a killed run cannot clean up after itself ...
    dk.cleanup_stale(client)  # ... the next run (DockerBackend.adapt) does
    assert dk.labelled(client, run_id) == []
