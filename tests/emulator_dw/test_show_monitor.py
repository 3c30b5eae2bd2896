"""`show monitor` lists every monitor connected to each watcher in DM8's connect-info layout."""

from __future__ import annotations

import re

import pexpect
import pytest


def _show_monitor(mon) -> str:
    """The answer up to the next command's (dwlab's cmd() stops at the first `DMMONITOR[4.0] V8`, which
    this grid's MON_VERSION column prints)."""
    mon.p.sendline("show monitor")
    mon.p.sendline("show global info")
    mon.p.expect("<<DATABASE GLOBAL INFO:>>", timeout=30)
    return mon.p.before.replace("\r", "")


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(TRUE|FALSE)", line)]


@pytest.mark.parametrize("fresh_lab", [{}, {"bugs": "show-monitor-self-only"}], indirect=True,
                         ids=["sound", "show-monitor-self-only"])
def test_show_monitor_lists_a_second_monitor_self_first(fresh_lab):
    lab = fresh_lab
    first = lab.monitor(lang="en", name="first", confirm=0)
    second = lab.monitor(lang="en", name="second", confirm=0)
    out = _show_monitor(first)
    assert out.count("THE FIRST LINE IS SELF INFO.") == 2
    assert "GET MONITOR CONNECT INFO FROM DMWATCHER(mema2), THE FIRST LINE IS SELF INFO." in out
    rows = _rows(out)
    want = 1 if lab.env.get("DMEMU_BUGS") else 2
    assert len(rows) == 2 * want, out
    assert all(r[2] == "FALSE" for r in rows)
    assert len({r[3] for r in rows}) == want and rows[0][3] != _rows(_show_monitor(second))[0][3]


@pytest.mark.parametrize("fresh_lab", [{"confirm": 1}, {"confirm": 1, "bugs": "second-confirm-monitor-accepted"}],
                         indirect=True, ids=["sound", "second-confirm-monitor-accepted"])
def test_a_second_confirm_monitor_is_refused(fresh_lab):
    lab = fresh_lab
    first = lab.monitor(lang="en", name="confirm1")
    if lab.env.get("DMEMU_BUGS"):
        lab.monitor(lang="en", name="confirm2")
        assert [r[2] for r in _rows(_show_monitor(first))].count("TRUE") == 4
        return
    with pytest.raises(pexpect.EOF):
        lab.monitor(lang="en", name="confirm2")
    lab.monitors.pop()
    assert "code = -14" in lab.read("confirm2.transcript")
    assert [r[2] for r in _rows(_show_monitor(first))] == ["TRUE", "TRUE"]
