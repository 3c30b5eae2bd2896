"""Fake run folders as a session leaves them, for the trend page and the nightly script's tests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import archive
from harness.history import History

TOPOLOGY = {"group": "GRP1", "dw_mode": "MANUAL", "timers": {"dw_error_time": 4},
            "hosts": {"host1": {"role": "primary"}, "host2": {"role": "standby"}}}
RUNS = ("20261201T010000Z-aaaaaa", "20261202T010000Z-bbbbbb", "20261203T010000Z-cccccc")


def fake_run(reports: Path, run: str, build: str, *, takeover_ok: bool, outage: float, lost: int,
             takeover_s: float, lag: int) -> Path:
    """A run folder as a session leaves it: env, junit, sign-off, measurements, steps and a compressed
    workload history with the fault around which writes stopped for `outage` seconds."""
    folder = reports / run
    folder.mkdir(parents=True)
    (folder / "env.json").write_text(json.dumps({"target": "emulator", "topology": TOPOLOGY,
                                                 "dm_build": {"BUILD_VERSION": build}}))
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite")
    for cls, name, ok, secs in (("suites.failover.test_takeover", "test_takeover", takeover_ok, 40.0),
                                ("suites.failover.test_switchover", "test_switchover", True, 30.0),
                                ("suites.smoke.test_group", "test_show", True, 5.0)):
        case = ET.SubElement(suite, "testcase", classname=cls, name=name, time=str(secs))
        if not ok:
            ET.SubElement(case, "failure", message="takeover left two primaries")
    ET.ElementTree(root).write(folder / "junit.xml")
    outcome = "passed" if takeover_ok else "failed"
    (folder / "signoff.json").write_text(json.dumps({"exitstatus": 0 if takeover_ok else 1, "tallies": {
        "takeover": {"outcomes": {"suites/failover/test_takeover.py::test_takeover": outcome}, "pending": []}}}))
    (folder / "measurements.json").write_text(json.dumps([
        {"test": "suites/failover/test_takeover.py::test_takeover", "name": "acknowledged writes lost",
         "value": lost, "unit": "writes"},
        {"test": "suites/replication/test_redo_apply.py::test_bulk", "name": "max apply lag", "value": lag,
         "unit": "LSN"}]))
    steps = [{"step": "monitor: switchover GRP1.mema2 (decision)", "duration": 3.5, "ok": True},
             {"step": "monitor: takeover GRP1.mema2 (decision)", "duration": takeover_s, "ok": True},
             {"step": "monitor: takeover GRP1.mema1 (decision)", "duration": 99.0, "ok": False}]
    (folder / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    h = History(seed=1, path=folder / "history-dw_chk.jsonl")
    t = 100.0
    for i in range(40):
        h.record("w0", "invoke", "add", i, at=t)
        h.record("w0", "ok", "add", i, at=t + 0.1)
        t += outage if i == 19 else 0.5
    h.close()
    archive.compress(folder / "history-dw_chk.jsonl")
    (folder / "faults.jsonl").write_text(json.dumps({"name": "isolate host1", "start": 100.0 + 19 * 0.5 + 0.2,
                                                     "end": 100.0 + 19 * 0.5 + 1.0}) + "\n")
    return folder
