"""A scripted stand-in for a dmmonitor pexpect session: each line sent gets the answer a handler gives."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pexpect

from harness.monitor import Monitor
from harness.topology import Topology

RULE = "#" + "=" * 80 + "#"
HEAD = ("DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME            "
        "INST_OK   N_EP  N_OK  ISTATUS     IMODE     DSC_STATUS     RTYPE     RSTAT")


def show_text(rows: dict[str, tuple[str, str, str, str]], group: str = "GRP1") -> str:
    """A `show` answer for {INAME: (WSTATUS, ISTATUS, IMODE, RSTAT)} in DM8's layout (reference 4.3)."""
    out = ["2026-12-05 00:00:00", RULE, "GROUP            OGUID       MON_CONFIRM     MODE            MPP_FLAG",
           f"{group:<17}453331      TRUE            MANUAL          FALSE", ""]
    for n, (w, i, m, r) in rows.items():
        out += ["<<DATABASE GLOBAL INFO:>>", HEAD,
                f"{'192.168.56.201':<20}{'5239':<13}{'2026-12-05 00:00:00':<21}{'GLOBAL':<10}{'VALID':<10}{w:<15}"
                f"{n:<17}{'OK':<10}{'1':<6}{'1':<6}{i:<12}{m:<10}{'DSC_OPEN':<15}{'REALTIME':<10}{r}", ""]
    return "\n".join(out + [RULE, ""])


class FakeChild:
    """Answers each sent line with handler(line) (str, or None for silence); records what was sent."""

    def __init__(self, handler: Callable[[str], str | None]) -> None:
        self.handler, self.sent, self.pending = handler, [], ""

    def sendline(self, line: str) -> None:
        self.sent.append(line)
        ans = self.handler(line)
        if ans:
            self.pending += f"{line}\n{ans}"

    def read_nonblocking(self, size: int, timeout: float) -> str:
        if not self.pending:
            time.sleep(min(timeout, 0.05))
            raise pexpect.TIMEOUT("quiet")
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def isalive(self) -> bool:
        return True

    def close(self, force: bool = False) -> None:
        pass


def fake_monitor(handler: Callable[[str], str | None]) -> tuple[Monitor, FakeChild]:
    t = Topology()
    for h, inst in zip(t.db_hosts, ("mema1", "mema2"), strict=True):
        assert h.instance == inst
    m = Monitor(SimpleNamespace(name="monitor"), t, None)  # type: ignore[arg-type]
    m.child = FakeChild(handler)
    return m, m.child
