"""The emulator's `show` against a real capture (tests/corpus/dm8/dmmonitor/show-after-switchover-cn-dmshell-c7-
manual.txt, DM8 build 2022.11.21): every line that is not a value row must be equal character for character,
rows must have the capture's column positions, and the harness's reader must take the same facts from it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

from dmemu.dw.config import MonGroup
from dmemu.dw.monitor.groupview import GroupView
from dmemu.dw.monitor.model import WatcherView
from dmemu.dw.monitor.render import Render

from harness.show import parse_show

CAPTURE = Path(__file__).parents[1] / "corpus/dm8/dmmonitor/show-after-switchover-cn-dmshell-c7-manual.txt"
_STAMP = re.compile(r"(?<=\d) (?=\d\d:)")
_VALUE_ROW = re.compile(r"^(\d|DSC_SEQNO\[|REDO_LSN_ARR|DATABASE\()")


class _Mon(GroupView, Render):
    def __init__(self, views: list[WatcherView]):
        self.cfg = SimpleNamespace(groups=[views[0].group], confirm=False)
        self.views = views


def _view(g: MonGroup, host: str, name: str, mode: str, lsn: int, arch: list | None = None) -> WatcherView:
    v = WatcherView(g, host, 12346)
    v.msg = {"name": name, "wtime": time.time(), "wtype": "GLOBAL", "wctlstat": "VALID", "wstatus": "OPEN",
             "inst_ok": "OK", "dw_mode": "MANUAL", "inst_host": host.replace("172.16", "192.168"), "inst_port": 5236,
             "inst": {"status": "OPEN", "mode": mode, "n_open": 7, "flsn": lsn, "clsn": lsn, "arch": arch or []}}
    v.seen = time.monotonic()
    return v


def _group_show() -> str:
    g = MonGroup("GRP1", 412247, [])
    arch = [{"type": "REALTIME", "dest": n, "status": "VALID"} for n in ("GRP1_DW_01", "GRP1_DW_03")]
    views = [_view(g, "172.16.2.27", "GRP1_DW_02", "PRIMARY", 39541, arch),
             _view(g, "172.16.2.26", "GRP1_DW_01", "STANDBY", 39382),
             _view(g, "172.16.2.28", "GRP1_DW_03", "STANDBY", 39380)]
    return _Mon(views).render_show(None)


def _capture() -> list[str]:
    return CAPTURE.read_text(encoding="utf-8").split("#@ ---\n", 1)[1].splitlines()


def test_show_lines_equal_the_capture_except_values():
    ours, real = _group_show().splitlines(), _capture()
    assert len(ours) == len(real)
    for mine, theirs in zip(ours, real, strict=True):
        if _VALUE_ROW.match(theirs) or theirs.startswith("GRP1 "):
            assert len(mine.split()) == len(theirs.split()), (mine, theirs)
        else:
            assert mine == theirs


def test_show_rows_keep_the_capture_column_positions():
    def starts(line: str) -> list[int]:
        return [m.start() for m in re.finditer(r"(?<!\S)\S", line)]
    rows = [(m, t) for m, t in zip(_group_show().splitlines(), _capture(), strict=True) if re.match(r"\d+\.", t)]
    assert len(rows) == 6
    for mine, theirs in rows:
        assert starts(_STAMP.sub("_", mine)) == starts(_STAMP.sub("_", theirs))
        assert mine.endswith(" ") and len(mine) == len(theirs), (mine, theirs)


def test_harness_reads_the_emulator_show_like_the_capture():
    ours, real = parse_show(_group_show()), parse_show("\n".join(_capture()))
    assert ours.summary().keys() == real.summary().keys()
    assert ours.db("GRP1_DW_02").imode == "PRIMARY" and ours.db("GRP1_DW_01").rstat == "VALID"
    assert ours.db("GRP1_DW_01").clsn == 39382 and ours.db("GRP1_DW_01").n_open is None
    assert ours.healthy() and ours.group == real.group == "GRP1"
