"""Replication checks: the seed appendix's objects (TS_MEMA, MEMA, student) and bulk insert, SQL-side
checksums, DM error codes, and apply-lag sampling while the primary works. DM8's interfaces only (dmPython)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

from harness.sql import dm_error_code

TS = "TS_MEMA"
USER = "MEMA"
STUDENT = "STUDENT"
DATAFILES = ("tsmema01.dbf", "tsmema02.dbf")


def ensure_ts_mema(sql: Any, primary: str) -> bool:
    """Seed 附录: `CREATE TABLESPACE TS_MEMA DATAFILE 'tsmema01.dbf' SIZE 128, 'tsmema02.dbf' SIZE 128`
    unless the group already has it; True when it was created now."""
    if sql.scalar(primary, f"select count(*) from v$tablespace where NAME = '{TS}'"):
        return False
    sql.execute(primary, f"CREATE TABLESPACE {TS} DATAFILE '{DATAFILES[0]}' SIZE 128, '{DATAFILES[1]}' SIZE 128")
    return True


def ensure_user_mema(sql: Any, primary: str, password: str) -> bool:
    """Seed 附录: `CREATE USER MEMA IDENTIFIED BY Mema_1234 DEFAULT TABLESPACE TS_MEMA; grant resource to
    mema;` unless the user exists; True when it was created now."""
    ensure_ts_mema(sql, primary)
    if sql.scalar(primary, f"select count(*) from all_users where USERNAME = '{USER}'"):
        return False
    sql.execute(primary, f"CREATE USER {USER} IDENTIFIED BY {password} DEFAULT TABLESPACE {TS}")
    sql.execute(primary, f"grant resource to {USER.lower()}")
    return True


def student_sql(rows: int) -> str:
    """The seed appendix's bulk insert, with `level <= rows`."""
    return ("insert into student select rownum as id, "
            "dbms_random.string('1',trunc(dbms_random.value(3,8))), "
            "trunc(dbms_random.value(0,100)), trunc(dbms_random.value(0,100)), trunc(dbms_random.value(0,100)) "
            f"from dual connect by level <={rows}")


def fingerprint(sql: Any, target: str, table: str, cols: str, *, user: str | None = None,
                password: str | None = None) -> tuple[int, int]:
    """(count, checksum) of a table computed by SQL on the instance: a weighted sum over the given
    numeric expression, so a missing, extra or changed row changes it."""
    q = f"select count(*), coalesce(sum({cols}), 0) from {table}"
    with sql.connection(target, user=user, password=password) as conn:
        cur = conn.cursor()
        cur.execute(q)
        n, s = cur.fetchone()
        cur.close()
    return int(n), int(s)


def unique_name(prefix: str) -> str:
    """A table or object name not used by an earlier test of this run (prefix + a millisecond stamp)."""
    return f"{prefix}_{int(time.time() * 1000) % 10**9}"


@dataclasses.dataclass
class BulkRun:
    """One seed bulk insert: commit time on the primary, time until the standby applied it, lag samples."""

    rows: int
    load_seconds: float
    applied_seconds: float
    samples: list[dict[str, Any]]
    max_lag: int


def seed_bulk_insert(dw: Any, sql: Any, rows: int, password: str) -> BulkRun:
    """Seed 附录: as MEMA on the primary, (re)create `student` and run the seed's `insert ... connect by
    level <= rows` then commit; wait for the standby to apply it while sampling the apply lag."""
    p, s = dw.primary, dw.standby
    ensure_user_mema(sql, p.name, password)
    with sql.connection(p.name, user=USER, password=password) as conn:
        cur = conn.cursor()
        cur.execute("select count(*) from user_tables where TABLE_NAME = 'STUDENT'")
        if cur.fetchone()[0]:
            cur.execute("drop table student")
        cur.execute("CREATE TABLE student (id int, name varchar(20), math int, english int, science int)")
        cur.close()
    dw.wait_replicated()
    sampler = LagSampler(sql, p.name, s.name, count_sql=f"select count(*) from {USER}.{STUDENT}")
    t0 = time.monotonic()
    with sampler.running():
        with sql.connection(p.name, user=USER, password=password, autocommit=False) as conn:
            cur = conn.cursor()
            cur.execute(student_sql(rows))
            conn.commit()
            cur.close()
        load_s = time.monotonic() - t0
        dw.wait_replicated(timeout=dw.t.timers.group_open() + load_s)
        applied_s = time.monotonic() - t0
    return BulkRun(rows, load_s, applied_s, sampler.samples, sampler.max_lag())


def error_of(fn: Any) -> tuple[int | None, str]:
    """Run fn(); return (DM error code, message) of the error it raised, or (None, "") if it succeeded."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the error is the result
        return dm_error_code(exc), str(exc)
    return None, ""


class LagSampler:
    """Samples both instances' v$rlog CUR_LSN (and optionally the standby's row count of a table) on a
    thread, for the report's apply-lag plot: [{t, primary_lsn, standby_lsn, rows}]."""

    def __init__(self, sql: Any, primary: str, standby: str, *, count_sql: str | None = None,
                 user: str | None = None, password: str | None = None, interval: float = 0.25) -> None:
        self.sql, self.primary, self.standby = sql, primary, standby
        self.count_sql, self.user, self.password, self.interval = count_sql, user, password, interval
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._t0 = 0.0

    def _lsn(self, conn: Any) -> int:
        cur = conn.cursor()
        cur.execute("select CUR_LSN from v$rlog")
        v = int(cur.fetchone()[0])
        cur.close()
        return v

    def _run(self) -> None:
        pc = sc = None
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                pc = pc or self.sql.connect(self.primary)
                sc = sc or self.sql.connect(self.standby, user=self.user, password=self.password)
                row: dict[str, Any] = {"t": round(t - self._t0, 3), "primary_lsn": self._lsn(pc),
                                       "standby_lsn": self._lsn(sc)}
                if self.count_sql:
                    cur = sc.cursor()
                    cur.execute(self.count_sql)
                    row["rows"] = int(cur.fetchone()[0])
                    cur.close()
                self.samples.append(row)
            except Exception:  # noqa: BLE001 - a failed sample is skipped; the connection is renewed
                for c in (pc, sc):
                    with contextlib.suppress(Exception):
                        c.close()
                pc = sc = None
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))
        for c in (pc, sc):
            with contextlib.suppress(Exception):
                c.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[LagSampler]:
        """Sample inside the block (the thread stops on exit, whatever happens)."""
        self._t0 = time.monotonic()
        th = threading.Thread(target=self._run, daemon=True, name="apply-lag")
        th.start()
        try:
            yield self
        finally:
            self._stop.set()
            th.join(timeout=10)

    def max_lag(self) -> int:
        """Largest primary-minus-standby LSN gap seen."""
        return max((s["primary_lsn"] - s["standby_lsn"] for s in self.samples), default=0)
