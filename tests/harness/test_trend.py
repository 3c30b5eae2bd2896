"""python -m harness.report.trend over fake run folders: three runs of one topology (the newest made to fail), one
of another topology that must not be compared."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import trend

TOPOLOGY = {"group": "GRP1", "dw_mode": "MANUAL", "timers": {"dw_error_time": 4},
            "hosts": {"host1": {"role": "primary", "port_num": 21001}, "host2": {"role": "standby"}}}


def _run(reports: Path, run: str, build: str, outcomes: dict[str, str], rto: float, *, port: int = 21001,
         dw_mode: str = "MANUAL") -> None:
    folder = reports / run
    folder.mkdir(parents=True)
    topo = json.loads(json.dumps(TOPOLOGY))
    topo["hosts"]["host1"]["port_num"] = port  # a backend's free port: not part of the key
    topo["dw_mode"] = dw_mode
    (folder / "env.json").write_text(json.dumps({"target": "emulator", "topology": topo,
                                                 "dm_build": {"BUILD_VERSION": build}}))
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite")
    for name, outcome in outcomes.items():
        case = ET.SubElement(suite, "testcase", classname="suites.failover.test_takeover", name=name)
        if outcome == "failed":
            ET.SubElement(case, "failure", message="boom")
    ET.ElementTree(root).write(folder / "junit.xml")
    verdict = {"takeover": {"outcomes": {f"x::{n}": o for n, o in outcomes.items()}, "pending": []}}
    (folder / "signoff.json").write_text(json.dumps({"exitstatus": 0, "tallies": verdict}))
    (folder / "measurements.json").write_text(json.dumps(
        [{"test": "suites/failover/test_takeover.py::test_a", "name": "rto", "value": rto, "unit": "s"}]))


def test_trend_shows_the_changed_verdict_and_measurements_side_by_side(tmp_path: Path, capsys) -> None:
    _run(tmp_path, "20261201T000000Z-aaaaaa", "b1", {"test_a": "passed", "test_b": "passed"}, 4.0)
    _run(tmp_path, "20261202T000000Z-bbbbbb", "b2", {"test_a": "passed", "test_b": "passed"}, 4.5, port=23000)
    _run(tmp_path, "20261202T120000Z-cccccc", "b2", {"test_a": "failed"}, 9.0, dw_mode="AUTO")
    _run(tmp_path, "20261203T000000Z-dddddd", "b3", {"test_a": "failed", "test_b": "passed"}, 7.25, port=24000)
    (tmp_path / "latest").symlink_to("20261203T000000Z-dddddd")

    assert trend.main([str(tmp_path)]) == 1, "a new failure fails the trend"
    out = capsys.readouterr().out
    assert "newest run 20261203T000000Z-dddddd: build b3" in out
    assert "compared with 20261202T000000Z-bbbbbb (build b2)" in out, "the AUTO-mode run is not comparable"
    assert "suites.failover.test_takeover::test_a: passed -> failed" in out
    assert "new failures: 1" in out
    assert "sign-off takeover: PASS -> FAIL" in out
    assert "rto: 4 | 4.5 | 7.25 s" in out, "measurements of the comparable runs, oldest first"
    page = (tmp_path / "trend.html").read_text()
    assert "Verdicts that changed (1)" in page and "New failures (1)" in page
    assert page.count("<th>20261") == 3 and "9.0" not in page


def test_trend_of_a_single_run_has_nothing_to_compare(tmp_path: Path, capsys) -> None:
    _run(tmp_path, "20261201T000000Z-aaaaaa", "b1", {"test_a": "passed"}, 4.0)
    assert trend.main([str(tmp_path), "--html", str(tmp_path / "t.html")]) == 0
    assert "no earlier run" in capsys.readouterr().out
    assert (tmp_path / "t.html").is_file()


def test_short_entry_points_run_the_report_tools(tmp_path: Path) -> None:
    """`python -m harness.trend` and `python -m harness.merge` (the issue's names) are the report's tools."""
    import subprocess
    import sys

    for tool, args, status, says in (("harness.trend", [str(tmp_path)], 2, "no run folders"),
                                     ("harness.merge", ["--help"], 0, "python -m harness.merge")):
        proc = subprocess.run([sys.executable, "-m", tool, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == status and says in proc.stdout + proc.stderr, (tool, proc.stdout, proc.stderr)
