"""Landing: where a dmPython connection through a dm_svc.conf service lands, and how long it takes to fail.

The choice is the official DPI's own (LOGIN_MODE from dm_svc.conf, SvrMode/SvrStat in the server's login
reply); the harness only declares services and reads v$instance (seed 十三, reference 8)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

from harness.sql import dm_error_code

NO_MATCHING_SERVER = -70019  # "No matching server to login": nothing qualified after SWITCH_TIME rounds
LOGIN_MODES = (0, 1, 2, 3, 4)  # PRIMARY_FIRST, PRIMARY_ONLY, STANDBY_ONLY, STANDBY_FIRST, NORMAL_FIRST


@dataclasses.dataclass(frozen=True)
class Landing:
    """Where a connection landed (instance, MODE$, STATUS$), or the DM error code it failed with."""

    instance: str = ""
    mode: str = ""
    status: str = ""
    error: int | None = None
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.error is not None:
            return f"error {self.error}"
        return f"{self.instance} {self.mode} {self.status}"


def land(sql: Any, service: str, *, login_timeout: float = 5.0) -> Landing:
    """Connect through `service`, read v$instance, disconnect."""
    t0 = time.monotonic()
    try:
        conn = sql.connect(service, login_timeout=login_timeout)
    except Exception as exc:  # noqa: BLE001 - a refused login is a result
        return Landing(error=dm_error_code(exc) or -1, seconds=time.monotonic() - t0)
    seconds = time.monotonic() - t0
    with contextlib.closing(conn):
        cur = conn.cursor()
        cur.execute("select INSTANCE_NAME, MODE$, STATUS$ from v$instance")
        name, mode, status = cur.fetchone()
        cur.close()
    return Landing(str(name).upper(), str(mode).upper(), str(status).upper(), None, seconds)


def login_mode_services(sql: Any, *, switch_time: int = 2, switch_interval: int = 200) -> dict[int, str]:
    """One service over both instances per LOGIN_MODE 0-4 (names LM0..LM4): {mode: service name}."""
    return {m: sql.service(f"LM{m}", login_mode=m, switch_time=switch_time, switch_interval=switch_interval)
            for m in LOGIN_MODES}


def landings(sql: Any, services: dict[int, str]) -> dict[int, str]:
    """{LOGIN_MODE: "INSTANCE MODE STATUS" | "error CODE"} for every service."""
    return {m: str(land(sql, svc)) for m, svc in services.items()}


def expected(primary: Any, standby: Any, table: dict[int, str]) -> dict[int, str]:
    """Turn {mode: "P" | "S" | "FAIL"} into what `landings` reports for the given nodes."""
    out = {}
    for m, who in table.items():
        if who == "P":
            out[m] = f"{primary.name.upper()} PRIMARY OPEN"
        elif who == "S":
            out[m] = f"{standby.name.upper()} STANDBY OPEN"
        else:
            out[m] = f"error {NO_MATCHING_SERVER}"
    return out


def crash_node(chaos: Any, dw: Any, node: Any) -> None:
    """The node is down: kill -9 its dmwatcher (so nothing restarts the instance) and then its dmserver,
    and wait until the instance no longer answers."""
    host = node.host_name
    chaos.kill(host, "dmwatcher")
    chaos.kill(host, "dmserver")
    dw.wait_role(node, "DOWN", timeout=dw.t.timers.failure_detect())
