"""The real thing: render a report from a short run and look at it in headless Chromium (Debian's)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from reportdemo import latest_run, probe, run_demo, screenshot

from harness import archive


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """One run of the demo suite: (run folder, terminal output, exit code)."""
    folder = tmp_path_factory.mktemp("demo")
    proc = run_demo(folder, "-q")
    return latest_run(folder), proc.stdout, proc.returncode


def test_signoff_environment_and_plot_are_visible_in_chromium(demo: tuple[Path, str, int], tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    run, out, rc = demo
    assert rc == 1, out  # the demo has one failing test
    html = run / "report.html"
    seen = probe(html, tmp_path)
    assert seen["signoff_visible"], seen
    assert seen["signoff_rows"] == 9, seen  # one row per harness.signoff ITEMS entry
    assert re.search(r"Takeover\s.*PASS", seen["signoff_text"]), seen["signoff_text"]
    assert re.search(r"Switchover\s.*FAIL", seen["signoff_text"]), seen["signoff_text"]
    assert re.search(r"Client failover\s.*NOT RUN", seen["signoff_text"]), seen["signoff_text"]
    assert seen["env_visible"], seen
    for expected in ("Target", "emulator", "DM build", "03134284194", "Seed", "4242", "DW_ERROR_TIME",
                     "Image ids", "Run id"):
        assert expected in seen["env_text"], (expected, seen["env_text"])
    assert "Mema_1234" not in seen["env_text"]
    assert seen["images_visible"] >= 3, seen  # two timelines and the apply-lag plot at the top
    assert seen["external"] == [], seen  # self-contained: no external script, style or image
    assert seen["title"].startswith("DM8 Data Watch acceptance report")
    shot = screenshot(html, run / "screenshot.png")
    assert shot.stat().st_size > 20_000
    outer = getattr(request.config, "dmdw_run_dir", None)  # keep a copy in this session's run folder too
    if outer is not None:
        shutil.copy(shot, Path(outer) / "report-test-screenshot.png")


def test_run_folder_holds_report_junit_and_artifacts(demo: tuple[Path, str, int]) -> None:
    run, out, _ = demo
    names = {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}
    assert {"report.html", "junit.xml", "steps.jsonl.gz", "monitor-1.log.gz", "progress.log"} <= names, names
    assert not any(n.endswith((".jsonl", ".log")) and "/" not in n and n != "progress.log" for n in names), \
        "the machine-read files are compressed"
    assert '<a href="steps.jsonl.gz">' in (run / "report.html").read_text(), "the page links the stored names"
    assert "history-demo.jsonl.gz" in names, "a workload's history is compressed where the workload wrote it"
    assert not any(n.endswith(".jsonl") and "history" in n for n in names), "no plain history is left"
    assert any(n.endswith("history.jsonl.gz") for n in names), "a timeline's list of ops is saved compressed"
    assert any(n.endswith("timeline.png") for n in names), names
    assert any(n.endswith("apply-lag.png") for n in names), names
    assert any("log-host2-dm_MEMA2.log" in n for n in names), names
    assert (run.parent / "latest").is_symlink()
    html = (run / "report.html").read_text()
    pngs = [n for n in names if n.endswith(".png") and "screenshot" not in n]
    assert html.count("data:image/png;base64,") == len(pngs), "each plot is embedded exactly once"
    assert html.count("#dw-plot-") >= len(pngs), "each test links to its plots in the gallery"
    assert f"dmdw run folder: {run}" in out or str(run) in out


def test_passwords_are_masked_in_report_and_copied_files(demo: tuple[Path, str, int]) -> None:
    run, _, _ = demo
    for path in run.rglob("*"):
        if path.is_file() and path.suffix != ".png":
            assert b"Mema_1234" not in path.read_bytes(), path
    html = (run / "report.html").read_text()
    assert "SYSDBA/******@" in html  # masked, not dropped
    assert "SYSDBA_PWD=******" in html


def test_failed_test_shows_logs_and_last_show(demo: tuple[Path, str, int]) -> None:
    run, _, _ = demo
    html = (run / "report.html").read_text()
    # extras of the failed switchover test: its last show and the DM log (escaped inside the JSON data)
    assert "Last monitor <code>show</code>" in html.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"') \
        or "Last monitor &lt;code&gt;show&lt;/code&gt;" in html
    assert "dm_MEMA2.log" in html
    assert "redo apply stopped" in html
    # found by the plugin itself: the monitor transcript written during the failed test
    assert "switchover failed: mema2 is not VALID" in html
    # the passing takeover test's show is kept in the run folder, not in the page
    assert "GRP1 mema2 PRIMARY OPEN" not in html
    assert any("GRP1 mema2 PRIMARY OPEN" in p.read_text() for p in run.rglob("show*.txt"))


def test_steps_run_during_a_test_are_attached_to_it(demo: tuple[Path, str, int]) -> None:
    run, _, _ = demo
    html = (run / "report.html").read_text()
    assert "procedure steps during call" in html and "restore successfully" in html
    assert "of the procedure step log" in html and 'id="dw-step-1"' in html, "the test links to its rows"
    assert html.count("restore successfully") == 1, "each procedure step is in the page once"
    saved = "".join(archive.read_text(p) for p in run.glob("tests/*test_build_group*/steps*.jsonl*"))
    assert "dminit" in saved, "steps a test attached itself are saved with the test"
    assert "restore standby" not in saved, "the procedure's steps are stored once, in steps.jsonl"


def test_a_workload_history_gets_its_timeline_without_a_call(demo: tuple[Path, str, int]) -> None:
    run, _, _ = demo
    html = (run / "report.html").read_text()
    assert "<b>Roles, faults and writes (workload)</b> — test_demo.py::test_workload_timeline_is_automatic" in html
    folder = next(run.glob("tests/*test_workload_timeline_is_automatic*"))
    assert (folder / "timeline.png").exists() and "cut MAL" in (folder / "faults.json").read_text()
    assert not list(folder.glob("history*")), "the workload's history is stored once, at the top"
    assert '<a href="history-demo.jsonl.gz">' in html, "the test links to it"
    # the explicit timeline of the takeover test is not doubled by an automatic one
    assert len(list(run.glob("tests/*test_takeover_after_isolation*/timeline*.png"))) == 1


def test_progress_lines_show_under_quiet(demo: tuple[Path, str, int]) -> None:
    _, out, _ = demo
    assert re.search(r"\[dmdw +[\d.]+s\] bulk load: done in [\d.]+ s, 60/60 rows \(100%\), \d+ rows/s", out), out


def test_measurements_table_json_and_junit(demo: tuple[Path, str, int]) -> None:
    run, _, _ = demo
    data = json.loads((run / "measurements.json").read_text())
    by_name = {m["name"]: m for m in data}
    assert by_name["RTO"] == {"test": "test_demo.py::test_takeover_after_isolation", "name": "RTO", "value": 8.0,
                              "unit": "s", "note": "last ack before isolation to first ack on mema2"}
    assert by_name["writes lost"]["value"] == 0 and by_name["writes lost"]["unit"] == "rows"
    assert by_name["switchover time"]["note"] == "SYSDBA/******@host1 timed it"  # redacted like every file
    html = (run / "report.html").read_text()
    start = html.index('<section id="dw-measurements">')
    top = html[start:html.index("</section>", start)]
    assert html.index('id="dw-signoff"') < start < html.index('id="dw-plots"')
    for cell in ("test_demo.py::test_takeover_after_isolation", "<td>RTO</td>", '"dw-value">8</td>',
                 '"dw-value">1.23457</td>', "<td>rows</td>", "SYSDBA/******@host1 timed it"):
        assert cell in top, (cell, top)
    entries = html.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"')
    assert entries.count("<h4>Measurements</h4>") == 2, "each measuring test's entry shows its figures"
    junit = (run / "junit.xml").read_text()
    assert '<property name="RTO" value="8.0 s (last ack before isolation to first ack on mema2)"' in junit
