"""Read/write separation through the official DPI: dm_svc.conf RW_SEPARATE / RW_PERCENT (seed 十三,
reference 8.3).

With RW_SEPARATE=(1) the DPI logs in to the primary, which names in its login reply a standby fit for
reads (archive VALID, MAL link CONNECTED); the DPI opens a second connection there and sends each read
to the primary or the standby as RW_PERCENT says (the share kept on the primary), writes and anything
in a write transaction to the primary. The standby is chosen at login, so a connection opened while no
standby qualifies reads from the primary only.

Everything here is decided from DM8 state: a read reports the instance that served it (v$instance NAME),
a write records where it ran by inserting that same NAME, read back from the primary directly.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .replication import unique_name

SERVED_BY = "select NAME from v$instance"


def rw_service(sql: Any, name: str, percent: int) -> str:
    """A service over both instances with RW_SEPARATE=(1) and RW_PERCENT=(percent); returns its name."""
    if not 0 <= percent <= 100:
        raise ValueError(f"RW_PERCENT must be 0-100, got {percent}")
    return sql.service(name, login_mode=1, switch_time=3, switch_interval=200,
                       extra={"RW_SEPARATE": "1", "RW_PERCENT": str(percent)})


def served_by(conn: Any) -> str:
    """The instance that served one read on `conn` (upper-cased v$instance NAME)."""
    cur = conn.cursor()
    try:
        cur.execute(SERVED_BY)
        return str(cur.fetchone()[0]).upper()
    finally:
        cur.close()


def read_spread(conn: Any, n: int) -> Counter[str]:
    """{instance: reads it served} over `n` reads on one connection."""
    return Counter(served_by(conn) for _ in range(n))


def tolerance(p: float, n: int, sigmas: float = 4.0) -> float:
    """Allowed deviation of an observed share from `p` over `n` reads: `sigmas` binomial standard
    deviations (4 sigma: a correct driver fails about once in 16,000 runs), at least one read's worth."""
    return max(sigmas * math.sqrt(p * (1 - p) / n), 1.0 / n)


@dataclass
class SiteTable:
    """A table whose rows record the instance each INSERT ran on."""

    sql: Any
    name: str

    @classmethod
    def create(cls, sql: Any, primary: str) -> SiteTable:
        t = cls(sql, unique_name("RW_SITE"))
        sql.execute(primary, f"create table {t.name} (ID int primary key, SITE varchar(128))")
        return t

    def insert(self, conn: Any, row_id: int) -> None:
        """One INSERT through `conn` recording the instance that executes it."""
        cur = conn.cursor()
        try:
            cur.execute(f"insert into {self.name} (ID, SITE) select {int(row_id)}, NAME from v$instance")
        finally:
            cur.close()

    def insert_on(self, target: str, row_id: int) -> None:
        """One INSERT on the named instance directly (no read/write separation involved)."""
        self.sql.execute(target, f"insert into {self.name} (ID, SITE) select {int(row_id)}, NAME from v$instance")

    def count(self, conn: Any, row_id: int) -> int:
        """Rows with ID=row_id as `conn` sees them (a read: routed like any other)."""
        cur = conn.cursor()
        try:
            cur.execute(f"select count(*) from {self.name} where ID = {int(row_id)}")
            return int(cur.fetchone()[0])
        finally:
            cur.close()

    def sites(self, primary: str) -> Counter[str]:
        """{instance: rows inserted there}, read on the primary directly."""
        rows = self.sql.query(primary, f"select SITE from {self.name}")
        return Counter(str(r[0]).upper() for r in rows)


def stale_read_window(conn: Any, table: SiteTable, row_id: int, standby: str, timeout: float) -> float | None:
    """Commit one row through `conn`, then read it back through `conn` until a read served by `standby`
    sees it: seconds from the commit's acknowledgement to that read (None if no standby read saw it within
    `timeout`). Reads the primary serves meanwhile do not count."""
    table.insert(conn, row_id)
    conn.commit()
    acked = time.monotonic()
    while time.monotonic() - acked < timeout:
        cur = conn.cursor()
        try:
            cur.execute(f"select NAME, (select count(*) from {table.name} where ID = {int(row_id)}) from v$instance")
            site, n = cur.fetchone()
        finally:
            cur.close()
        if str(site).upper() == standby.upper() and int(n) == 1:
            return time.monotonic() - acked
    return None
