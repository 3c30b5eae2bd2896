"""Monitor decisions rest on state and DM error codes, not on success sentences (issue 12, item 1).

The fake monitor answers with wording no reader knows ("xyzzy ..."): a command succeeds exactly when a
following `show` reports the expected state, and fails at once on an explicit DM error."""

from __future__ import annotations

import time

import pytest

from harness.monitor import MonitorError
from harness.transcript import UNCONFIRMED_WORDING
from tests.harness.fake_monitor import fake_monitor, show_text

HEALTHY = {"mema1": ("OPEN", "OPEN", "PRIMARY", "VALID"), "mema2": ("OPEN", "OPEN", "STANDBY", "VALID")}
SWAPPED = {"mema1": ("OPEN", "OPEN", "STANDBY", "VALID"), "mema2": ("OPEN", "OPEN", "PRIMARY", "VALID")}


class Group:
    """The group the fake monitor reports, changed by what the commands do."""

    def __init__(self, *, on_yes: dict | None = None, answer: str = "xyzzy done\n", logged_in: bool = True,
                 login_works: bool = True) -> None:
        self.rows, self.on_yes, self.answer = dict(HEALTHY), on_yes, answer
        self.logged_in, self.login_works = logged_in, login_works
        self.confirming = False
        self.login_step = 0

    def __call__(self, line: str) -> str | None:
        if self.login_step:
            self.login_step = (self.login_step + 1) % 3
            if self.login_step == 0:
                self.logged_in = self.login_works
                return "xyzzy plugh\n"
            return "qwerty:"
        if line == "login":
            self.login_step = 1
            return "uvwxyz:"
        if line == "show":
            return show_text(self.rows)
        if line == "tip":
            return "xyzzy tip answer\n"
        if not self.logged_in:
            return "[monitor]         2026-12-05 00:00:01: 请先登录监视器\n"
        if line.startswith("choose"):
            return "[monitor]         2026-12-05 00:00:01: Received message timeout from(mema1)\n" \
                   "    2026-12-05 00:00:00  ERROR          OK        mema1            OPEN        PRIMARY   VALID\n" \
                   "\n" + ("GRP1.mema2\n" if self.on_yes is not None else "xyzzy nothing here\n")
        if line.startswith(("switchover", "takeover")):
            self.confirming = True
            return "xyzzy continue (YES/NO/Y/N)?"
        if line == "YES" and self.confirming:
            self.confirming = False
            if self.on_yes is not None:
                self.rows = dict(self.on_yes)
            return "[monitor]         2026-12-05 00:00:02: xyzzy step\n[SWITCHOVER-->OPEN]\n" + self.answer
        if line.startswith("stop group"):
            self.rows = {n: ("SHUTDOWN", "SHUTDOWN", r[2], r[3]) for n, r in self.rows.items()}
            return self.answer
        return self.answer


def test_switchover_with_unknown_wording_is_decided_by_state() -> None:
    m, child = fake_monitor(Group(on_yes=SWAPPED))
    out = m.switchover("mema2", timeout=5)
    assert "xyzzy" in out and child.sent[-1] == "show" and "switchover GRP1.mema2" in child.sent
    assert UNCONFIRMED_WORDING == []


def test_switchover_whose_state_never_changes_fails_at_the_deadline() -> None:
    m, _ = fake_monitor(Group(on_yes=None))
    t0 = time.monotonic()
    with pytest.raises(MonitorError, match="MEMA2 PRIMARY OPEN"):
        m.switchover("mema2", timeout=2)
    assert time.monotonic() - t0 < 10


def test_an_explicit_dm_error_fails_at_once() -> None:
    m, _ = fake_monitor(Group(on_yes=None, answer="[monitor] xyzzy, code = -1005\nxyzzy\n"))
    m.t.timers.dw_error_time = 100  # a long state deadline: only the error code can end this quickly
    t0 = time.monotonic()
    with pytest.raises(MonitorError, match="-1005"):
        m.takeover("mema2")
    assert time.monotonic() - t0 < 10


def test_switchover_to_the_primary_itself_is_refused_without_sending_it() -> None:
    m, child = fake_monitor(Group(on_yes=SWAPPED))
    with pytest.raises(MonitorError, match="already the OPEN primary"):
        m.switchover("mema1", timeout=5)
    assert not any(s.startswith("switchover") for s in child.sent)


def test_stop_group_with_unknown_wording_is_decided_by_state() -> None:
    g = Group()
    m, _ = fake_monitor(g)
    m.stop_group()
    assert {r[0] for r in g.rows.values()} == {"SHUTDOWN"}


def test_login_is_decided_by_the_next_command_not_being_refused() -> None:
    m, _ = fake_monitor(Group(logged_in=False))
    m.login()
    assert m.logged_in
    m2, _ = fake_monitor(Group(logged_in=False, login_works=False))
    with pytest.raises(MonitorError, match="login"):
        m2.login()


def test_a_not_logged_in_refusal_logs_in_and_retries() -> None:
    g = Group(on_yes=SWAPPED, logged_in=False)
    m, child = fake_monitor(g)
    m.switchover("mema2", timeout=5)
    assert "login" in child.sent and g.rows == SWAPPED


def test_choose_reads_known_names_and_none_means_no_candidate() -> None:
    m, _ = fake_monitor(Group(on_yes=SWAPPED))
    assert m.choose_takeover() == ["mema2"]  # mema1 only appears in the interleaved message block
    m2, _ = fake_monitor(Group(on_yes=None))
    assert m2.choose_takeover() == []


def test_tip_with_unknown_wording_is_decided_by_show() -> None:
    g = Group()
    m, _ = fake_monitor(g)
    assert m.tip()[0] is True
    g.rows["mema2"] = ("OPEN", "OPEN", "STANDBY", "INVALID")
    assert m.tip()[0] is False


def test_no_decision_module_holds_a_success_sentence() -> None:
    """Issue 12's grep: the monitor, procedure and reader modules look for no success sentence (成功 /
    success in a pattern), and no verdict was recorded as resting on unconfirmed wording."""
    import re
    from pathlib import Path

    import harness

    root = Path(harness.__file__).parent
    for name in ("monitor.py", "procedure.py", "show.py", "toolout.py", "sql.py"):
        text = (root / name).read_text(encoding="utf-8")
        assert "成功" not in text, name
        patterns = re.findall(r"re\.compile\((.*?)\)\n", text, re.S)
        assert not [p for p in patterns if re.search(r"success|_OK\b", p, re.I)], name
    assert UNCONFIRMED_WORDING == []
