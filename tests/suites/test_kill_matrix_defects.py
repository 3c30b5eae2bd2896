"""The suites can see what they claim to check: each suite-level property goes red under its seeded defect.

Each case runs one suite test in its own pytest (local backend, emulator) with DMEMU_BUGS=<defect> and
expects it to fail; the control runs the same tests with no defect and expects them to pass, so a red run
is the defect's doing. benchmarks/kill_matrix.py gives the whole matrix (docs/kill-matrix.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("kill_matrix", ROOT / "benchmarks" / "kill_matrix.py")
km = importlib.util.module_from_spec(_spec)
sys.modules["kill_matrix"] = km
_spec.loader.exec_module(km)  # type: ignore[union-attr]

SW = "suites/failover/test_switchover.py::test_switchover_to_the_standby_and_back"
TK_HEALTHY = "suites/failover/test_takeover.py::test_takeover_is_refused_while_the_group_is_healthy"
OGUID = "suites/lifecycle/test_oguid_guard.py::test_watcher_refuses_an_instance_with_another_oguid"
STANDBY_RO = "suites/replication/test_redo_apply.py::test_standby_rejects_dml_and_ddl"
CONS = "suites/consistency/test_failover.py"
CONS_SW = CONS + "::test_no_anomaly_through_a_switchover_and_back"
CONS_TK = CONS + "::test_no_anomaly_through_a_takeover_after_the_primary_host_is_isolated"
SMOKE_HEALTHY = "suites/smoke/test_smoke.py::test_group_is_built_and_healthy"

# (defect, suite test that must go red under it); the fast ones run by default
FAST = [
    ("takeover-while-healthy", TK_HEALTHY),       # takeover refused while healthy (seed 十二.2.2)
    ("switchover-drops-keepbuf", SW),             # switchover keeps every acknowledged write (十二.2.1)
    ("commit-before-send", SW),                   # the workload's lost-write check
    ("watcher-ignores-oguid", OGUID),             # INST_OGUID guard (seed 六.4, reference 5.3)
    ("standby-accepts-dml", STANDBY_RO),          # standby read-only: -2018 / -710 (reference 3)
]
SLOW = [
    ("standby-skips-redo", SW),                   # divergence check after the switchover
    ("wrong-svrmode", "suites/smoke/test_smoke.py::test_service_name_reaches_the_primary"),
    ("commit-not-durable", SW),
    # anomaly-class defects: only the transactional checkers see them (suites/consistency)
    ("standby-partial-apply", CONS_SW + "[bank]"),         # bank: partial transfer read on the standby
    ("standby-stale-read", CONS_SW + "[list-append]"),     # list-append: a standby read going back
    ("demoted-primary-acks", CONS_SW + "[list-append]"),   # list-append: appends acked then lost
    ("takeover-lost-update", CONS_TK),                     # list-append: the last acked append lost
]
# defects of groups beyond one standby (issue 14): the suite test runs on examples/1p2rt1async.toml
MULTI = ["--dw-config", str(ROOT / "examples" / "1p2rt1async.toml")]
TOPO = "suites/topology/test_multi_standby.py"
TOPOLOGY = [
    ("commit-waits-first-standby", TOPO + "::test_a_commit_returns_once_every_realtime_standby_has_it"),
    ("async-takeover-candidate", TOPO + "::test_takeover_picks_a_realtime_standby_never_the_async"),
    ("monitor-follows-stale-primary",
     "suites/failover/test_auto_takeover.py::test_auto_takeover_when_the_primary_host_is_isolated"),
]
TIMEOUT = 300.0
XDIST_SPREAD = True  # each case is its own pytest run: hand them out one by one under -n
UNITS = "suites/lifecycle/test_service_units.py"
# the service-unit checks need systemd in the hosts: docker with --dw-systemd
SYSTEMD = [
    ("service-ignores-mount", UNITS + "::test_installer_wrote_the_seeds_units"),      # `-m mount` (reference 6.4)
    ("watcher-stop-leaves-instance", UNITS + "::test_systemctl_stop_of_each_watcher_stops_its_instance"),  # 十二.3.1
    ("service-not-enabled", UNITS + "::test_reboot_of_every_db_host_brings_the_group_back"),  # enabled units
]


def _outcome(defect: str, tests: list[str], store: Path, extra: list[str] | None = None) -> km.Run:
    return km.run_one(defect, tests, "local", "", store, TIMEOUT, extra or [])


def _log(store: Path, defect: str) -> str:
    name = "baseline" if defect == km.BASELINE else defect
    path = store / f"{name}.log"
    return path.read_text(errors="replace")[-3000:] if path.is_file() else "(no log)"


def test_the_selected_suite_tests_pass_without_any_defect(tmp_path: Path) -> None:
    """Control: with DMEMU_BUGS unset the same tests pass, so the red runs below are the defects' doing."""
    tests = sorted({t for _, t in FAST})
    run = _outcome(km.BASELINE, tests, tmp_path)
    assert run.outcomes and all(run.outcomes.get(t) == "passed" for t in tests), \
        f"{run.outcomes} {run.note}\n{_log(tmp_path, km.BASELINE)}"


def _case(defect: str, test: str, store: Path, extra: list[str] | None = None) -> None:
    run = _outcome(defect, [test], store, extra)
    assert run.outcomes.get(test) in ("failed", "error"), \
        f"{test} did not fail under DMEMU_BUGS={defect}: {run.outcomes} {run.note}\n{_log(store, defect)}"


@pytest.mark.parametrize("defect, test", FAST, ids=[d for d, _ in FAST])
def test_suite_test_goes_red_under_its_defect(defect: str, test: str, tmp_path: Path) -> None:
    _case(defect, test, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("defect, test", SLOW, ids=[d for d, _ in SLOW])
def test_suite_test_goes_red_under_its_defect_slow(defect: str, test: str, tmp_path: Path) -> None:
    _case(defect, test, tmp_path)


def _docker() -> bool:
    try:
        from harness.images import docker_client

        docker_client().ping()
        return True
    except Exception:  # noqa: BLE001 - no engine: the cases skip naming it
        return False


@pytest.mark.slow
@pytest.mark.matrix
@pytest.mark.skipif(not _docker(), reason="needs a Docker engine (the service units run with --dw-systemd)")
@pytest.mark.parametrize("defect, test", SYSTEMD, ids=[d for d, _ in SYSTEMD])
def test_service_unit_test_goes_red_under_its_defect(defect: str, test: str, tmp_path: Path) -> None:
    run = km.run_one(defect, [test], "docker", "", tmp_path, 900.0, ["--dw-systemd"])
    assert run.outcomes.get(test) in ("failed", "error"), \
        f"{test} did not fail under DMEMU_BUGS={defect}: {run.outcomes} {run.note}\n{_log(tmp_path, defect)}"


@pytest.mark.slow
@pytest.mark.matrix
@pytest.mark.parametrize("defect, test", TOPOLOGY, ids=[d for d, _ in TOPOLOGY])
def test_multi_standby_suite_test_goes_red_under_its_defect(defect: str, test: str, tmp_path: Path) -> None:
    """On the 1p2rt1async group: the control (no defect) passes, the defect turns the test red."""
    control = _outcome(km.BASELINE, [test], tmp_path, MULTI)
    assert control.outcomes.get(test) == "passed", f"{control.outcomes} {control.note}\n{_log(tmp_path, km.BASELINE)}"
    _case(defect, test, tmp_path, MULTI)
