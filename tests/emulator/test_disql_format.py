"""disql pieces that need no server: login parsing, dm_svc.conf resolution, the result grid, statement
splitting, set options."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from dmemu.tools import disql, disqlgrid, disqlinput


@pytest.mark.parametrize("spec,expected", [
    ("SYSDBA/Mema_1234@192.168.0.1:5236", ("SYSDBA", "Mema_1234", "192.168.0.1:5236")),
    ("sysdba", ("sysdba", None, None)),
    ("sysdba@host1:5236", ("sysdba", None, "host1:5236")),
    ("SYSDBA/Mema_1234", ("SYSDBA", "Mema_1234", None)),
    ('SYSDBA/"Dameng@123"@192.168.0.1:32141', ("SYSDBA", "Dameng@123", "192.168.0.1:32141")),
    ("SYSDBA/pwd@DMHA", ("SYSDBA", "pwd", "DMHA")),
    ("SYSDBA/pwd AS SYSDBA", ("SYSDBA", "pwd", None)),
])
def test_parse_login(spec, expected):
    assert disql.parse_login(spec) == expected


def test_resolve_host_port_default_and_service(tmp_path, monkeypatch):
    (tmp_path / "dm_svc.conf").write_text(
        "TIME_ZONE=(480)\nmemadb=(192.168.3.201:5236,192.168.3.202:5237)\nLOGIN_MODE=(1)\n"
        "SWITCH_TIME=(3)\nSWITCH_INTERVAL=(1000)\n")
    monkeypatch.setenv("DM_SVC_PATH", str(tmp_path))
    monkeypatch.delenv("DMEMU_DEFAULT_SERVER", raising=False)
    t = disql.resolve("memadb")
    assert t.endpoints == [("192.168.3.201", 5236), ("192.168.3.202", 5237)]
    assert (t.login_mode, t.switch_times, t.switch_interval) == (1, 3, 1.0)
    assert disql.resolve("10.0.0.1:999").endpoints == [("10.0.0.1", 999)]
    assert disql.resolve(None).endpoints == [("LOCALHOST", 5236)]
    assert disql.resolve("otherhost").endpoints == [("otherhost", 5236)]


def test_grid_matches_dm_layout():
    st = disql.Settings()
    lines = disqlgrid.render_grid(["MODE$", "STATUS$"], [None, None], [("STANDBY", "OPEN")], st)
    assert lines == ["行号     MODE$   STATUS$", "---------- ------- -------", "1          STANDBY OPEN"]


def test_grid_options_values_and_paging(monkeypatch):
    st = disql.Settings(lineshow=False, colsep="|", pagesize=2)
    rows = [(1, None, Decimal("1.50"), dt.datetime(2021, 7, 30, 13, 8, 44, 212306)), (2, "x", None, None),
            (3, "y", None, dt.date(2021, 1, 2))]
    lines = disqlgrid.render_grid(["ID", "NAME", "N", "T"], [11, None, None, None], rows, st)
    assert lines[0].startswith("ID         |NAME|N   |T")
    assert lines[2] == "1          |NULL|1.50|2021-07-30 13:08:44.212306"
    assert lines.count(lines[0]) == 2                     # header repeated after `pagesize` rows
    assert disqlgrid.render_grid(["A"], [None], [(1,)], disql.Settings(heading=False)) == ["1          1"]
    monkeypatch.setenv("LANGUAGE", "en")
    assert disqlgrid.render_grid(["A"], [None], [(1,)], disql.Settings())[0].startswith("LINEID")


def test_statement_splitting():
    text = ["select 1", "from dual;", "host ls /tmp", "begin", "  null;", "end;", "/", "", "conn a/b@h:1",
            "set timing off", "select 2"]
    assert disqlinput.split_statements(text) == ["select 1\nfrom dual;", "host ls /tmp", "begin\n  null;\nend;",
                                            "conn a/b@h:1", "set timing off", "select 2"]


def test_several_statements_on_one_line():
    assert disqlinput.split_statements(["select 1; select ';' from dual;", "insert into t values(1);commit;"]) == \
        ["select 1;", "select ';' from dual;", "insert into t values(1);", "commit;"]


def test_set_and_show_options():
    out = io.StringIO()
    d = disql.Disql(out)
    d.command("set heading off feedback off timing off lineshow off pagesize 50 linesize 200 colsep |")
    assert (d.st.heading, d.st.feedback, d.st.timing, d.st.lineshow) == (False, False, False, False)
    assert (d.st.pagesize, d.st.linesize, d.st.colsep) == (50, 200, "|")
    d.command("show pagesize")
    assert "PAGESIZE 50" in out.getvalue()
    d.command("set nosuchthing on")
    assert "未知的设置选项[nosuchthing]" in out.getvalue()
    d.command("select 1 from dual;")
    assert "没有连接到服务器" in out.getvalue()
    assert d.command("exit 3") == 3


def test_host_command_runs_in_a_shell(tmp_path):
    (tmp_path / "SYSTEM.DBF").write_text("")
    out = io.StringIO()
    disql.Disql(out).command(f"host ls {tmp_path}")
    assert "SYSTEM.DBF" in out.getvalue()
