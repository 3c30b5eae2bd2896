"""The issue's 'done' line for the docker backend, through the real plugin: `pytest suites/smoke
--dw-backend docker` passes with the emulator, and no container, network or process outlives the run,
including when the run is interrupted with Ctrl-C (SIGINT) while the group is being built."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.backends import docker as dk
from harness.images import REPO
from harness.wait import wait_until


def owned_by(client: Any, pid: int) -> list[Any]:
    """Labelled containers and networks whose owner is the process pid (whatever its run id)."""
    prefix = dk.owner_label(pid).rsplit(":", 1)[0] + ":"
    objs = [c for c in client.containers.list(all=True, filters={"label": dk.LABEL_RUN})
            if c.labels.get(dk.LABEL_OWNER, "").startswith(prefix)]
    objs += [n for n in client.networks.list(filters={"label": dk.LABEL_RUN})
             if (n.attrs.get("Labels") or {}).get(dk.LABEL_OWNER, "").startswith(prefix)]
    return objs


def host_processes_naming(fragment: str) -> list[str]:
    """Command lines of this machine's processes that mention fragment (docker exec clients ...)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if fragment in cmd:
                out.append(cmd)
    return out


def smoke(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "smoke.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "suites/smoke", "--dw-backend", "docker", "-q",
                                 "-p", "no:cacheprovider"], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    return proc, log


def test_smoke_suite_passes_on_docker_and_leaves_nothing(tmp_path: Path, client: Any, emulator_image: str) -> None:
    proc, log = smoke(tmp_path)
    try:
        rc = proc.wait(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text(errors="replace")
    assert rc == 0, out[-3000:]
    assert " passed" in out and "failed" not in out
    assert owned_by(client, proc.pid) == []
    run_id = re.search(r"reports/([^/\s]+)/junit\.xml", out)
    assert run_id, out[-2000:]
    assert host_processes_naming(f"dmdw-{run_id.group(1)}-") == [], "docker exec clients outlived the run"


def test_ctrl_c_while_the_group_builds_leaves_nothing(tmp_path: Path, client: Any, emulator_image: str) -> None:
    proc, log = smoke(tmp_path)
    try:
        containers = wait_until(lambda: [o for o in owned_by(client, proc.pid) if hasattr(o, "exec_run")], 300,
                                "the smoke run's containers", ok=lambda cs: len(cs) == 3 or proc.poll() is not None)
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        host1 = next(c for c in containers if c.labels.get("dmdw.host") == "host1")
        # mid-run: the seed procedure has started DM processes on host1
        wait_until(lambda: host1.exec_run(["pgrep", "-f", "dmserver|dminit|dmrman"]).exit_code == 0, 120,
                   "a DM process on host1 (the procedure under way)")
        run_name = host1.name.rsplit("-host1", 1)[0]
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text(errors="replace")
    assert rc == 2, out[-3000:]  # pytest: interrupted
    assert owned_by(client, proc.pid) == [], "containers/networks outlived Ctrl-C"
    assert host_processes_naming(run_name) == [], "docker exec clients outlived Ctrl-C"
