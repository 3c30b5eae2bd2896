"""benchmarks/kill_matrix.py without running any suite: junit parsing, kills, the Markdown, bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


km = _load("kill_matrix")

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="suites.failover.test_switchover" name="test_switchover_to_the_standby_and_back" time="8.0">{sw}</testcase>
<testcase classname="suites.failover.test_takeover" name="test_takeover_is_refused_while_the_group_is_healthy" time="1.0">{tk}</testcase>
<testcase classname="suites.lifecycle.test_stop_start" name="test_stop_group_from_the_monitor" time="6.0">{st}</testcase>
<testcase classname="suites.lifecycle.test_stop_start" name="test_stop_group_from_the_monitor" time="0.1">{st_td}</testcase>
</testsuite></testsuites>"""
FAIL = '<failure message="x">boom</failure>'
ERROR = '<error message="teardown">boom</error>'


def _junit(tmp_path: Path, name: str, **outcomes: str) -> Path:
    p = tmp_path / f"{name}.xml"
    p.write_text(JUNIT.format(**{k: outcomes.get(k, "") for k in ("sw", "tk", "st", "st_td")}))
    return p


def test_parse_junit_names_tests_by_node_id_and_keeps_the_worst_outcome(tmp_path: Path) -> None:
    out = km.parse_junit(_junit(tmp_path, "x", tk=FAIL, st_td=ERROR))
    assert out == {
        "suites/failover/test_switchover.py::test_switchover_to_the_standby_and_back": "passed",
        "suites/failover/test_takeover.py::test_takeover_is_refused_while_the_group_is_healthy": "failed",
        "suites/lifecycle/test_stop_start.py::test_stop_group_from_the_monitor": "error",
    }


def test_a_kill_needs_a_pass_without_the_defect_and_a_failure_with_it(tmp_path: Path) -> None:
    base = km.Run(km.BASELINE, km.parse_junit(_junit(tmp_path, "baseline", st=FAIL)))
    run = km.Run("takeover-while-healthy", km.parse_junit(_junit(tmp_path, "d", tk=FAIL, st=FAIL)))
    assert km.kills(base, run) == ["suites/failover/test_takeover.py::test_takeover_is_refused_while_the_group_is_healthy"]
    quiet = km.Run("standby-skips-redo", km.parse_junit(_junit(tmp_path, "q", st=FAIL)))
    text = km.render({"takeover-while-healthy": "takeover allowed", "standby-skips-redo": "skips"}, base,
                     [run, quiet], ["suites"], "local")
    assert "| `takeover-while-healthy` | takeover allowed | `suites/failover/test_takeover.py::" in text
    assert "| `standby-skips-redo` | skips | **not killed** |" in text
    assert "Baseline (no defect): 2 passed, 1 failing:" in text
    assert "- `suites/lifecycle/test_stop_start.py::test_stop_group_from_the_monitor`" in text


def test_render_from_stored_junit_files_and_exit_status(tmp_path: Path) -> None:
    cat = km.catalog()
    names = list(cat)
    _junit(tmp_path, "baseline")
    for i, name in enumerate(names):
        _junit(tmp_path, name, tk=FAIL if i else "")
    out = tmp_path / "matrix.md"
    rc = km.main(["suites", "--from", str(tmp_path), "--out", str(out)])
    text = out.read_text()
    assert rc == 1  # the first defect is killed by nothing
    assert f"| `{names[0]}` |" in text and "**not killed**" in text
    assert text.count("test_takeover_is_refused_while_the_group_is_healthy") == len(names) - 1


@pytest.mark.parametrize("args, words", [
    (["--defects", "no-such-defect"], "unknown defect 'no-such-defect'"),
    (["suites/no-such-suite"], "no such suite path: suites/no-such-suite"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_bad_input_is_one_clear_line(args: list[str], words: str) -> None:
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kill_matrix.py"), *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2
    assert words in p.stderr
    assert "Traceback" not in p.stderr
