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


def by_role(got: dict[int, str], primary: Any, standbys: list[Any]) -> dict[int, str]:
    """Turn what `landings` reports into {mode: "P" | "S" | "FAIL"}: P is `primary` PRIMARY OPEN, S any of
    `standbys` STANDBY OPEN (with several standbys the DPI may pick any of them), FAIL DM's -70019; any
    other landing is kept as it was, so a mismatch shows where the connection went."""
    names = {n.name.upper() for n in standbys}
    out = {}
    for m, where in got.items():
        inst, _, state = where.partition(" ")
        if where == f"{primary.name.upper()} PRIMARY OPEN":
            out[m] = "P"
        elif inst in names and state == "STANDBY OPEN":
            out[m] = "S"
        elif where == f"error {NO_MATCHING_SERVER}":
            out[m] = "FAIL"
        else:
            out[m] = where
    return out


def crash_node(chaos: Any, dw: Any, node: Any) -> None:
    """The node is down: kill -9 its dmwatcher (so nothing restarts the instance) and then its dmserver,
    and wait until the instance no longer answers."""
    host = node.host_name
    chaos.kill(host, "dmwatcher")
    chaos.kill(host, "dmserver")
    dw.wait_role(node, "DOWN", timeout=dw.t.timers.failure_detect())
