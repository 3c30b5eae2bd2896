"""The local backend with dummy commands: paths, commands, daemons, pids/signals, and a teardown that
leaves nothing behind (including processes that escaped into their own session)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends import make_backend
from harness.backends.base import BackendOptions
from harness.backends.local import LocalBackend, free_ports, port_free, release_ports, venv_bin
from harness.backends.local_processes import marked_pids
from harness.errors import CommandError, HarnessError
from harness.topology import Topology
from harness.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local() -> Iterator[tuple[LocalBackend, Topology]]:
    b = LocalBackend(BackendOptions(run_id="unit"))
    t = b.adapt(Topology())
    b.up(t)
    yield b, t
    b.down()
    assert b.live_pids() == []


def test_adapt_uses_loopback_addresses_and_free_distinct_ports() -> None:
    b = LocalBackend(BackendOptions(run_id="unit"))
    seed = Topology()
    t = b.adapt(seed)
    assert [(h.internal_ip, h.external_ip) for h in t.hosts.values()] == [
        ("127.0.56.201", "127.0.0.201"), ("127.0.56.202", "127.0.0.202"), ("127.0.56.203", None)]
    ports = [getattr(h, p) for h in t.db_hosts for p in ("port_num", "mal_inst_dw_port", "mal_port", "mal_dw_port")]
    assert len(set(ports)) == 8 and all(port_free(p) for p in ports)
    assert seed.primary.port_num == 5236  # the caller's model is untouched


def test_paths_are_rerooted_and_bin_is_the_venv(local: tuple[LocalBackend, Topology]) -> None:
    b, t = local
    h1, h2 = b.hosts["host1"], b.hosts["host2"]
    assert h1.path("/opt/dm8/data/memadb/dm.ini") == f"{b.root}/host1/opt/dm8/data/memadb/dm.ini"
    assert h1.path(h1.path("/etc/dm_svc.conf")) == h1.path("/etc/dm_svc.conf")  # idempotent
    assert h1.bin("dmserver") == f"{venv_bin()}/dmserver"
    assert h1.path("relative/x") == "relative/x"
    assert h1.path("/opt/dm8") != h2.path("/opt/dm8")
    assert Path(h1.path("/opt/dm8/data")).is_dir()


def test_run_env_files_and_errors(local: tuple[LocalBackend, Topology]) -> None:
    b, _ = local
    h = b.hosts["host2"]
    r = h.run("echo $LANGUAGE $DM_HOME; pwd; echo err >&2")
    assert r.ok and r.stdout.splitlines() == ["cn " + h.path("/opt/dm8"), str(b.root / "host2")]
    assert r.stderr == "err\n" and "err" in r.output
    h.write_file("/opt/dm8/data/x/y.ini", "A = 1\n")
    assert h.read_file("/opt/dm8/data/x/y.ini") == "A = 1\n" and h.exists("/opt/dm8/data/x/y.ini")
    assert not b.hosts["host1"].exists("/opt/dm8/data/x/y.ini")
    bad = h.run("echo out; exit 3", check=False)
    assert bad.rc == 3 and not bad.ok
    with pytest.raises(CommandError, match=r"command on host2 failed \(rc=3\)"):
        h.run("echo out; exit 3")
    slow = h.run("sleep 5", timeout=0.5, check=False)
    assert slow.rc == -9 and "timed out" in slow.stderr


def test_spawn_pids_signal_and_stop(local: tuple[LocalBackend, Topology]) -> None:
    b, _ = local
    h1, h2 = b.hosts["host1"], b.hosts["host2"]
    p = h1.spawn("python3 -c 'import time; print(\"up\", flush=True); time.sleep(60)' dummyd", name="dummyd")
    wait_until(lambda: "up" in p.log(), 10, "dummy daemon output")
    assert p.alive() and h1.pids("dummyd") == [p.pid] and h2.pids("dummyd") == []
    h1.signal("dummyd", signal.SIGSTOP)
    wait_until(lambda: open(f"/proc/{p.pid}/stat").read().split(") ")[1][0] == "T", 5, "stopped state")
    h1.signal(p.pid, signal.SIGCONT)
    assert p.stop(timeout=5) is not None and not p.alive()
    assert h1.pids("dummyd") == []


def test_down_kills_escaped_descendants() -> None:
    """A daemon that starts a child in a new session (as a watcher restarting its dmserver may) is still
    found by its environment mark and killed by down()."""
    b = LocalBackend(BackendOptions(run_id="unit"))
    b.up(b.adapt(Topology()))
    h = b.hosts["monitor"]
    h.spawn("setsid sleep 300 & sleep 300", name="parent")
    h.run("nohup setsid sleep 301 >/dev/null 2>&1 &")
    wait_until(lambda: len(b.live_pids()) >= 3, 10, "three marked processes")
    root = b.root
    b.down()
    assert b.live_pids() == [] and marked_pids(b.run_id) == []
    assert root is not None and not root.exists()


def test_down_outlasts_late_children_and_ignored_sigterm() -> None:
    """The race a loaded machine exposed: a process forked after down()'s first scan, or one that does
    not die of SIGTERM, must not outlive down(). Here a daemon keeps forking new-session children while
    down() runs and another ignores SIGTERM, so down() has to rescan and escalate, whatever the load."""
    b = LocalBackend(BackendOptions(run_id="unit"))
    b.up(b.adapt(Topology()))
    b.stop_grace = 0.5
    h = b.hosts["monitor"]
    forker = h.spawn("bash -c 'while :; do setsid sleep 302 & sleep 0.01; done'", name="forker")
    stubborn = h.spawn("bash -c \"trap '' TERM; sleep 303 & wait\"", name="stubborn")
    wait_until(lambda: len(b.live_pids()) >= 6, 10, "the forker's children and the stubborn daemon")
    b.down()
    assert marked_pids(b.run_id) == []
    assert forker.popen.returncode is not None and stubborn.popen.returncode == -signal.SIGKILL  # reaped


def test_interactive_session(local: tuple[LocalBackend, Topology]) -> None:
    b, _ = local
    child = b.hosts["monitor"].interactive("python3 -c 'x=input(\"name:\"); print(\"hello\", x)'")
    child.expect("name:")
    child.sendline("dmdba")
    child.expect("hello dmdba")
    child.close(force=True)


def test_free_ports_are_distinct() -> None:
    ports = free_ports(12)
    assert len(set(ports)) == 12 and all(20000 <= p <= 32000 for p in ports)
    release_ports(ports)


def test_a_claimed_port_is_not_handed_to_another_process_until_released() -> None:
    """Two local runs picking ports at once (xdist workers, CI under -n) never get the same one; a claim
    of a process that is gone (or whose pid now names another process) is taken over; a released port can be claimed again."""
    import random

    from harness.backends import local

    pick = ("import random; from harness.backends.local import free_ports; "
            "print(free_ports(1, rng=random.Random(7))[0])")

    def other_process() -> int:
        return int(subprocess.run([sys.executable, "-c", pick], capture_output=True, text=True, check=True,
                                  cwd=ROOT).stdout)

    mine = free_ports(1, rng=random.Random(7))
    theirs = other_process()  # the same random sequence: its first pick is the port this process holds
    assert theirs != mine[0], "another process got the port this one claimed"
    assert local._claim(theirs), "the other process has exited: its claim is taken over"
    release_ports([theirs, *mine])
    assert other_process() == mine[0], "a released port is free to claim again"
    recycled = local.PORT_CLAIMS / str(mine[0])  # a claim naming this pid with another start time
    recycled.write_text(f"{socket.gethostname()}:{os.getpid()}:1")
    assert local._claim(mine[0]), "a claim whose pid was reused by another process is taken over"
    release_ports(mine)
    assert not recycled.exists()


def test_backend_factory_checks_names_and_targets() -> None:
    from harness.errors import UsageError

    assert isinstance(make_backend("local", BackendOptions()), LocalBackend)
    with pytest.raises(UsageError, match="--dw-backend must be one of"):
        make_backend("k8s", BackendOptions())
    with pytest.raises(UsageError, match="local runs the emulator only"):
        make_backend("local", BackendOptions(target="dm8"))
    with pytest.raises(HarnessError, match="emulator only"):
        LocalBackend(BackendOptions(target="dm8"))


def test_nothing_of_this_process_is_left() -> None:
    """Every test above ran its teardown: no process marked with this pytest process's run id remains."""
    assert marked_pids(f"unit-{os.getpid()}") == []


