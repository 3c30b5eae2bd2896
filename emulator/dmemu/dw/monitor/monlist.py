"""`show monitor`: the monitors connected to each watcher, as DM8 prints its connect-info block
(layout from tests/corpus/dm8/dmmonitor/startup-messages-confirm-monitor-cn-dmshell-c7-auto.txt:
`GET MONITOR CONNECT INFO FROM DMWATCHER(X), THE FIRST LINE IS SELF INFO.` and a DW_CONN_TIME /
MON_CONFIRM / MID / MON_IP / MON_VERSION grid, this monitor's own row first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import bugs
from .model import ts

if TYPE_CHECKING:
    from .session import Monitor

RULE = "#" + "-" * 80 + "#\n"
COLS = (("DW_CONN_TIME", 21), ("MON_CONFIRM", 15), ("MID", 15), ("MON_IP", 25), ("MON_VERSION", 64))


def _row(values: tuple[str, ...]) -> str:
    return "".join(f"{v:<{w}}" for v, (_n, w) in zip(values, COLS, strict=True)).rstrip() + "\n"


def show_monitor(m: Monitor, spec: str | None) -> None:
    """Print one connect-info block per watcher of the named group/database (all when none is named)."""
    gname, _, dbname = (spec or "").partition(".")
    views = [v for v in m.views if not gname or v.group.name.upper() == gname.upper()
             or (not dbname and v.name.upper() == gname.upper())]
    views = [v for v in views if not dbname or v.name.upper() == dbname.upper()]
    out = [RULE]
    for v in views:
        m.refresh([v], timeout=3.0)
        if not v.fresh():
            continue
        mons = list(v.msg.get("monitors") or [])
        mons = sorted(mons, key=lambda x: str(x.get("id")) != m.id)
        if bugs.active("show-monitor-self-only"):
            mons = mons[:1]
        out.append(f"GET MONITOR CONNECT INFO FROM DMWATCHER({v.name}), THE FIRST LINE IS SELF INFO.\n\n")
        out.append(_row(tuple(n for n, _w in COLS)))
        for x in mons:
            out.append(_row((ts(x.get("since")), "TRUE" if x.get("confirm") else "FALSE", str(x.get("id")),
                             str(x.get("ip") or ""), "DMMONITOR[4.0] V8")))
            out.append(" " * 46 + "\n")
        out.append(RULE)
    m.write("".join(out) + "\n")
