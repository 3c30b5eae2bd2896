"""The trend page over fake run folders: verdict changes, figures over runs as inline SVG plots (RTO from a
workload history and the fault log, RPO, switchover/takeover steps, apply lag, suite durations), the exit
status a nightly job keys on, and the page as headless Chromium shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakeruns import RUNS, fake_run
from reportdemo import probe, probe_script

from harness.report import series, trend


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    fake_run(out, RUNS[0], "03134284194-20240703", takeover_ok=True, outage=6.0, lost=0, takeover_s=7.0, lag=900)
    fake_run(out, RUNS[1], "03134284194-20240703", takeover_ok=True, outage=7.0, lost=0, takeover_s=8.0, lag=950)
    fake_run(out, RUNS[2], "03134284194-20241120", takeover_ok=False, outage=15.0, lost=3, takeover_s=21.0,
             lag=4000)
    return out


def test_figures_of_one_run_come_from_what_it_stored(reports: Path) -> None:
    figs = series.run_figures(reports / RUNS[2], json.loads((reports / RUNS[2] / "measurements.json").read_text()))
    assert figs["RTO"] == pytest.approx(15.0), "the outage around the fault, from the compressed history"
    assert figs["RPO"] == 3 and figs["apply lag"] == 4000
    assert figs["switchover"] == 3.5 and figs["takeover"] == 21.0, "failed steps do not count"
    assert figs["suite failover"] == 70.0 and figs["suite smoke"] == 5.0


def test_trend_page_shows_the_changed_verdict_and_plots_in_chromium(reports: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert trend.main([str(reports)]) == 1, "a new failure fails the trend"
    out = capsys.readouterr().out
    assert "suites.failover.test_takeover::test_takeover: passed -> failed" in out
    assert "RTO: 6 | 7 | 15 s" in out, out
    assert "takeover: 7 | 8 | 21 s" in out, out
    page = reports / "trend.html"
    seen = probe(page, tmp_path, script=TREND_PROBE)
    assert seen["external"] == [], "self-contained: nothing fetched"
    assert seen["changed_visible"] and "passed" in seen["changed_text"] and "failed" in seen["changed_text"]
    assert "test_takeover" in seen["new_failures_text"]
    assert set(seen["plots"]) >= {"RTO", "RPO", "switchover", "takeover", "apply lag", "suite failover",
                                  "suite smoke"}, seen["plots"]
    assert seen["plots_visible"] == len(seen["plots"]), seen
    assert seen["points"] >= 3 * 7 and seen["red_points"] == 7, "the failing run's point is red on every plot"


def test_exit_status_for_a_nightly_job(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = trend.load_runs(reports)
    assert trend.exit_status(trend.compare(runs)) == 1, "new failure"
    was_failing = trend.load_run(reports / RUNS[2])  # then a newer run back to passing: changed, not new
    now_passing = trend.load_run(reports / RUNS[0])
    now_passing.run = "20261204T010000Z-dddddd"
    t = trend.compare([runs[0], was_failing, now_passing])
    assert t.changed and not t.new_failures
    assert trend.exit_status(t) == 0 and trend.exit_status(t, fail_on_change=True) == 1
    same = trend.compare(runs[:2])
    assert not same.verdict_changed and trend.exit_status(same, fail_on_change=True) == 0
    assert trend.main([str(reports), "--fail-on-change", "--html", str(reports / "t.html")]) == 1
    capsys.readouterr()


TREND_PROBE = probe_script("""
    var changed = document.getElementById('dw-changed');
    var table = changed ? changed.nextElementSibling : null;
    var nf = document.getElementById('dw-new-failures');
    var figs = Array.prototype.slice.call(document.querySelectorAll('figure[data-series] svg'));
    var points = Array.prototype.slice.call(document.querySelectorAll('circle.dw-point'));
    return {
      changed_visible: vis(table),
      changed_text: table ? table.innerText : '',
      new_failures_text: nf && nf.nextElementSibling ? nf.nextElementSibling.innerText : '',
      plots: figs.map(function (s) { return s.parentNode.getAttribute('data-series'); }),
      plots_visible: figs.filter(vis).length,
      points: points.length,
      red_points: points.filter(function (c) { return c.getAttribute('fill') === '#c62828'; }).length,
    };""")


def test_every_report_has_the_trend_section(tmp_path: Path) -> None:
    from reportdemo import latest_run, run_demo

    run_demo(tmp_path, "-q")
    first = latest_run(tmp_path)
    assert "No earlier run of the same target and topology." in (first / "report.html").read_text()
    run_demo(tmp_path, "-q")
    second = latest_run(tmp_path)
    page = (second / "report.html").read_text()
    assert '<section id="dw-trend">' in page and f"Compared with {first.name}" in page
    assert "Verdicts that changed (0)" in page and 'id="dw-trend-plots"' in page
    assert (second / "figures.json").is_file(), "the run keeps its figures for later trends"


def test_a_merged_run_is_read_through_its_shards(reports: Path) -> None:
    from harness.report.merge import merge

    merged = merge([reports / RUNS[0], reports / RUNS[1]], reports / "20261204T010000Z-eeeeee")
    figs = series.run_figures(merged.folder, json.loads((merged.folder / "measurements.json").read_text()))
    assert figs["RTO"] == pytest.approx(7.0) and figs["takeover"] == 8.0 and figs["apply lag"] == 950
    assert figs["suite failover"] == 140.0, "both shards' junit times"
