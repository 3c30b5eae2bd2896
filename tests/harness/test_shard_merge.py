"""--dw-shard i/N slices (disjoint, covering, each keeping the ordering rules) and python -m harness.report.merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import shard
from harness.errors import UsageError
from harness.report import merge

ROOT = Path(__file__).resolve().parents[2]
NODEIDS = [f"suites/area{a}/test_f{f}.py::test_{t}" for a in range(4) for f in range(3) for t in range(9)]


def test_parse_rejects_bad_specs() -> None:
    assert shard.parse("2/3") == (2, 3) and shard.parse(None) is None
    for bad in ("0/3", "4/3", "1/0", "a/b", "3"):
        with pytest.raises(UsageError, match="--dw-shard"):
            shard.parse(bad)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_are_disjoint_cover_everything_and_keep_order(count: int) -> None:
    slices = [shard.split(NODEIDS, i, count)[0] for i in range(1, count + 1)]
    assert sorted(n for s in slices for n in s) == sorted(NODEIDS)
    assert sum(len(s) for s in slices) == len(NODEIDS), "disjoint"
    for s in slices:
        assert s == [n for n in NODEIDS if n in set(s)], "collection order kept"
        assert len(s) > len(NODEIDS) / count / 2, f"roughly balanced: {[len(x) for x in slices]}"
    assert shard.split(NODEIDS[:50], 1, count)[0] == [n for n in slices[0] if n in NODEIDS[:50]], \
        "a test keeps its shard when others are removed"


MARKED = """
    import pytest

    @pytest.mark.dw_auto
    def test_auto_{n}(): pass

    def test_plain_{n}(): pass

    @pytest.mark.destructive
    def test_breaks_{n}(): pass
"""


def _collect(project: Path, *args: str) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "harness.plugin", "-p", "harness.report", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--rootdir", str(project), "-c", os.devnull, "--dw-backend", "local",
           "--dw-report-dir", str(project / "reports"), "--collect-only", "-q", str(project / "suites"), *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_collected_shards_keep_destructive_first_and_auto_together(tmp_path: Path) -> None:
    for area in ("smoke", "failover", "lifecycle"):
        (tmp_path / "suites" / area).mkdir(parents=True)
        for n in range(4):
            (tmp_path / "suites" / area / f"test_{area}{n}.py").write_text(textwrap.dedent(MARKED.format(n=n)))
    everything = _collect(tmp_path)
    assert len(everything) == 36
    shards = [_collect(tmp_path, "--dw-shard", f"{i}/3") for i in (1, 2, 3)]
    assert sorted(n for s in shards for n in s) == sorted(everything)
    assert all(shards), "each of 3 shards has tests"
    for ids in shards:
        kinds = ["breaks" if "test_breaks" in n else "auto" if "test_auto" in n else "plain" for n in ids]
        assert kinds == sorted(kinds, key=["breaks", "plain", "auto"].index), ids


def _fake_run(folder: Path, shard_spec: str, cases: dict[str, str], exitstatus: int) -> Path:
    folder.mkdir(parents=True)
    suite = ET.Element("testsuite", name="pytest", tests=str(len(cases)))
    tallies: dict = {"switchover": {"outcomes": {}, "pending": []}, "takeover": {"outcomes": {}, "pending": []}}
    for nodeid, outcome in cases.items():
        case = ET.SubElement(suite, "testcase", classname="suites.failover.test_x", name=nodeid.split("::")[1])
        if outcome == "failed":
            ET.SubElement(case, "failure", message="boom")
        key = "switchover" if "switch" in nodeid else "takeover"
        tallies[key]["outcomes"][nodeid] = outcome
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(folder / "junit.xml", encoding="utf-8")
    (folder / "signoff.json").write_text(json.dumps({"exitstatus": exitstatus, "tallies": tallies}))
    (folder / "measurements.json").write_text(json.dumps(
        [{"test": n, "name": "rto", "value": 1.5, "unit": "s", "note": ""} for n in cases]))
    (folder / "env.json").write_text(json.dumps({"target": "emulator", "shard": shard_spec,
                                                 "dm_build": {"BUILD_VERSION": "b1"}}))
    (folder / "report.html").write_text("<html></html>")
    return folder


def test_merge_two_shards(tmp_path: Path) -> None:
    a = _fake_run(tmp_path / "20261205T010000Z-aaaaaa", "1/2",
                  {"suites/failover/test_x.py::test_switch_a": "passed",
                   "suites/failover/test_x.py::test_take_a": "passed"}, 0)
    b = _fake_run(tmp_path / "20261205T010001Z-bbbbbb", "2/2",
                  {"suites/failover/test_x.py::test_take_b": "failed"}, 1)
    assert merge.main([str(a), str(b), "--out", str(tmp_path / "m")]) == 1
    out = tmp_path / "m"
    cases = [c.get("name") for c in ET.parse(out / "junit.xml").getroot().iter("testcase")]
    assert sorted(cases) == ["test_switch_a", "test_take_a", "test_take_b"]
    html = (out / "report.html").read_text()
    assert 'data-item="switchover"' in html and html.count("dw-verdict dw-fail") >= 2, "takeover and overall FAIL"
    assert 'data-item="switchover"><td>Switchover</td><td>' in html
    verdicts = json.loads((out / "signoff.json").read_text())["tallies"]
    assert verdicts["takeover"]["outcomes"]["suites/failover/test_x.py::test_take_b"] == "failed"
    assert len(json.loads((out / "measurements.json").read_text())) == 3
    assert [s["shard"] for s in json.loads((out / "env.json").read_text())["shards"]] == ["1/2", "2/2"]
    linked = sorted((out / "shards").iterdir())
    assert [p.resolve() for p in linked] == [a.resolve(), b.resolve()]

    passing = merge.merge([a], tmp_path / "only-a")
    assert passing.verdict == "PASS" and passing.tests == 2
