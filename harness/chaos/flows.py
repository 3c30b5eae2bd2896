"""DM8 link names -> TCP flows (DESIGN.md §6), as dmmal.ini / dmwatcher.ini / dmmonitor.ini / dm_svc.conf
define them:
    MAL      instance <-> instance   MAL_HOST:MAL_PORT of each DB host, dialled by the other
    DW       watcher  <-> watcher    MAL_HOST:MAL_DW_PORT of each DB host, dialled by the other
    MON      monitor  -> watcher     MAL_HOST:MAL_DW_PORT of each DB host, dialled by the monitor
    INST_DW  watcher  -> own instance MAL_HOST:MAL_INST_DW_PORT, on the same host
    CLIENT   client   -> instance    external IP:PORT_NUM
A link resolves to Flows (dialer, target, ip, port). A direction "a->b" drops packets from a to b: the
`upstream` stream of flows a dials to b and the `downstream` stream of flows b dials to a.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

LINKS = ("MAL", "DW", "MON", "INST_DW", "CLIENT")
STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class Flow:
    """One TCP flow of a link: `dialer` connects to `target` at ip:port ("client" = the test process)."""

    link: str
    dialer: str
    target: str
    ip: str
    port: int

    @property
    def name(self) -> str:
        return f"{self.link}_{self.dialer}_{self.target}"


Selection = list[tuple[Flow, tuple[str, ...]]]


def resolve_flows(topology: Any, link: str, between: tuple[str, ...] | None = None) -> list[Flow]:
    """The flows of `link` in `topology`, optionally only those between the named hosts."""
    if link not in LINKS:
        raise HarnessError(f"unknown link {link!r}; use one of {', '.join(LINKS)}")
    db = [h for h in topology.hosts.values() if h.instance]
    mons = [h for h in topology.hosts.values() if not h.instance]
    flows: list[Flow] = []
    if link in ("MAL", "DW"):
        for a in db:
            for b in db:
                if a.name != b.name:
                    port = b.mal_port if link == "MAL" else b.mal_dw_port
                    flows.append(Flow(link, a.name, b.name, b.internal_ip, port))
    elif link == "MON":
        flows = [Flow(link, m.name, b.name, b.internal_ip, b.mal_dw_port) for m in mons for b in db]
    elif link == "INST_DW":
        flows = [Flow(link, b.name, b.name, b.internal_ip, b.mal_inst_dw_port) for b in db]
    else:
        flows = [Flow(link, "client", b.name, b.external_ip or b.internal_ip, b.port_num) for b in db]
    if between:
        names = set(between)
        unknown = names - set(topology.hosts) - {"client"}
        if unknown:
            raise HarnessError(f"unknown host {sorted(unknown)[0]!r}; hosts are {', '.join(topology.hosts)}")
        flows = [f for f in flows if f.target in names and (f.dialer in names or f.dialer == "client"
                                                            or f.dialer == f.target)]
    if not flows:
        raise HarnessError(f"link {link} has no flow between {between}; check the host names")
    return flows


def select_streams(flows: list[Flow], direction: str | None) -> Selection:
    """Pair each flow with the streams a direction "a->b" drops (both streams when direction is None)."""
    if direction is None:
        return [(f, STREAMS) for f in flows]
    src, sep, dst = (x.strip() for x in direction.partition("->"))
    if not sep or not src or not dst:
        raise HarnessError(f"direction {direction!r} must read 'host1->host2'")
    out: Selection = []
    for f in flows:
        if (f.dialer, f.target) == (src, dst):
            out.append((f, ("upstream",)))
        elif (f.dialer, f.target) == (dst, src):
            out.append((f, ("downstream",)))
    if not out:
        raise HarnessError(f"no {flows[0].link} flow goes {direction}; check the host names")
    return out



def describe(flows: list[Flow]) -> str:
    """One line per flow, for logs and error messages."""
    return "\n".join(f"{f.link}: {f.dialer} -> {f.target} {f.ip}:{f.port}" for f in flows)
