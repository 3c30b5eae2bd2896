"""A tiny synthetic suite copied into a temporary folder and run by tests/report (not collected here).

It exercises the report API the way suites do: steps, a monitor `show`, a DM log, a failover timeline
with a fault window and RTO, measurements, an apply-lag plot and progress lines (harness.progress). Times are fake but shaped like a real takeover.
"""

import json
import os
import time

import pytest

from harness.progress import Meter, progress

T0 = 1_790_000_000.0  # fake epoch start


def fake_takeover() -> tuple[list, list, list]:
    """Roles of mema1/mema2, one fault window, and a writer's history around a takeover."""
    samples, history = [], []
    for t in range(0, 40, 1):
        samples.append({"t": T0 + t, "instance": "mema1",
                        "role": "PRIMARY" if t < 11 else ("ERROR" if t < 30 else "STANDBY")})
        samples.append({"t": T0 + t, "instance": "mema2", "role": "STANDBY" if t < 17 else "PRIMARY"})
    faults = [{"start": T0 + 10, "end": T0 + 28, "name": "isolate host1"}]
    for i in range(80):
        t = T0 + i * 0.5
        kind = "ok" if not 10 <= t - T0 < 17.5 else ("info" if i % 4 == 0 else "fail")
        history += [{"type": "invoke", "time": t, "process": i % 2}, {"type": kind, "time": t + 0.08, "process": i % 2}]
    return samples, faults, history


@pytest.mark.signoff("build")
def test_build_group(report, request):
    with open(request.config.dmdw_run_dir / "steps.jsonl", "a") as f:  # as the core's StepLog would
        f.write(json.dumps({"host": "host2", "step": "restore standby", "command": "dmrman CTLSTMT=...",
                            "rc": 0, "output": "restore successfully", "duration": 4.5, "ok": True}) + "\n")
    report.steps([
        {"host": "host1", "step": "dminit", "command": "dminit path=/opt/dm8/data db_name=memadb SYSDBA_PWD=Mema_1234",
         "rc": 0, "output": "create dm database success", "duration": 2.31, "ok": True},
        {"host": "host1", "step": "backup", "command": "disql SYSDBA/Mema_1234@192.168.56.201:5236",
         "rc": 0, "output": "操作已执行", "duration": 0.84, "ok": True},
    ])


@pytest.mark.signoff("takeover")
def test_takeover_after_isolation(report):
    samples, faults, history = fake_takeover()
    report.timeline(history, samples=samples, faults=faults, rto={"start": T0 + 9.58, "end": T0 + 17.58},
                    title="Takeover after host1 isolated")
    report.show("GRP1 mema2 PRIMARY OPEN")
    report.measure("RTO", 8.0, "s", note="last ack before isolation to first ack on mema2")
    report.measure("writes lost", 0, "rows")


@pytest.mark.signoff("switchover")
def test_switchover_roles(report, request):
    with open(request.config.dmdw_run_dir / "monitor-1.log", "a") as f:  # as the monitor driver would
        f.write("switchover GRP1.mema2\n[monitor] switchover failed: mema2 is not VALID\n")
    report.measure("switchover time", 1.23456789, "s", note="SYSDBA/Mema_1234@host1 timed it")
    report.show("#=== show ===#\nGRP1 mema1 PRIMARY OPEN\nGRP1 mema2 STANDBY OPEN")
    report.log("host2", "dm_MEMA2.log", "redo apply stopped\nlogin SYSDBA/Mema_1234@127.0.0.1:5236 failed\n")
    assert "mema2" == "PRIMARY", "switchover left mema2 as STANDBY"


@pytest.mark.signoff("replication")
@pytest.mark.skipif(os.environ.get("DEMO_LAG") == "0", reason="apply-lag demo off")
def test_bulk_load_apply_lag(report):
    samples = [{"t": T0 + i, "primary_lsn": 10_000 + 900 * i, "standby_lsn": 10_000 + 900 * i - (i % 13) * 150,
                "rows": i * 20_000} for i in range(60)]
    with Meter("bulk load", total=60, unit="rows", every=0.0) as meter:
        meter.update(60)
    report.apply_lag(samples)


@pytest.mark.signoff("chaos")
def test_slow_until_interrupted():
    """Waits (for SIGINT) when DEMO_SLOW names a marker file; otherwise passes at once."""
    marker = os.environ.get("DEMO_SLOW")
    if not marker:
        return
    progress("waiting for SIGINT")
    with open(marker, "w") as f:
        f.write("started")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)


class FakeWorkload:
    """Stands in for harness.workload.Workload: after running, `.history` holds a harness History."""

    history = None


@pytest.fixture
def workload():
    return FakeWorkload()


@pytest.mark.signoff("chaos")
def test_workload_timeline_is_automatic(workload, request):
    from harness.chaos import FaultRecord
    from harness.history import History

    h = History(seed=7, path=request.config.dmdw_run_dir / "history-demo.jsonl")  # a workload's file: stored once, compressed
    for i in range(30):
        t = 500.0 + i * 0.5
        h.sample("mema1", "PRIMARY", "OPEN" if not 6 <= i * 0.5 < 9 else "SUSPEND", at=t)
        h.sample("mema2", "STANDBY", "OPEN", at=t)
        op = h.record("w0", "invoke", "add", i, at=t)
        h.record("w0", "ok" if not 6 <= i * 0.5 < 9 else "fail", "add", op.value, at=t + 0.05)
    h.faults = [FaultRecord("cut MAL host1->host2", "MAL", 505.8, 509.5)]
    workload.history = h
