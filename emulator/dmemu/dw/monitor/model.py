"""The monitor's vocabulary: dwmon return codes, command errors and its view of one watcher."""

from __future__ import annotations

import datetime as _dt
import time

from .. import protocol
from ..config import MonGroup

DWMON_NOT_LOGIN = -5
DWMON_INVALID_ARG = -2
DWMON_SYS_NOT_OK = -11
DWMON_MULTI_CONFIRM_MON = -14
DWMON_NO_CANDIDATE = -15
DWMON_CHECK_RECOV_LATER = -20
DWMON_STDBY_CANNOT_RECOVER = -21
DWMON_CHECK_OPEN_LATER = -22
DWMON_CANNOT_OPEN = -23
DWMON_OPEN_NEED_USER = -27

LOGIN_REQ_TIMEOUT = 3.0  # seconds one watcher gets to check a `login` before the next is asked

ROW_INDENT = " " * 18               # under the text after "[monitor]         " (real captures)
ROW_COLS = (("WTIME", 21), ("WSTATUS", 15), ("INST_OK", 10), ("INAME", 17), ("ISTATUS", 12), ("IMODE", 10),
            ("RSTAT", 9), ("N_OPEN", 9), ("FLSN", 16), ("CLSN", 16))
ROW_HDR = ROW_INDENT + "".join(f"{name:<{width}}" for name, width in ROW_COLS)
# `show`'s grids: column names and widths as real captures print them (each cell padded, the last too)
GROUP_COLS = (("GROUP", 17), ("OGUID", 12), ("MON_CONFIRM", 16), ("MODE", 16), ("MPP_FLAG", 10))
GLOBAL_COLS = (("DW_IP", 20), ("MAL_DW_PORT", 13), ("WTIME", 21), ("WTYPE", 10), ("WCTLSTAT", 10), ("WSTATUS", 15),
               ("INAME", 17), ("INST_OK", 10), ("N_EP", 6), ("N_OK", 6), ("ISTATUS", 12), ("IMODE", 10),
               ("DSC_STATUS", 15), ("RTYPE", 10), ("RSTAT", 9))
EP_COLS = (("INST_IP", 20), ("INST_PORT", 11), ("INST_OK", 10), ("INAME", 17), ("ISTATUS", 12), ("IMODE", 10),
           ("DSC_SEQNO", 11), ("DSC_CTL_NODE", 13), ("RTYPE", 10), ("RSTAT", 9), ("FSEQ", 16), ("FLSN", 16),
           ("CSEQ", 16), ("CLSN", 16), ("DW_STAT_FLAG", 22))


def grid(cols: tuple[tuple[str, int], ...], values: tuple | None = None) -> str:
    """A header line (values None) or a row of one of `show`'s grids, every cell padded to its width."""
    cells = [name for name, _ in cols] if values is None else values
    return "".join(f"{x!s:<{w}}" for x, (_, w) in zip(cells, cols, strict=True))


def ts(t: float | None = None) -> str:
    """A time as the monitor prints it (local time, seconds)."""
    return _dt.datetime.fromtimestamp(t or time.time()).strftime("%Y-%m-%d %H:%M:%S")


class CmdError(Exception):
    """A monitor command failed with a dwmon return code."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code
        self.text = text


class WatcherView:
    """What the monitor knows about one watcher: its link and its last status message."""

    def __init__(self, group: MonGroup, host: str, port: int):
        self.group = group
        self.host = host
        self.port = port
        self.conn: protocol.Conn | None = None
        self.msg: dict | None = None
        self.seen = 0.0
        self.timed_out = False
        self.last_key: tuple | None = None
        self.refused: str | None = None

    @property
    def name(self) -> str:
        return self.msg["name"] if self.msg else f"{self.host}:{self.port}"

    def error_time(self) -> float:
        """The watcher's DW_ERROR_TIME (from its messages): silence that long means it is lost."""
        return float((self.msg or {}).get("dw_error_time", 60))

    def fresh(self) -> bool:
        if not self.msg:
            return False
        return time.monotonic() - self.seen < self.error_time()

    def inst(self) -> dict:
        return (self.msg or {}).get("inst") or {}

    def wstatus(self) -> str:
        return (self.msg or {}).get("wstatus", "ERROR") if self.fresh() else "ERROR"
