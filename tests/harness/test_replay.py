"""Transcripts and `python -m harness.replay` (issue 12, item 4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import replay, show
from harness.transcript import Transcript, read
from tests.harness.fake_monitor import show_text

ROWS = {"mema1": ("OPEN", "OPEN", "PRIMARY", "VALID"), "mema2": ("OPEN", "OPEN", "STANDBY", "VALID")}


def _run(tmp: Path) -> Path:
    mon = Transcript(tmp, "monitor", "dmmonitor", redact=lambda s: s, secrets=("Mema_1234",))
    mon.add("show", show_text(ROWS))
    mon.add("choose switchover GRP1", "choose switchover GRP1\nmema2\n")
    mon.add("login SYSDBA", "login\nusername:SYSDBA\npassword:Mema_1234\n")
    Transcript(tmp, "host1", "disql", redact=lambda s: s).add("disql SYSDBA/x@h:1", "line 1, has error[-2007]: x\n")
    return tmp


def test_transcripts_are_jsonl_per_host_and_tool_with_passwords_masked(tmp_path: Path) -> None:
    _run(tmp_path)
    files = sorted(p.name for p in (tmp_path / "transcripts").iterdir())
    assert files == ["host1-disql.jsonl", "monitor-dmmonitor.jsonl"]
    recs = read(tmp_path / "transcripts" / "monitor-dmmonitor.jsonl")
    assert [r["command"] for r in recs] == ["show", "choose switchover GRP1", "login SYSDBA"]
    assert "Mema_1234" not in (tmp_path / "transcripts" / "monitor-dmmonitor.jsonl").read_text()
    assert {"time", "host", "tool", "command", "output"} <= set(json.loads(
        (tmp_path / "transcripts" / "host1-disql.jsonl").read_text().splitlines()[0]))


def test_replay_summarises_every_tool(tmp_path: Path) -> None:
    lines: list[str] = []
    assert replay.replay(_run(tmp_path), lines.append) == 0
    text = "\n".join(lines)
    assert "MEMA1=OPEN/OPEN/PRIMARY/VALID" in text and "candidates ['mema2']" in text
    assert "error -2007 line 1" in text
    assert "dmmonitor: 3 exchanges (show 1, choose 1, login 1)" in text and "disql: 1 exchanges (error 1)" in text


def test_replay_exits_non_zero_when_a_reader_raises(tmp_path: Path, monkeypatch) -> None:
    def broken(text: str) -> None:
        raise ValueError("reader bug")

    monkeypatch.setattr(show, "parse_show", broken)
    lines: list[str] = []
    assert replay.replay(_run(tmp_path), lines.append) == 1
    assert any(line.startswith("READER FAILED") and "reader bug" in line for line in lines)


def test_replay_command_line_on_a_latest_link(tmp_path: Path) -> None:
    run = _run(tmp_path / "20261205T000000Z-abcdef")
    (tmp_path / "latest").symlink_to(run.name)
    res = subprocess.run([sys.executable, "-m", "harness.replay", str(tmp_path / "latest")], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "dmmonitor: 3 exchanges" in res.stdout
    empty = subprocess.run([sys.executable, "-m", "harness.replay", str(tmp_path)], capture_output=True,
                           text=True, timeout=60)
    assert empty.returncode == 2
