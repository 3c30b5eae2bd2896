"""DMEMU_WORDING=alt (issue 12): the monitor's success, step and answer sentences change to unknown text,
while error codes, the `show` table and the state changes behind the commands stay the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from dmemu import lang
from dmemu.dw import altwording, messages  # noqa: F401 - registers the monitor's normal wording
from dwlab import Lab, parse_global


def _alt_catalog(language: str) -> dict[str, str]:
    """Every ALT key as a fresh process with DMEMU_WORDING=alt renders it (with placeholder arguments)."""
    code = ("import json; from dmemu import lang; from dmemu.dw import altwording, messages; "
            "fmt = dict(name='N', frm='A', to='B', sql='S', secs='1', group='G', dest='D', cmd='C'); "
            "print(json.dumps({k: lang.msg(k, **fmt) for k in altwording.ALT}))")
    env = dict(os.environ, DMEMU_WORDING="alt", LANGUAGE=language)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("language", ["cn", "en"])
def test_alt_switch_rewords_every_listed_sentence(language, monkeypatch):
    monkeypatch.setenv("LANGUAGE", language)
    fmt = dict(name="N", frm="A", to="B", sql="S", secs="1", group="G", dest="D", cmd="C")
    alt = _alt_catalog(language)
    assert "m_recv" not in alt                      # the message header is confirmed in both languages: kept
    for key, text in alt.items():
        normal = lang.msg(key, **fmt)
        assert text.startswith("ALT:") and text != normal, (key, text, normal)


def test_monitor_under_alt_wording_still_switches_over():
    lab = Lab(extra_env={"DMEMU_WORDING": "alt"})
    try:
        lab.build()
        m = lab.monitor()
        out = m.login()
        assert "ALT: 身份已确认" in out and "登录监视器成功" not in out
        assert "ALT: 一切如常" in m.cmd("tip")
        out = m.cmd("choose switchover")
        assert "ALT: 以下实例可用:" in out and "-> mema2 <-" in out
        assert "ALT: 列表为空" in m.cmd("choose takeover")
        assert "code = -2" in m.cmd("open database nosuchdb")               # error codes are unchanged
        out = m.cmd("switchover mema2", ["YES"])
        lab.wait_open("mema2")
        assert "ALT: 角色互换完毕, mema2领先" in out and "实例mema2切换成功" not in out
        assert "ALT: mema1准备运行ALTER DATABASE MOUNT" in out and "开始执行" not in out
        rows = parse_global(m.cmd("show"))                                 # the table layout is unchanged
        assert rows["mema2"]["IMODE"] == "PRIMARY" and rows["mema1"]["IMODE"] == "STANDBY"
    finally:
        lab.close()
