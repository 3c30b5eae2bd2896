"""StepLog (JSON lines for the report, failing steps name themselves), wait_until and hold."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions
from harness.backends.local import LocalBackend
from harness.errors import StepError
from harness.steps import StepLog
from harness.topology import Topology
from harness.wait import WaitTimeout, hold, wait_until


@pytest.fixture
def host1():
    b = LocalBackend(BackendOptions(run_id="steps"))
    b.up(b.adapt(Topology()))
    yield b.hosts["host1"]
    b.down()


def test_steps_are_recorded_as_json_lines(tmp_path: Path, host1) -> None:
    log = StepLog(tmp_path / "run" / "steps.jsonl")
    res = log.run(host1, "四.1 say hello", "echo 你好", expect="你好")
    assert res.stdout == "你好\n"
    log.note("monitor", "十一.2 show", "show", "both OPEN", duration=0.5)
    with log.timed("host2", "wait", "something"):
        pass
    rows = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == ["四.1 say hello", "十一.2 show", "wait"]
    assert rows[0] == {**rows[0], "host": "host1", "command": "echo 你好", "rc": 0, "output": "你好\n", "ok": True}
    assert set(rows[0]) == {"host", "step", "command", "rc", "output", "duration", "ok", "started"}
    assert rows[1]["duration"] == 0.5


def test_failing_step_names_itself_and_shows_output(tmp_path: Path, host1) -> None:
    log = StepLog(tmp_path / "steps.jsonl")
    with pytest.raises(StepError) as exc:
        log.run(host1, "五.4 restore", "echo 'restore failed: [-8003] bad backup'; exit 1")
    msg = str(exc.value)
    assert msg.startswith("procedure step '五.4 restore' failed on host1: rc=1")
    assert "[-8003] bad backup" in msg and exc.value.step == "五.4 restore"
    with pytest.raises(StepError, match="output lacks 'SUCCESS'"):
        log.run(host1, "check", "echo nope", expect="SUCCESS")
    assert [s.ok for s in log.steps] == [False, False]
    with pytest.raises(RuntimeError), log.timed("host1", "timed failure", "x"):
        raise RuntimeError("boom")
    assert log.steps[-1].ok is False and "boom" in log.steps[-1].output


def test_wait_until_returns_value_and_reports_last_state() -> None:
    seq = iter([1, 2, 3, 4])
    assert wait_until(lambda: next(seq), 5, "a value above 2", ok=lambda v: v > 2, interval=0.01) == 3
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout) as exc:
        wait_until(lambda: "MOUNT", 0.3, "the primary to be OPEN", ok=lambda v: v == "OPEN", interval=0.05)
    assert time.monotonic() - t0 < 2
    assert "waiting for the primary to be OPEN; last seen: 'MOUNT'" in str(exc.value)
    with pytest.raises(WaitTimeout) as exc2:
        wait_until(lambda: "", 0.2, "a non-empty answer", interval=0.05)
    assert "a non-empty answer" in str(exc2.value) and "last seen: ''" in str(exc2.value)


def test_wait_until_treats_exceptions_as_not_yet() -> None:
    calls = []

    def probe() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("port closed")
        return "up"

    assert wait_until(probe, 5, "the port", interval=0.01) == "up"
    with pytest.raises(WaitTimeout, match="last seen: 'ConnectionRefusedError: nope'"):
        wait_until(lambda: (_ for _ in ()).throw(ConnectionRefusedError("nope")), 0.2, "never", interval=0.05)


def test_hold_polls_for_the_whole_time_and_names_what_broke() -> None:
    calls = []
    t0 = time.monotonic()
    hold(lambda: calls.append(1) or "OPEN", 0.3, "the primary OPEN", interval=0.05)
    assert time.monotonic() - t0 >= 0.3 and len(calls) >= 4
    states = iter(["PRIMARY", "PRIMARY", "PRIMARY", "", "PRIMARY"])
    t0 = time.monotonic()
    with pytest.raises(AssertionError) as exc:
        hold(lambda: next(states), 5, "mema1 PRIMARY", interval=0.05)
    assert time.monotonic() - t0 < 2  # fails as soon as the probe turns falsy, not at the end
    msg = str(exc.value)
    assert msg.startswith("mema1 PRIMARY stopped holding after 0.") and msg.endswith(": ''"), msg
    with pytest.raises(ConnectionRefusedError):
        hold(lambda: (_ for _ in ()).throw(ConnectionRefusedError("nope")), 1, "reachable", interval=0.05)
