"""The local backend's processes, found by their mark through /proc: scan, reap, and sweep what dead runs left.

Every process the local backend starts carries DMDW_LOCAL_HOST=<run-id>/<host> in its environment (and
DMDW_LOCAL_ROOT, the run's root directory); the emulator's children inherit both. Whatever process group
or session a process ended up in, a scan of /proc finds it by that mark: a host's pids, the run's
teardown (reap_marked), and the sweep of processes left by runs whose pytest process died.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.backends.owner import process_alive

MARK = "DMDW_LOCAL_HOST"
ROOT_VAR = "DMDW_LOCAL_ROOT"  # the run's root directory (a KEEP file there protects a kept topology)


def _proc_bytes(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def _proc_env(pid: int, key: str) -> str | None:
    for item in (_proc_bytes(pid, "environ") or b"").split(b"\0"):
        if item.startswith(key.encode() + b"="):
            return item.split(b"=", 1)[1].decode(errors="replace")
    return None


def _proc_env_mark(pid: int) -> str | None:
    return _proc_env(pid, MARK)


def proc_cmdline(pid: int) -> str:
    """The command line of a process ("" when it is gone)."""
    return (_proc_bytes(pid, "cmdline") or b"").replace(b"\0", b" ").decode(errors="replace").strip()


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (state first); [] if the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return not fields or fields[0] in ("Z", "X")


def _in_exec(pid: int) -> bool:
    """True while a process is inside execve: between mapping the new program and laying out its
    arguments its environ and cmdline read empty, so its mark cannot be seen for that moment (a loaded
    machine stretches it). Kernel threads (PF_KTHREAD) read empty always and do not count."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X") or int(fields[6]) & 0x00200000:
        return False
    return _proc_bytes(pid, "environ") == b"" and _proc_bytes(pid, "cmdline") == b""


def marked_pids(prefix: str, exec_wait: float = 1.0) -> list[int]:
    """Live pids whose DMDW_LOCAL_HOST mark starts with prefix (a run id, or run-id/host).

    A process caught inside execve is read again until its mark shows (up to exec_wait seconds), so a
    scan never misses a process that merely changed program at the wrong moment."""
    me = os.getpid()

    def matches(pid: int) -> bool:
        mark = _proc_env_mark(pid)
        return mark is not None and (mark == prefix or mark.startswith(prefix + "/")) and not _is_zombie(pid)

    out, pending = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        if matches(pid):
            out.append(pid)
        elif _in_exec(pid):
            pending.append(pid)
    deadline = time.monotonic() + exec_wait
    while pending and time.monotonic() < deadline:
        time.sleep(0.005)
        out += [pid for pid in pending if matches(pid)]
        pending = [pid for pid in pending if pid not in out and _in_exec(pid)]
    return out


def kill_pids(pids: list[int], sig: int) -> None:
    """Signal each pid, ignoring ones already gone."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reap_marked(prefix: str, *, grace: float, deadline: float,
                reap: Callable[[], None] = lambda: None, pause: float = 0.05) -> list[int]:
    """Signal the processes marked with prefix until two scans in a row find none, and return the pids
    still alive at `deadline` (empty when all are gone). Within `grace` seconds each process gets
    SIGTERM once, and again a second later if it still runs (a shell may swallow one just before exec);
    after it, SIGKILL every round. `reap` collects our own children between rounds."""
    start = time.monotonic()
    termed: dict[int, float] = {}
    empty = 0
    while True:
        reap()
        left = marked_pids(prefix)
        now = time.monotonic()
        if not left:
            empty += 1
            if empty == 2:
                return []
        elif now - start >= deadline:
            return left
        elif now - start >= grace:
            empty = 0
            kill_pids(left, signal.SIGKILL)
        else:
            empty = 0
            due = [pid for pid in left if now - termed.get(pid, -1e9) >= 1.0]
            kill_pids(due, signal.SIGTERM)
            termed.update(dict.fromkeys(due, now))
        time.sleep(pause)


def _owner_alive(run_id: str) -> bool:
    """A run id ends with its pytest process's pid.start-time (owner.process_tag); False when that process
    is gone, also when its pid now names another process. An id ending in a bare pid is judged by the pid."""
    pid, _, start = run_id.rsplit("-", 1)[-1].partition(".")
    if not pid.isdigit():
        return True
    return process_alive(pid, start) if start else Path(f"/proc/{pid}").exists()


def cleanup_stale(prefix: str = "") -> list[int]:
    """Kill processes left by local runs whose pytest process died without teardown (e.g. SIGKILL);
    returns their pids. Live runs (this or a parallel session) and runs kept with --keep-topology
    (a KEEP file in their root) are left alone; `prefix` limits the sweep to run ids starting with it."""
    stale = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        mark = _proc_env_mark(pid)
        if not mark or not mark.startswith(prefix) or _owner_alive(mark.split("/", 1)[0]) or _is_zombie(pid):
            continue
        root = _proc_env(pid, ROOT_VAR)
        if root and (Path(root) / "KEEP").exists():
            continue
        stale.append(pid)
    kill_pids(stale, signal.SIGKILL)
    return stale


def _marked(prefix: str) -> list[tuple[int, str]]:
    """(pid, mark) of live processes (not this one) whose DMDW_LOCAL_HOST mark starts with prefix."""
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            mark = _proc_env_mark(int(entry))
            if mark is not None and mark.startswith(prefix) and not _is_zombie(int(entry)):
                out.append((int(entry), mark))
    return out


def leftovers(prefix: str) -> list[str]:
    """Processes of local runs whose id starts with prefix (an xdist controller's workers), as "pid:mark"."""
    return [f"{pid}:{mark}" for pid, mark in _marked(prefix)]


def sweep(prefix: str, *, force: bool = False) -> list[int]:
    """cleanup_stale() for run ids starting with prefix; with force, every such process (kept ones too).
    Once none is left, their temp roots go as well (those without a KEEP file). Returns the pids killed."""
    killed = cleanup_stale(prefix)
    if force:
        rest = [pid for pid, _mark in _marked(prefix)]
        kill_pids(rest, signal.SIGKILL)
        killed += rest
    if not _marked(prefix):
        for root in Path(tempfile.gettempdir()).glob(f"dmdw-{prefix}*"):
            if root.is_dir() and not (root / "KEEP").exists():
                shutil.rmtree(root, ignore_errors=True)
    return killed
