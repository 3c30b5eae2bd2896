"""The pieces that keep parallel runs apart without a Docker engine: the subnet lock across processes, the
docker sweep of an xdist controller's workers (fake client), and the suite group of a test."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from harness.backends import docker
from harness.scheduling import spread_by_test, suite_of


def _hold(path: str, ready: Any, release: Any) -> None:
    docker.SUBNET_LOCK_PATH = Path(path)
    with docker.subnet_lock():
        ready.set()
        release.wait(20)


def test_subnet_lock_excludes_another_process(tmp_path: Path, monkeypatch: Any) -> None:
    lock = tmp_path / "subnets.lock"
    monkeypatch.setattr(docker, "SUBNET_LOCK_PATH", lock)
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(lock), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        t0 = time.monotonic()
        ctx.Process(target=lambda: (time.sleep(1.0), release.set())).start()
        with docker.subnet_lock():
            waited = time.monotonic() - t0
        assert waited >= 0.9, f"got the lock after {waited:.2f}s while another process held it"
    finally:
        release.set()
        holder.join(10)


class _Obj:
    def __init__(self, name: str, labels: dict[str, str], removed: list[str]) -> None:
        self.name, self.labels, self.attrs, self._removed = name, labels, {"Labels": labels}, removed

    def remove(self, force: bool = False) -> None:
        self._removed.append(self.name)


class _Coll:
    def __init__(self, objs: list[_Obj]) -> None:
        self.objs = objs

    def list(self, all: bool = False, filters: dict | None = None) -> list[_Obj]:  # noqa: A002
        key = (filters or {}).get("label", "")
        return [o for o in self.objs if key in o.labels and o.name not in o._removed]


class _Client:
    def __init__(self, containers: list[_Obj], networks: list[_Obj]) -> None:
        self.containers, self.networks = _Coll(containers), _Coll(networks)


def test_sweep_takes_only_the_controllers_workers_and_waits_for_live_owners() -> None:
    removed: list[str] = []
    alive, dead = docker.owner_label(), docker.owner_label(os.getpid()).rsplit(":", 1)[0] + ":999999999"

    def obj(name: str, run: str, owner: str) -> _Obj:
        return _Obj(name, {docker.LABEL_RUN: run, docker.LABEL_OWNER: owner}, removed)

    client = _Client(
        [obj("c-gw0", "R1-gw0-aa", dead), obj("c-gw1", "R1-gw1-bb", alive), obj("c-other", "R2-gw0-cc", dead)],
        [obj("n-gw0", "R1-gw0-aa", dead), obj("n-other", "R2-gw0-cc", dead)])
    assert docker.sweep("R1-", client=client) == ["c-gw0", "n-gw0"], "dead owners of this run only"
    assert docker.leftovers("R1-", client=client) == ["c-gw1"], "a live worker tears down by itself"
    assert docker.sweep("R1-", force=True, client=client) == ["c-gw1"]
    assert docker.leftovers("R1-", client=client) == []
    assert "c-other" not in removed and "n-other" not in removed, "another run is left alone"


def test_suite_of_groups_by_suite_folder() -> None:
    assert spread_by_test(["suites/failover/test_a.py::t", "suites/smoke/test_s.py::t"], 2)
    assert spread_by_test(["suites/failover/test_a.py::t", "suites/failover/test_b.py::t"], 2, "suite")
    assert not spread_by_test(["suites/failover/test_a.py::t", "suites/smoke/test_s.py::t"], 2, "suite")
    assert suite_of("suites/failover/test_takeover.py::test_x[a/b]") == "failover"
    assert suite_of("tests/harness/test_x.py::test_y") == "tests/harness"
    assert suite_of("test_top.py::t") == "."
