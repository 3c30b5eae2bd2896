"""The emulator's disql and dmrman lines against real captures (tests/corpus/dm8/): banner order, the
-70028 refusal, the login time unit and dmrman's backup lines."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from dmemu.tools import disql, dmrman

CORPUS = Path(__file__).parents[1] / "corpus/dm8"


def _lang(monkeypatch, lang: str) -> None:
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.setenv("DM_LANG", lang)


def _capture(name: str) -> list[str]:
    return (CORPUS / name).read_text(encoding="utf-8").split("#@ ---\n", 1)[1].splitlines()


def test_disql_names_itself_before_asking_and_words_70028_as_the_capture(monkeypatch, capsys):
    _lang(monkeypatch, "cn")
    monkeypatch.setattr("sys.stdin", io.StringIO("SYSDBA\nxx\n"))
    assert disql.main(["@127.0.0.1:1"]) == 1
    out = capsys.readouterr().out
    real = _capture("disql/login-fail-70028-cn-dameng-faq.txt")
    assert out.splitlines()[0] == "disql V8" == real[1]
    assert out.rstrip().endswith(real[-1]), out                     # [-70028]:创建SOCKET连接失败.


@pytest.mark.parametrize("lang,capture", [("cn", "disql/login-ok-ipv4-ipv6-cn-dameng-faq.txt"),
                                          ("en", "disql/login-ok-en-mpp-dameng-faq.txt")])
def test_disql_login_banner_has_the_capture_form(monkeypatch, lang, capture):
    _lang(monkeypatch, lang)
    monkeypatch.setattr(disql.Disql, "_pick", lambda self, tgt, u, p: (object(), ("192.168.15.71", 5236),
                                                                        "NORMAL", "OPEN"))
    d = disql.Disql(out=io.StringIO())
    assert d.login("SYSDBA/x@192.168.15.71:5236")
    ours, real = d.out.getvalue().splitlines(), _capture(capture)
    assert re.sub(r"\[.*\]", "[]", ours[0]) == re.sub(r"\[.*\]", "[]", real[0])
    assert re.sub(r"[\d.]+", "N", ours[1]) == re.sub(r"[\d.]+", "N", real[1])     # 登录使用时间 : N(ms)


def test_dmrman_backup_lines_match_the_capture(monkeypatch, tmp_path):
    monkeypatch.setattr(dmrman.backup, "backup_offline", lambda ini, dest: None)
    out = io.StringIO()
    assert dmrman.run_statement(f"BACKUP DATABASE '{tmp_path}/dm.ini' FULL TO B1 BACKUPSET '/dmbak/BACKUP_FILE_01'",
                                out)
    ours = out.getvalue().splitlines()
    real = _capture("dmrman/backup-full-dmshell-c7.txt")
    for line in ("Processing backupset /dmbak/BACKUP_FILE_01", "backup successfully!"):
        assert line in ours and line in real
    percent = [x for x in ours if x.startswith("[Percent:")]
    assert len(percent) == 1 and len(percent[0]) == len(real[real.index("backup successfully!") - 1])


@pytest.mark.parametrize("lang,want", [("cn", "已用时间: "), ("en", "used time: ")])
def test_statement_timing_line(monkeypatch, lang, want):
    _lang(monkeypatch, lang)
    d = disql.Disql(out=io.StringIO())
    d._timing(0.0)
    line = d.out.getvalue()
    assert line.startswith(want)
    if lang == "cn":                                                 # confirmed: 已用时间: 0.617(毫秒). 执行号:805.
        assert line.rstrip().endswith(f"(毫秒). 执行号:{d.exec_id}.")
