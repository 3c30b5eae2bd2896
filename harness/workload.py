"""Workload: writer threads inserting Faker rows through the dm_svc.conf service name, a role poller, and
a final phase that reads everything back from the primary and the standby (DESIGN.md §7).

Each writer has its own dmPython connection (harness.sql.Sql.connect() with no target = the seed's
service name, so dmPython's LOGIN_MODE logic picks the instance) and reconnects as an application would
after an error. Every insert is recorded invoke then ok / fail / info (harness.history). A poller samples
v$instance MODE$/STATUS$ and v$rlog CUR_LSN on every instance every `poll` seconds (≤ 250 ms) for the
two-primaries window and the LSN-based RPO. The seed is printed and stored so a run can be replayed.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.history import History, TableSnapshot

# DM errors that mean "the write definitely did not happen" (standby refuses DML / database not open).
DEFINITE_FAIL = {-2018, -710}
POOL = 200  # Faker values per field and writer
_tables = itertools.count(1)


def _error_code(exc: BaseException) -> int | None:
    try:
        from harness.sql import dm_error_code
    except ImportError:  # pragma: no cover - harness.sql is part of the package
        return None
    return dm_error_code(exc)


class Workload:
    """Writers + poller + final read over one fresh table; `running()` yields the History."""

    def __init__(self, sql: Any, topology: Any, run_dir: str | Path | None, seed: int, *,
                 poll: float = 0.2, table: str | None = None) -> None:
        if poll > 0.25:
            raise ValueError("role polling must run at least every 250 ms")
        self.sql = sql
        self.topology = topology
        self.run_dir = Path(run_dir) if run_dir else None
        self.seed = int(seed)
        self.poll = poll
        self.table = table or f"DMDW_WL{self.seed % 100000}_{next(_tables)}"
        self.instances = [h.instance for h in topology.db_hosts]
        self.chaos: Any = None  # set by the plugin or the suite: its log becomes the history's faults
        self.history: History | None = None
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    # ---- SQL helpers -----------------------------------------------------------------------------
    def _connect(self, target: str | None = None, login_timeout: int = 3) -> Any:
        return self.sql.connect(target, login_timeout=login_timeout)

    @staticmethod
    def _close(conn: Any) -> None:
        closer = getattr(conn, "close", None)
        if closer:
            with contextlib.suppress(Exception):
                closer()

    @staticmethod
    def _query(conn: Any, sql: str, params: tuple | None = None) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def setup(self) -> None:
        """Create the workload's table on the primary (through the service name)."""
        conn = self._connect()
        try:
            self._query(conn, f"CREATE TABLE {self.table} (ID BIGINT PRIMARY KEY, WRITER INT, NAME VARCHAR(100), "
                              "CITY VARCHAR(100), EMAIL VARCHAR(200), AMOUNT INT, CRC BIGINT)")
            with contextlib.suppress(Exception):
                conn.commit()
        finally:
            self._close(conn)

    # ---- writers ---------------------------------------------------------------------------------
    def _next_id(self) -> int:
        with self._id_lock:
            return next(self._ids)

    def _writer(self, k: int, hist: History) -> None:
        from faker import Faker

        fake = Faker()
        fake.seed_instance(self.seed * 1000 + k)
        rng = random.Random(self.seed * 1000 + k)
        # Faker costs ~0.5 ms a row: draw from per-writer pools so the client does not starve the server
        names = [fake.name() for _ in range(POOL)]
        cities = [fake.city() for _ in range(POOL)]
        emails = [fake.email() for _ in range(POOL)]
        proc = f"w{k}"
        conn = None
        backoff = 0.05
        sql = f"INSERT INTO {self.table} (ID, WRITER, NAME, CITY, EMAIL, AMOUNT, CRC) VALUES (?, ?, ?, ?, ?, ?, ?)"
        while not self._stop.is_set():
            if conn is None:
                try:
                    conn = self._connect()
                    backoff = 0.05
                except Exception:  # noqa: BLE001 - no server reachable yet: retry like an application
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 0.5)
                    continue
            rid = self._next_id()
            name, city, email = rng.choice(names), rng.choice(cities), rng.choice(emails)
            amount = rng.randint(0, 1_000_000)
            crc = zlib.crc32(f"{rid}|{name}|{city}|{email}|{amount}".encode())
            hist.record(proc, "invoke", "add", rid)
            try:
                cur = conn.cursor()
                try:
                    cur.execute(sql, (rid, k, name, city, email, amount, crc))
                finally:
                    cur.close()
                with contextlib.suppress(AttributeError):
                    if not getattr(conn, "autocommit", True):
                        conn.commit()
                hist.record(proc, "ok", "add", rid)
            except Exception as exc:  # noqa: BLE001 - every outcome is recorded
                code = _error_code(exc)
                hist.record(proc, "fail" if code in DEFINITE_FAIL else "info", "add", rid,
                            error=f"{code}: {exc}"[:300])
                self._close(conn)
                conn = None
        if conn is not None:
            self._close(conn)

    # ---- role poller -----------------------------------------------------------------------------
    def _role(self, conn: Any) -> tuple[str, str, int | None]:
        mode, status = self._query(conn, "SELECT MODE$, STATUS$ FROM V$INSTANCE")[0]
        lsn = None
        with contextlib.suppress(Exception):
            lsn = int(self._query(conn, "SELECT CUR_LSN FROM V$RLOG")[0][0])
        return str(mode).upper(), str(status).upper(), lsn

    def _poller(self, inst: str, hist: History, stop: threading.Event) -> None:
        conn = None
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = self._connect(inst, login_timeout=1)
                mode, status, lsn = self._role(conn)
                hist.sample(inst, mode, status, lsn, at=t0)
            except Exception:  # noqa: BLE001 - unreachable is a state
                hist.sample(inst, None, None, None, at=t0)
                if conn is not None:
                    self._close(conn)
                conn = None
            stop.wait(max(0.0, self.poll - (time.monotonic() - t0)))
        if conn is not None:
            self._close(conn)

    # ---- final phase -----------------------------------------------------------------------------
    def _latest_roles(self, hist: History) -> dict[str, Any]:
        latest: dict[str, Any] = {}
        for s in hist.roles:
            latest[s.instance] = s
        return latest

    def wait_single_primary(self, hist: History, timeout: float) -> str:
        """Poll until exactly one instance is a writable primary; returns its name."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = {}
            for inst in self.instances:
                try:
                    conn = self._connect(inst, login_timeout=1)
                    try:
                        last[inst] = self._role(conn)
                    finally:
                        self._close(conn)
                except Exception:  # noqa: BLE001
                    last[inst] = (None, None, None)
                hist.sample(inst, *last[inst])
            primaries = [i for i, r in last.items() if r[0] in ("PRIMARY", "NORMAL") and r[1] == "OPEN"]
            if len(primaries) == 1:
                return primaries[0]
            time.sleep(self.poll)
        raise TimeoutError(f"no single writable primary within {timeout:.0f}s; last roles seen: "
                           + ", ".join(f"{i}={r[0]}/{r[1]}" for i, r in last.items()))

    def _wait_caught_up(self, primary: str, timeout: float) -> None:
        """Best effort: wait until every other instance's CUR_LSN reaches the primary's."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(Exception):
            conn = self._connect(primary, login_timeout=1)
            try:
                target = self._role(conn)[2]
            finally:
                self._close(conn)
            if target is None:
                return
            for inst in self.instances:
                if inst == primary:
                    continue
                while time.monotonic() < deadline:
                    lsn = None
                    with contextlib.suppress(Exception):
                        c = self._connect(inst, login_timeout=1)
                        try:
                            lsn = self._role(c)[2]
                        finally:
                            self._close(c)
                    if lsn is not None and lsn >= target:
                        break
                    time.sleep(self.poll)

    def snapshot(self, inst: str) -> TableSnapshot:
        """Count, ordered checksum (computed by SQL on the instance) and ids of the workload's table."""
        conn = self._connect(inst)
        try:
            body = "(ID * 7 + WRITER * 13 + AMOUNT + CRC + LENGTH(NAME) * 31 + LENGTH(CITY) * 37 + LENGTH(EMAIL) * 41)"
            try:
                count, checksum = self._query(
                    conn, f"SELECT COUNT(*), COALESCE(SUM(RN * {body}), 0) FROM "
                          f"(SELECT ROW_NUMBER() OVER (ORDER BY ID) AS RN, T.* FROM {self.table} T) X")[0]
            except Exception:  # noqa: BLE001 - a dialect without window functions: position-free sum
                count, checksum = self._query(conn, f"SELECT COUNT(*), COALESCE(SUM({body}), 0) FROM {self.table}")[0]
            ids = [int(r[0]) for r in self._query(conn, f"SELECT ID FROM {self.table} ORDER BY ID")]
            return TableSnapshot(int(count), int(checksum), ids)
        finally:
            self._close(conn)

    def final(self, hist: History, timeout: float | None = None) -> str:
        """Wait for one primary, let the standby catch up, read everything back from every instance."""
        if timeout is None:
            timeout = float(self.topology.timers.failure_detect() * 2 + 30)
        if self.chaos is not None:
            self.chaos.heal_all()
        primary = self.wait_single_primary(hist, timeout)
        hist.set_primary(primary)
        self._wait_caught_up(primary, timeout)
        hist.record("final", "invoke", "read", None, node=primary)
        snap = self.snapshot(primary)
        hist.record("final", "ok", "read", snap.ids, node=primary)
        hist.snapshot(primary, self.table, snap)
        for inst in self.instances:
            if inst != primary:
                try:
                    hist.snapshot(inst, self.table, self.snapshot(inst))
                except Exception as exc:  # noqa: BLE001 - e.g. the old primary is down after a takeover
                    hist.note(f"{inst} not read in the final phase (no divergence check for it): {exc}"[:300])
        return primary

    # ---- the API suites use ----------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self, threads: int = 4, chaos: Any = None, final: bool = True) -> Iterator[History]:
        """Run `threads` writers and the poller inside the block; on exit stop them and run the final phase."""
        if chaos is not None:
            self.chaos = chaos
        path = self.run_dir / f"history-{self.table.lower()}.jsonl" if self.run_dir else None
        hist = History(seed=self.seed, path=path)
        self.history = hist
        print(f"workload seed {self.seed} (table {self.table}, {threads} writers)", flush=True)
        self.setup()
        self._stop.clear()
        poll_stop = threading.Event()
        pollers = [threading.Thread(target=self._poller, args=(i, hist, poll_stop), daemon=True,
                                    name=f"wl-poll-{i}") for i in self.instances]
        writers = [threading.Thread(target=self._writer, args=(k, hist), daemon=True, name=f"wl-w{k}")
                   for k in range(threads)]
        for t in pollers + writers:
            t.start()
        try:
            yield hist
        finally:
            self._stop.set()
            for t in writers:
                t.join(timeout=30)
            poll_stop.set()
            for t in pollers:
                t.join(timeout=5)
            if self.chaos is not None:
                hist.faults = list(self.chaos.log)
            try:
                if final:
                    self.final(hist)
            finally:
                hist.close()
