"""Issue 12: the report says whether any verdict rested on wording no real DM8 capture confirms (the
harness.transcript registry), in the top block and as unconfirmed-wording.json in the run folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reportdemo import latest_run, pytest_cmd, pytest_env

from harness.report.html import unconfirmed_html


def _run(folder: Path, body: str) -> Path:
    (folder / "test_w.py").write_text(body)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    proc = subprocess.run(pytest_cmd(folder, "-q"), cwd=folder, env=pytest_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
    assert proc.returncode == 0, proc.stdout
    return latest_run(folder)


def test_a_clean_run_says_none(tmp_path: Path) -> None:
    run = _run(tmp_path, "def test_ok():\n    pass\n")
    html = (run / "report.html").read_text()
    assert "Verdicts resting on unconfirmed wording: none" in html
    assert html.index("dw-signoff-table") < html.index("dw-unconfirmed") < html.index("dw-files")
    assert json.loads((run / "unconfirmed-wording.json").read_text()) == []


def test_a_decision_on_emulator_wording_is_listed_and_written(tmp_path: Path) -> None:
    run = _run(tmp_path, '''
from harness.transcript import unconfirmed

def test_decides_by_words():
    unconfirmed("show.tip_words", "tip: all quiet SYSDBA/Mema_1234", "tip normal")
''')
    html = (run / "report.html").read_text()
    assert "Verdicts resting on unconfirmed wording: 1" in html and "show.tip_words" in html
    saved = json.loads((run / "unconfirmed-wording.json").read_text())
    assert [(e["reader"], e["decision"]) for e in saved] == [("show.tip_words", "tip normal")]
    assert "Mema_1234" not in html and "Mema_1234" not in json.dumps(saved)


def test_the_line_escapes_and_lists_each_entry() -> None:
    entries = [{"reader": "r", "wording": "<b>x</b>", "decision": "d1", "time": "t"},
               {"reader": "r", "wording": "y", "decision": "d2", "time": "t"}]
    html = unconfirmed_html(entries)
    assert "unconfirmed wording: 2" in html and html.count("<li>") == 2 and "&lt;b&gt;" in html
