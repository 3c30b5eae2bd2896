"""DM error detection in disql/dmrman/dminit output (issue 12, item 3): every form DM prints."""

from __future__ import annotations

import pytest

from harness.toolout import disql_login, dm_error, grids


@pytest.mark.parametrize(("text", "code", "line"), [
    ("SQL> selec 1;\nline 1, has error[-2007]: \nsyntax error\n", -2007, 1),
    ("SQL> select * from nothere;\nline 1, has error[-2106]: invalid table or view name [NOTHERE]\n", -2106, 1),
    ("SQL> selec 1;\n第1 行附近出现错误[-2007]:\n语法分析出错\n", -2007, 1),
    ("[-70028]:创建SOCKET连接失败\ndisql V8\n", -70028, None),
    ("RMAN> backup database;\n[CODE:-8003]xyzzy\n", -8003, None),
])
def test_dm_error_forms(text: str, code: int, line: int | None) -> None:
    err = dm_error(text)
    assert err is not None and (err.code, err.line) == (code, line)


def test_no_error_in_a_clean_run() -> None:
    assert dm_error("SQL> alter database primary;\n操作已执行\n已用时间: 1.2(毫秒). 执行号:0.\n") is None


def test_procedure_disql_fails_on_the_english_error_form(tmp_path) -> None:
    """disql exits 0 after a failed statement; its English error line must fail the step."""
    from types import SimpleNamespace

    from harness.errors import StepError
    from harness.procedure import Procedure
    from harness.steps import StepLog
    from harness.topology import Topology

    class Host(SimpleNamespace):
        def bin(self, tool: str) -> str:
            return tool

        def path(self, p: str) -> str:
            return p

        def write_file(self, *a, **k) -> None:
            pass

        def run(self, cmd: str, **k) -> SimpleNamespace:
            return SimpleNamespace(rc=0, output="SQL> alter database primary;\n"
                                   "line 1, has error[-2018]: xyzzy\n", duration=0.1)

    t = Topology()
    proc = Procedure(None, {t.primary.name: Host(name="host1")}, t, StepLog(), tmp_path)  # type: ignore[arg-type]
    with pytest.raises(StepError, match="-2018"):
        proc.disql(t.primary, "九 alter database primary", ["alter database primary;"])
    assert not proc.steps.steps[-1].ok


def test_disql_login_banner_and_grid() -> None:
    out = ("Server[LOCALHOST:5236]:mode is normal, state is open\nlogin used time : 3.106(ms)\n"
           "disql V8\nSQL> select name, status$ from v$instance;\n\nLINEID     NAME     STATUS$\n"
           "---------- -------- -------\n1          DMSERVER OPEN\n2                   MOUNT\n\nused time: 1ms\n")
    login = disql_login(out)
    assert login.ok and login.server == "LOCALHOST:5236" and "normal" in login.status
    g = grids(out)[0]
    assert g.columns == ["LINEID", "NAME", "STATUS$"]
    assert g.rows == [["1", "DMSERVER", "OPEN"], ["2", "", "MOUNT"]]
