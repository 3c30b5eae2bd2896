"""Unit checks of redaction, sign-off mapping/verdicts and plots (no subprocess, no browser)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from harness import plots, report, signoff


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("disql SYSDBA/Mema_1234@192.168.56.201:5236", "disql SYSDBA/******@192.168.56.201:5236"),
        ('disql SYSDBA/"Pass_word9"@host1:5236', 'disql SYSDBA/"******"@host1:5236'),
        ("dminit path=/opt/dm8/data SYSDBA_PWD=Other_999 db_name=memadb",
         "dminit path=/opt/dm8/data SYSDBA_PWD=****** db_name=memadb"),
        ('{"password": "hunter22", "user": "SYSDBA"}', '{"password": "******", "user": "SYSDBA"}'),
        ("create user u1 identified by Abcd_1234;", "create user u1 identified by ******;"),
        ("the seed password Mema_1234 in prose", "the seed password ****** in prose"),
        ("cp /opt/dm8/bin/dmserver /tmp/x@y", "cp /opt/dm8/bin/dmserver /tmp/x@y"),  # paths are not user/pwd
        ("PORT_NUM = 5236", "PORT_NUM = 5236"),
        ("请输入密码:\nGRP1 mema1", "请输入密码:\nGRP1 mema1"),  # a prompt: the next line is not a password
        ("密码：Abc_12345", "密码：******"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert report.redact(text) == expected


def test_redact_leaves_embedded_images_alone_and_masks_added_secrets() -> None:
    uri = "data:image/png;base64,QUJDUFdEPT0="  # would match PWD= if it were plain text
    report.add_secret("s3cr3t-value")
    assert report.redact(f'<img src="{uri}"> token s3cr3t-value') == f'<img src="{uri}"> token ******'
    report.add_secret("ab")  # too short to mask safely
    assert report.redact("table ab") == "table ab"


@dataclass
class FakeMark:
    name: str
    args: tuple = ()


class FakeItem:
    def __init__(self, nodeid: str, marks: list[FakeMark] | None = None) -> None:
        self.nodeid, self.name, self._marks = nodeid, nodeid.rsplit("::", 1)[-1], marks or []

    def iter_markers(self, name: str | None = None):
        return (m for m in self._marks if name is None or m.name == name)


@pytest.mark.parametrize(
    ("nodeid", "marks", "items"),
    [
        ("suites/smoke/test_up.py::test_write_read", [], ["build"]),
        ("suites/conformance/test_ini.py::test_dmmal", [], ["build"]),
        ("suites/replication/test_apply.py::test_rows", [], ["replication"]),
        ("suites/failover/test_switch.py::test_switchover_and_back", [], ["switchover"]),
        ("suites/failover/test_take.py::test_takeover_after_kill", [], ["takeover"]),
        ("suites/failover/test_sb.py::test_split_brain_rebuild", [], ["split-brain"]),
        ("suites/client/test_login.py::test_login_mode_primary", [], ["client-failover"]),
        ("suites/lifecycle/test_order.py::test_stop_order", [], ["shutdown-order"]),
        ("suites/chaos/test_mal.py::test_cut_mal", [], ["chaos"]),
        ("tests/harness/test_x.py::test_y", [], []),
        ("tests/x.py::test_marked", [FakeMark("chaos")], ["chaos"]),
        ("suites/failover/test_x.py::test_odd", [FakeMark("signoff", ("takeover", "chaos"))], ["takeover", "chaos"]),
    ],
)
def test_signoff_mapping(nodeid: str, marks: list[FakeMark], items: list[str]) -> None:
    assert signoff.items_for(FakeItem(nodeid, marks)) == items


def test_signoff_verdicts() -> None:
    so = signoff.SignOff()
    tests = [FakeItem("suites/chaos/t.py::test_a"), FakeItem("suites/chaos/t.py::test_b"),
             FakeItem("suites/replication/t.py::test_c"), FakeItem("suites/client/t.py::test_d")]
    so.collected(tests)
    so.outcome("suites/chaos/t.py::test_a", "passed", final=False)
    so.finished("suites/chaos/t.py::test_a")
    assert so.tallies["chaos"].verdict() == "INCOMPLETE"  # test_b has not run
    so.outcome("suites/chaos/t.py::test_b", "skipped", final=True)
    assert so.tallies["chaos"].verdict() == "PASS"
    so.outcome("suites/replication/t.py::test_c", "passed", final=False)
    so.outcome("suites/replication/t.py::test_c", "error", final=True)  # teardown failed after a pass
    assert so.tallies["replication"].verdict() == "FAIL"
    so.outcome("suites/client/t.py::test_d", "skipped", final=True)
    assert so.tallies["client-failover"].verdict() == "SKIPPED"
    assert so.tallies["takeover"].verdict() == "NOT RUN"
    assert so.overall(interrupted=False) == "FAIL"
    html = so.html()
    assert html.count("<tr data-item=") == len(signoff.ITEMS)


def test_run_verdict_counts_failures_outside_the_items() -> None:
    so = signoff.SignOff()
    so.collected([FakeItem("tests/harness/t.py::test_unmapped")])
    assert 'dw-not-run">NOT RUN</span>' in so.html(exitstatus=0)
    assert 'dw-fail">FAIL</span> (tests outside the sign-off items failed' in so.html(exitstatus=1)


@dataclass
class Op:
    type: str
    time: datetime


def test_timeline_png_from_objects_datetimes_and_missing_parts() -> None:
    t = datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc)
    png = plots.timeline(None, None, [Op("ok", t), Op("fail", t.replace(second=5)), Op("invoke", t)])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert plots.timeline([], [], []).startswith(b"\x89PNG")


def test_timeline_marks_rto_and_faults() -> None:
    samples = [{"t": 0, "instance": "mema1", "role": "PRIMARY"}, {"t": 5, "instance": "mema1", "role": "ERROR"}]
    plain = plots.timeline(samples, [], [])
    marked = plots.timeline(samples, [{"start": 2, "end": None, "name": "kill -9 dmserver"}], [], rto=(2, 6))
    assert plain != marked


def test_apply_lag_from_lsn_pairs() -> None:
    png = plots.apply_lag([{"t": i, "primary_lsn": 100 * i, "standby_lsn": 90 * i, "rows": 1000 * i}
                           for i in range(10)])
    assert png.startswith(b"\x89PNG")
    assert plots.apply_lag([]).startswith(b"\x89PNG")


def test_attach_rejects_unknown_kind(request: pytest.FixtureRequest) -> None:
    with pytest.raises(ValueError, match="unknown kind 'plot'.*known: steps, show, log, timeline, apply_lag"):
        report.attach(request, "plot", {})


def test_attach_to_the_running_test_and_test_failed(request: pytest.FixtureRequest) -> None:
    report.attach(None, "show", "GRP1 mema1 PRIMARY OPEN")  # None = the running test
    assert report.test_failed(request) is False


def test_timeline_from_a_harness_history_and_fault_records() -> None:
    """The workload's History (ops, role samples, faults) and chaos FaultRecords plot without glue code."""
    from harness.chaos import FaultRecord
    from harness.history import History
    from harness.report.attachments import timeline_parts as _timeline_parts

    h = History(seed=1)
    for i in range(20):
        t = 100.0 + i
        h.sample("mema1", "PRIMARY" if i < 8 else None, "OPEN" if i < 8 else None, at=t)
        h.sample("mema2", "STANDBY" if i < 12 else "PRIMARY", "OPEN" if i != 11 else "MOUNT", at=t)
        inv = h.record("w0", "invoke", "add", i, at=t)
        h.record("w0", "ok" if not 8 <= i < 12 else "info", "add", inv.value, at=t + 0.1)
    h.faults.append(FaultRecord("kill -9 dmserver@host1", None, 107.5, 112.0))
    samples, faults, rto = _timeline_parts({"history": h})
    assert len(samples) == 40 and len(faults) == 1
    assert rto and rto[0].seconds == pytest.approx(5.0)
    assert plots._rto_spans(rto) == [(107.1, 112.1, " (kill -9 dmserver@host1)")]
    assert plots._role_label(samples[1]) == "STANDBY"
    assert plots._role_label(h.roles[-17]) == "STANDBY/MOUNT"
    assert plots._role_label(h.roles[-1]) == "PRIMARY" and plots._role_label(h.roles[-2]) == "UNREACHABLE"
    assert plots.timeline(samples, faults, h, rto=rto).startswith(b"\x89PNG")


@pytest.mark.parametrize(("shape", "instances"), [(None, ["mema1", "mema2"]),
                                                  ("1p2rt1async", ["mema1", "mema2", "mema3", "mema4"])])
def test_signoff_names_every_instance_of_the_group(shape: str | None, instances: list[str]) -> None:
    """Issue 14 item 6: the sign-off says which group it is for, one row per instance (the ASYNC standby
    with its timer), on the seed's 1+1 and on a larger group."""
    from harness.config import preset

    html = signoff.SignOff().html(group=preset(shape).summary())
    rows = html[html.index('id="dw-signoff-group"'):html.index('id="dw-signoff-table"')]
    assert [r.split('"')[0] for r in rows.split('<tr data-instance="')[1:]] == instances
    assert f"{len(instances)} instances" in html
    if shape:
        assert "<td>mema4</td><td>host4</td><td>standby</td><td>ASYNC (timer every 1 min)</td>" in rows
    assert signoff.SignOff().html().count("dw-signoff-group") == 0  # no topology known: no block
