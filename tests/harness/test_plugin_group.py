"""The plugin's group lifecycle (harness.group) in a real pytest run: built once, reset between tests, rebuilt
after a destructive test, DW_MODE AUTO for `dw_auto` tests (kept between them), fixtures wired (hosts by
role, sql, monitor, runbook), run-folder records written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import archive
from harness.report import RUN_ID

pytest_plugins = ["pytester"]

SUITE = '''
import signal
import pytest

@pytest.mark.dw_auto
def test_0_auto_runs_after_the_plain_tests(dw, dw_group, runbook, monitor):
    assert dw_group.builds == 4 and runbook.dw_mode() == "AUTO" and monitor.show().mode == "AUTO"
    runbook.exit_monitor()                      # the handle follows the session the next use starts

@pytest.mark.dw_auto
def test_0b_auto_is_the_last(dw, dw_group, monitor):
    assert dw_group.builds == 4 and monitor.show().mode == "AUTO"   # kept between AUTO tests, no rebuild

def test_a_fixtures(dw, dw_group, hosts, sql, monitor, runbook, topology, run_dir):
    assert hosts.primary is hosts["host1"] and hosts.standby.name == "host2" and hosts.monitor.name == "monitor"
    assert hosts.host1.ti.file(hosts.host1.path("/opt/dm8/data/memadb/dm.ini")).exists
    assert sql.scalar("mema1", "select count(*) from v$instance") == 1
    assert monitor.show().healthy() and topology.primary.instance == "mema1" and runbook.dw_mode() == "MANUAL"
    assert dw_group.builds == 3 and (run_dir / "steps.jsonl").exists()  # run after the destructive tests

@pytest.mark.destructive
def test_b_destructive_kills_the_standby_group(dw, dw_group, hosts):
    assert dw_group.builds == 1          # destructive tests run first: the first one gets the initial build ...
    hosts.host2.signal("dmwatcher", signal.SIGKILL)
    hosts.host2.signal("dmserver", signal.SIGKILL)

@pytest.mark.destructive
def test_b2_destructive_gets_a_fresh_group(dw, dw_group):
    assert dw_group.builds == 2 and dw.healthy()  # ... the next one a freshly built group

def test_c_rebuilt_after_destructive(dw, dw_group, sql):
    assert dw_group.builds == 3          # ... and the next test a rebuilt one after it
    assert dw.healthy()
    sql.execute("mema1", "create table t_c(id int)")

def test_d_reset_keeps_a_healthy_group(dw, dw_group, sql):
    assert dw_group.builds == 3
    dw.wait_replicated()
    assert sql.query("mema2", "select count(*) from t_c") == [(0,)]

def test_e_fails_with_a_frozen_monitor(dw, hosts):
    pids = hosts.monitor.pids("dmmonitor")
    assert pids, "no dmmonitor process found"
    for pid in pids:
        hosts.monitor.signal(pid, signal.SIGSTOP)   # SQL stays healthy; only `show` is gone
    assert False, "planned failure"

def test_f_after_a_failure_show_is_checked_too(dw, dw_group, monitor):
    assert dw_group.builds == 4 and monitor.show().healthy()
'''


def test_group_lifecycle(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--dw-backend",
                                           "local", "-v", "-p", "no:randomly", timeout=300)
    result.assert_outcomes(passed=8, failed=1)
    ran = [line.split("::")[1].split()[0] for line in result.stdout.lines
           if "::test_" in line and "%]" in line]
    assert ran == ["test_b_destructive_kills_the_standby_group", "test_b2_destructive_gets_a_fresh_group",
                   "test_a_fixtures", "test_c_rebuilt_after_destructive", "test_d_reset_keeps_a_healthy_group",
                   "test_e_fails_with_a_frozen_monitor", "test_f_after_a_failure_show_is_checked_too",
                   "test_0_auto_runs_after_the_plain_tests", "test_0b_auto_is_the_last"]
    runs = [p for p in (pytester.path / "reports").iterdir() if RUN_ID.match(p.name)]  # not `latest`, durations.json
    assert len(runs) == 1
    run = runs[0]
    env = json.loads((run / "env.json").read_text())
    assert env["target"] == "emulator" and env["backend"] == "local" and env["builds"] == 4
    assert env["dm_build"]["SVR_VERSION"] and env["topology"]["hosts"]["host1"]["internal_ip"] == "127.0.56.201"
    assert env["timers"]["dw_error_time"] == 4
    steps = [json.loads(x) for x in archive.read_lines(run / "steps.jsonl")]  # compressed at session end
    assert sum(s["step"] == "dminit mema1" for s in steps) == 4
    restarts = [s for s in steps if s["step"] == "十二.3.2 group healthy after restart"]
    assert len(restarts) == 1, restarts  # into AUTO once; the last test's group is torn down in AUTO
    assert "\n".join(archive.read_lines(run / "monitor-monitor.log")).count("IS READY") >= 4
    logs = sorted(p.name for p in (run / "logs" / "host1").iterdir())
    assert any("dmserver-mema1" in n for n in logs) and any("dmwatcher-mema1" in n for n in logs)
    assert sorted(p.name for p in (run / "configs").iterdir()) == ["host1", "host2", "monitor"]


def test_step_failure_is_one_message_not_a_traceback(pytester: pytest.Pytester) -> None:
    (pytester.path / "bad.toml").write_text("[dminit]\nPAGE_SIZE = 3\n")
    pytester.makepyfile(test_suite="def test_x(dw):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--dw-backend",
                                           "local", "--dw-config", "bad.toml", timeout=120)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "procedure step 'dminit mema1' failed on host1" in out
    assert "Traceback" not in out and "harness/procedure.py" not in out
    assert "During handling of the above exception" not in out


def test_keep_topology_leaves_the_group_running_and_says_how_to_clean(pytester: pytest.Pytester) -> None:
    import re
    import signal
    import subprocess

    from harness.backends.local_processes import cleanup_stale, kill_pids, marked_pids
    from harness.wait import wait_until

    pytester.makepyfile(test_suite="def test_x(dw):\n    assert dw.healthy()\n")
    result = pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--dw-backend",
                                           "local", "--keep-topology", timeout=120)
    result.assert_outcomes(passed=1)
    line = next(x for x in result.stdout.lines if "dmdw: --keep-topology:" in x)
    run_id = re.search(r"DMDW_LOCAL_HOST=(\S+) ", line).group(1)
    try:
        assert len(marked_pids(run_id)) >= 4  # two dmservers, two dmwatchers still running
        assert cleanup_stale(prefix=run_id) == []  # a kept topology is not a leftover for later runs
        hint = line.split("stop it with: ", 1)[1]
        subprocess.run(["bash", "-c", hint], check=False)
        wait_until(lambda: marked_pids(run_id) == [], 30, "the kept group to stop after the printed command")
        root = re.search(r"kept local topology under (\S+);", line).group(1)
        assert not Path(root).exists()
    finally:
        kill_pids(marked_pids(run_id), signal.SIGKILL)


SWITCHED = '''
def test_a_switches_over_and_leaves_it(dw, monitor):
    monitor.switchover("mema2")
    dw.wait_roles(primary="mema2")

def test_b_starts_from_the_seeds_roles(dw, dw_group):
    assert dw.primary.name == "mema1" and dw.healthy()
    assert dw_group.builds == 1          # switched back, not rebuilt
'''


def test_every_test_starts_from_the_seeds_primary(pytester: pytest.Pytester) -> None:
    """A test that switches over and does not switch back leaves the next test the seed's roles: the group
    switches back before it (an order-dependent failure of the smoke suite under `-n 3` found this)."""
    pytester.makepyfile(test_suite=SWITCHED)
    result = pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--dw-backend",
                                           "local", "-p", "no:randomly", timeout=300)
    result.assert_outcomes(passed=2)
