"""Workload: writer threads inserting Faker rows through the dm_svc.conf service name, a role poller, and
a final phase that reads everything back from the primary and the standby (DESIGN.md §7).

Each writer has its own dmPython connection (harness.sql.Sql.connect() with no target = the seed's
service name, so dmPython's LOGIN_MODE logic picks the instance) and reconnects as an application would
after an error. Every insert is recorded invoke then ok / fail / info (harness.history). A poller samples
v$instance MODE$/STATUS$ and v$rlog CUR_LSN on every instance every `poll` seconds (≤ 250 ms) for the
two-primaries window and the LSN-based RPO. The seed is printed and stored so a run can be replayed.

Under chaos a dmPython call can block forever (a SIGSTOPped server, a black-holed link), so every call
runs on a helper thread and is waited on with a deadline scaled with the DW timers: a write that overruns
it is recorded `info` and its connection abandoned (never closed: see harness.sql), role reads that overrun
are sampled as unreachable, and `running()`'s exit returns within a bounded time whatever the servers do.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from harness.history import History, TableSnapshot
from harness.wait import wait_until

# DM errors that mean "the write definitely did not happen" (standby refuses DML / database not open).
DEFINITE_FAIL = {-2018, -710}
POOL = 200  # Faker values per field and writer
STATEMENT_MARGIN = 10.0  # seconds beyond failure detection a statement may take before it counts as hung
POLL_DEADLINE = 3.0  # a role read slower than this is sampled as "unreachable"
JOIN_MARGIN = 5.0  # seconds a stopping thread gets beyond its call deadline before it is left behind
# login timeouts (s): a silent server costs ~2x that plus 1 s, so a writer's SWITCH_TIME rounds over a black-holed
# primary fit in its statement deadline and a role read's fit in POLL_DEADLINE
WRITE_LOGIN_TIMEOUT = 1.0
READ_LOGIN_TIMEOUT = 0.5
_tables = itertools.count(1)
T = TypeVar("T")


def _error_code(exc: BaseException) -> int | None:
    try:
        from harness.sql import dm_error_code
    except ImportError:  # pragma: no cover - harness.sql is part of the package
        return None
    return dm_error_code(exc)


class StatementTimeout(TimeoutError):
    """A call into dmPython did not return within its deadline; its connection was abandoned."""


class InstanceDown(ConnectionError):
    """Connecting to an instance kept failing: it is down, not merely slow."""


class _Runner:
    """A daemon thread running one worker's blocking calls one at a time, each waited on with a deadline."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future] | None] = queue.SimpleQueue()
        threading.Thread(target=self._loop, daemon=True, name=name).start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker
                fut.set_exception(exc)

    def call(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        fut: Future = Future()
        self._jobs.put((fn, fut))
        try:
            return fut.result(timeout)
        except FutureTimeout:
            raise StatementTimeout(f"{what}: no answer within {timeout:.1f}s") from None

    def retire(self) -> None:
        """Let the thread end once its current call returns (if it ever does)."""
        self._jobs.put(None)


class GuardedCalls:
    """Blocking driver calls made with a deadline, on a runner thread that is abandoned when one overruns.

    dmPython can block forever on a SIGSTOPped or black-holed server; the caller then stops waiting,
    leaves that thread (and the connection it is blocked on) behind, and the next call takes a new runner.
    Used by the in-process sessions and by the workload client processes alike."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._runner: _Runner | None = None

    def call(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """fn() within timeout seconds; StatementTimeout (runner abandoned) when it overruns."""
        if self._runner is None:
            self._runner = _Runner(self.name)
        try:
            return self._runner.call(fn, timeout, what)
        except StatementTimeout:
            self.retire()
            raise

    def retire(self) -> None:
        """Let the current runner end; a later call starts a new one."""
        if self._runner is not None:
            self._runner.retire()
            self._runner = None


class _Session:
    """One worker's connection to one target, every call on a _Runner with a deadline.

    A call that overruns abandons the connection: it is never closed (closing a connection dmPython is
    blocked on freezes the process), it stays busy in harness.sql's registry, and the next open() starts
    over with a new connection and runner. Any other error closes the connection."""

    def __init__(self, wl: Workload, target: str | None, name: str, timeout: float, *,
                 login_timeout: float = WRITE_LOGIN_TIMEOUT, track: bool = True) -> None:
        self.wl, self.target, self.name, self.timeout = wl, target, name, timeout
        self.login_timeout, self.track = login_timeout, track
        self.conn: Any = None
        self.calls = GuardedCalls(f"{name}-sql")

    def _call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return self.calls.call(fn, self.timeout, f"{what} on {self.target or 'the service name'}")
        except StatementTimeout:
            self.conn = None
            self.wl.count_abandoned()
            raise

    def open(self) -> Any:
        """Connect unless connected (bounded by login_timeout and the deadline)."""
        if self.conn is None:
            self.conn = self._call(lambda: self.wl.sql.connect(self.target, login_timeout=self.login_timeout,
                                                               track=self.track, one_at_a_time=True), "connect")
        return self.conn

    def run(self, fn: Callable[[Any], T], what: str = "statement") -> T:
        """fn(connection) on the runner within the deadline; on an error the connection is closed."""
        conn = self.open()
        try:
            return self._call(lambda: fn(conn), what)
        except StatementTimeout:
            raise
        except Exception:
            self.reset()
            raise

    def reset(self) -> None:
        """Close the connection (no call is running on it) and forget it."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self.reset()
        self.calls.retire()


class Workload:
    """Writers + poller + final read over one fresh table; `running()` yields the History."""

    def __init__(self, sql: Any, topology: Any, run_dir: str | Path | None, seed: int, *,
                 poll: float = 0.2, table: str | None = None, statement_timeout: float | None = None) -> None:
        if poll > 0.25:
            raise ValueError("role polling must run at least every 250 ms")
        self.sql = sql
        self.topology = topology
        self.run_dir = Path(run_dir) if run_dir else None
        self.seed = int(seed)
        self.poll = poll
        self.table = table or f"DMDW_WL{self.seed % 100000}_{next(_tables)}"
        self.instances = [h.instance for h in topology.db_hosts]
        timers = topology.timers
        # a commit may wait for DM8 to give up on a broken standby (failure detection) before it returns
        self.statement_timeout = (statement_timeout if statement_timeout is not None
                                  else timers.failure_detect() + STATEMENT_MARGIN)
        self.poll_timeout = min(self.statement_timeout, POLL_DEADLINE)
        # connecting failing for this long means the instance is down (not restarting, not slow)
        self.down_after = float(max(3, timers.mal_conn_fail_interval))
        self.chaos: Any = None  # set by the plugin or the suite: its log becomes the history's faults
        self.history: History | None = None
        self.abandoned = 0  # connections left behind after a call overran its deadline
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    # ---- SQL helpers -----------------------------------------------------------------------------
    def count_abandoned(self) -> None:
        """One more connection left behind after a call overran its deadline (reported at the end)."""
        with self._count_lock:
            self.abandoned += 1

    def _session(self, target: str | None, name: str, *, timeout: float | None = None,
                 login_timeout: float = WRITE_LOGIN_TIMEOUT, track: bool = True) -> _Session:
        return _Session(self, target, name, self.statement_timeout if timeout is None else timeout,
                        login_timeout=login_timeout, track=track)

    @staticmethod
    def _query(conn: Any, sql: str, params: tuple | None = None) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def _read(self, inst: str | None, fn: Callable[[Any], T], timeout: float, what: str) -> T:
        """fn(connection) on a fresh connection to `inst`, retried until it succeeds or `timeout` passes.
        Raises InstanceDown as soon as connecting has failed for `down_after` seconds in a row."""
        deadline = time.monotonic() + timeout
        failing_since: float | None = None
        while True:
            s = self._session(inst, f"wl-read-{inst}", login_timeout=READ_LOGIN_TIMEOUT, track=False)
            try:
                try:
                    s.open()
                except Exception as exc:  # noqa: BLE001 - refused, timed out, unreachable
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since >= self.down_after:
                        raise InstanceDown(f"{inst} refuses connections for {self.down_after:.0f}s: {exc}") from exc
                    last: Exception = exc
                else:
                    failing_since = None
                    try:
                        return s.run(fn, what)
                    except Exception as exc:  # noqa: BLE001 - retried until the deadline
                        last = exc
            finally:
                s.close()
            if time.monotonic() >= deadline:
                raise last
            time.sleep(self.poll)

    def setup(self) -> None:
        """Create the workload's table on the primary (through the service name)."""
        ddl = (f"CREATE TABLE {self.table} (ID BIGINT PRIMARY KEY, WRITER INT, NAME VARCHAR(100), "
               "CITY VARCHAR(100), EMAIL VARCHAR(200), AMOUNT INT, CRC BIGINT)")
        s = self._session(None, "wl-setup")
        try:
            s.run(lambda conn: (self._query(conn, ddl), self._commit(conn)), "CREATE TABLE")
        finally:
            s.close()

    @staticmethod
    def _commit(conn: Any) -> None:
        if not getattr(conn, "autocommit", True):
            conn.commit()

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
        session = self._session(None, f"wl-w{k}")
        backoff = 0.05
        sql = f"INSERT INTO {self.table} (ID, WRITER, NAME, CITY, EMAIL, AMOUNT, CRC) VALUES (?, ?, ?, ?, ?, ?, ?)"

        def insert(conn: Any, row: tuple) -> None:
            cur = conn.cursor()
            try:
                cur.execute(sql, row)
            finally:
                cur.close()
            self._commit(conn)

        while not self._stop.is_set():
            try:
                session.open()
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
                session.run(lambda conn, row=(rid, k, name, city, email, amount, crc): insert(conn, row), "INSERT")
                hist.record(proc, "ok", "add", rid)
            except StatementTimeout as exc:
                hist.record(proc, "info", "add", rid, error=f"{exc}; connection abandoned")
            except Exception as exc:  # noqa: BLE001 - every outcome is recorded
                code = _error_code(exc)
                hist.record(proc, "fail" if code in DEFINITE_FAIL else "info", "add", rid,
                            error=f"{code}: {exc}"[:300])
        session.close()

    # ---- role poller -----------------------------------------------------------------------------
    def _role(self, conn: Any) -> tuple[str, str, int | None]:
        mode, status = self._query(conn, "SELECT MODE$, STATUS$ FROM V$INSTANCE")[0]
        lsn = None
        with contextlib.suppress(Exception):
            lsn = int(self._query(conn, "SELECT CUR_LSN FROM V$RLOG")[0][0])
        return str(mode).upper(), str(status).upper(), lsn

    def _poller(self, inst: str, hist: History, stop: threading.Event) -> None:
        session = self._session(inst, f"wl-poll-{inst}", timeout=self.poll_timeout,
                                login_timeout=READ_LOGIN_TIMEOUT, track=False)
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                mode, status, lsn = session.run(self._role, "role read")
                hist.sample(inst, mode, status, lsn, at=t0)
            except Exception:  # noqa: BLE001 - unreachable (or hung) is a state
                hist.sample(inst, None, None, None, at=t0)
            stop.wait(max(0.0, self.poll - (time.monotonic() - t0)))
        session.close()

    # ---- final phase -----------------------------------------------------------------------------
    def wait_single_primary(self, hist: History, timeout: float) -> str:
        """Poll until exactly one instance is a writable primary; returns its name."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = {}
            for inst in self.instances:
                s = self._session(inst, f"wl-final-{inst}", timeout=self.poll_timeout, login_timeout=READ_LOGIN_TIMEOUT,
                                  track=False)
                try:
                    last[inst] = s.run(self._role, "role read")
                except Exception:  # noqa: BLE001
                    last[inst] = (None, None, None)
                finally:
                    s.close()
                hist.sample(inst, *last[inst])
            primaries = [i for i, r in last.items() if r[0] in ("PRIMARY", "NORMAL") and r[1] == "OPEN"]
            if len(primaries) == 1:
                return primaries[0]
            time.sleep(self.poll)
        raise TimeoutError(f"no single writable primary within {timeout:.0f}s; last roles seen: "
                           + ", ".join(f"{i}={r[0]}/{r[1]}" for i, r in last.items()))

    def _lsn(self, conn: Any) -> int | None:
        return self._role(conn)[2]

    def _wait_caught_up(self, primary: str, timeout: float) -> dict[str, str]:
        """Best effort: wait until every other instance's CUR_LSN reaches the primary's. Returns
        {instance: "caught up" | why not}; an instance that refuses connections is given up on early
        ("down: ...") instead of being waited for until the deadline."""
        deadline = time.monotonic() + timeout
        try:
            target = self._read(primary, self._lsn, timeout, "CUR_LSN read")
        except Exception as exc:  # noqa: BLE001 - reported, the snapshots decide what is comparable
            return {primary: f"no CUR_LSN from the primary: {exc}"[:300]}
        if target is None:
            return {primary: "the primary reports no CUR_LSN"}
        return {inst: self._catch_up(inst, target, deadline, timeout) for inst in self.instances if inst != primary}

    def _catch_up(self, inst: str, target: int, deadline: float, timeout: float) -> str:
        """Poll one instance's CUR_LSN until it reaches `target` or the deadline; says how that ended."""
        while True:
            try:
                lsn = self._read(inst, self._lsn, max(0.0, deadline - time.monotonic()), "CUR_LSN read")
            except InstanceDown as exc:
                return f"down: {exc}"[:300]
            except Exception as exc:  # noqa: BLE001 - still failing at the deadline
                return f"not readable within {timeout:.0f}s: {exc}"[:300]
            if lsn is not None and lsn >= target:
                return "caught up"
            if time.monotonic() >= deadline:
                return f"not caught up within {timeout:.0f}s (CUR_LSN {lsn} < {target})"
            time.sleep(self.poll)

    def _snapshot_on(self, conn: Any) -> TableSnapshot:
        body = "(ID * 7 + WRITER * 13 + AMOUNT + CRC + LENGTH(NAME) * 31 + LENGTH(CITY) * 37 + LENGTH(EMAIL) * 41)"
        try:
            count, checksum = self._query(
                conn, f"SELECT COUNT(*), COALESCE(SUM(RN * {body}), 0) FROM "
                      f"(SELECT ROW_NUMBER() OVER (ORDER BY ID) AS RN, T.* FROM {self.table} T) X")[0]
        except Exception:  # noqa: BLE001 - a dialect without window functions: position-free sum
            count, checksum = self._query(conn, f"SELECT COUNT(*), COALESCE(SUM({body}), 0) FROM {self.table}")[0]
        ids = [int(r[0]) for r in self._query(conn, f"SELECT ID FROM {self.table} ORDER BY ID")]
        return TableSnapshot(int(count), int(checksum), ids)

    def snapshot(self, inst: str, timeout: float | None = None) -> TableSnapshot:
        """Count, ordered checksum (computed by SQL on the instance) and ids of the workload's table,
        retried within `timeout` (default: the statement deadline); InstanceDown if it refuses connections."""
        return self._read(inst, self._snapshot_on, self.statement_timeout if timeout is None else timeout,
                          "final read")

    def final(self, hist: History, timeout: float | None = None) -> str:
        """Wait for one primary, let the others catch up, read everything back from every instance.
        Every step has a deadline scaled with the timers; instances found down are noted, not awaited."""
        if timeout is None:
            timeout = float(self.topology.timers.failure_detect() * 2 + 30)
        if self.chaos is not None:
            self.chaos.heal_all()
        primary = self.wait_single_primary(hist, timeout)
        hist.set_primary(primary)
        caught = self._wait_caught_up(primary, timeout)
        for inst, state in caught.items():
            if state != "caught up":
                hist.note(f"{inst} {state} at the final read")
        hist.record("final", "invoke", "read", None, node=primary)
        snap = self.snapshot(primary, timeout)
        hist.record("final", "ok", "read", snap.ids, node=primary)
        hist.snapshot(primary, self.table, snap)
        for inst in self.instances:
            if inst == primary:
                continue
            if caught.get(inst, "").startswith("down"):
                hist.note(f"{inst} not read in the final phase (down; no divergence check for it)")
                continue
            try:
                hist.snapshot(inst, self.table, self.snapshot(inst, timeout))
            except Exception as exc:  # noqa: BLE001 - e.g. the old primary is down after a takeover
                hist.note(f"{inst} not read in the final phase (no divergence check for it): {exc}"[:300])
        return primary

    # ---- the API suites use ----------------------------------------------------------------------
    def finish(self, hist: History, final: bool, judge: Any = None) -> None:
        """End a history: attach the faults injected meanwhile, run the final read phase (`judge`, default
        this workload's own), and close the file whatever happens."""
        if self.chaos is not None:
            hist.faults = list(self.chaos.log)
        try:
            if final:
                (judge or self.final)(hist)
        finally:
            hist.close()

    def _join(self, threads: list[threading.Thread], timeout: float, hist: History) -> None:
        """Join within one shared deadline; threads still running are reported and left (daemons)."""
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            hist.note(f"workload threads still running after {timeout:.0f}s, left behind: {', '.join(stuck)}")

    def wait_acked(self, n: int = 10, *, since: float | None = None, timeout: float | None = None,
                   what: str = "") -> int:
        """Wait until `n` writes are acknowledged after `since` (default: now) in the running history;
        the timeout defaults to the time a group may take to open (at least a minute)."""
        hist = self.history
        assert hist is not None, "wait_acked needs a running workload (inside workload.running())"
        t = hist.mark() if since is None else since
        limit = timeout if timeout is not None else max(60.0, self.topology.timers.group_open())
        return wait_until(lambda: len(hist.acked_after(t)), limit,
                          f"{n} writes acknowledged by the workload{' ' + what if what else ''}",
                          ok=lambda k: k >= n, interval=0.2)

    @contextlib.contextmanager
    def running(self, threads: int = 4, chaos: Any = None, final: bool = True, acked: int = 0) -> Iterator[History]:
        """Run `threads` writers and the poller inside the block; on exit stop them and run the final phase.
        With `acked`, the block starts once that many writes are acknowledged (the writers are going).
        The exit is bounded: a writer's statement gets statement_timeout, then the thread is left behind."""
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
            if acked:
                self.wait_acked(acked, what="before the test's steps")
            yield hist
        finally:
            self._stop.set()
            self._join(writers, self.statement_timeout + JOIN_MARGIN, hist)
            poll_stop.set()
            self._join(pollers, self.poll_timeout + JOIN_MARGIN, hist)
            if self.abandoned:
                hist.note(f"{self.abandoned} SQL connection(s) abandoned after a call overran its deadline "
                          f"({self.statement_timeout:.0f}s for writes, {self.poll_timeout:.0f}s for role reads)")
            self.finish(hist, final)