def test_a_later_run_cleans_what_a_killed_run_left(tmp_path: Path) -> None:
    """A run killed with SIGKILL cannot tear down; the next local run kills its marked leftovers."""
    import subprocess
    import sys

    from harness.backends.local_processes import cleanup_stale

    script = tmp_path / "killed_run.py"
    script.write_text(
        "import sys, time\n"
        "from harness.backends.base import BackendOptions\n"
        "from harness.backends.local import LocalBackend\n"
        "from harness.topology import Topology\n"
        "b = LocalBackend(BackendOptions(run_id='killed'))\n"
        "b.up(b.adapt(Topology()))\n"
        "b.hosts['host1'].spawn('sleep 300', name='orphan')\n"
        "print(b.run_id, flush=True)\n"
        "time.sleep(300)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    wait_until(lambda: marked_pids(run_id), 10, "the orphan daemon")
    proc.kill()
    proc.wait()
    assert marked_pids(run_id)  # the SIGKILLed run left its daemon behind
    assert set(marked_pids(run_id)) == set(cleanup_stale(prefix="killed-"))
    wait_until(lambda: marked_pids(run_id) == [], 5, "the orphan to be gone")


def test_a_run_whose_pid_was_recycled_counts_as_gone() -> None:
    """A local run id ends with its process's pid.start-time: a later process with the same pid is not
    taken for the run's owner, so the run's leftovers are swept."""
    from harness.backends.local_processes import _owner_alive
    from harness.backends.owner import process_tag

    assert _owner_alive(f"unit-{process_tag()}")
    assert not _owner_alive(f"unit-{os.getpid()}.1"), "same pid, another start time: another process"
    assert _owner_alive(f"unit-{os.getpid()}")  # an id with a bare pid: judged by the pid
    assert LocalBackend(BackendOptions(run_id="unit")).run_id == f"unit-{process_tag()}"
