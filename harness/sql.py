"""SQL through the official dmPython: to one instance, or to a service name of a dm_svc.conf we write.

The harness never talks SQL any other way (DESIGN.md section 1). A service name goes through the
dm_svc.conf in <run_dir>/client/ (DM_SVC_PATH is a directory; dmPython's dmsvc_path= takes the same
directory), so dmPython's own LOGIN_MODE / SWITCH_TIME / SWITCH_INTERVAL logic picks the instance.

Connections come wrapped (Connection, Cursor): every call that talks to the server marks the connection
busy, and nothing here closes a busy connection. dmPython's close() of a connection another thread is
blocked on (a SIGSTOPped server, a black-holed link) holds the GIL until the socket answers, which froze
the whole pytest process; such a connection is dropped and left to the OS at process exit instead.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.progress import progress
from harness.render import Service, render_svc, seed_service

if TYPE_CHECKING:
    from harness.backends.base import Backend, Host
    from harness.topology import Topology

SSL_HINT = ("dmPython cannot load OpenSSL (-70089): source .venv/dmdw.env (it sets LD_LIBRARY_PATH to the "
            "wheel's dmssl directory) or install libssl-dev")


RETRYABLE = (-70019, -70028)  # connect-phase network failures
# dmPython (its bundled DPI) has crashed the whole process with SIGSEGV when a workload login was in flight
# while a CLIENT-link fault was applied. The workload's threads connect one at a time
# (connect(one_at_a_time=True)) so that the chaos layer can hold their logins back while it changes rules
# (connects_paused); the test's own thread does not queue behind them. A connect is bounded by its login
# timeout; a waiter that cannot get its turn within CONNECT_QUEUE_S fails like an unreachable server and is
# retried by its caller.
_CONNECT_LOCK = threading.Lock()
CONNECT_QUEUE_S = 15.0


class ConnectQueueTimeout(TimeoutError):
    """Another thread's connect held the (process-wide) connect turn for too long."""


@contextlib.contextmanager
def connects_paused() -> Iterator[None]:
    """No workload connect is in flight inside the block (it waits for its turn). The chaos layer changes
    network rules inside it: both dmPython segfaults seen here hit a login in flight while a CLIENT fault
    was being applied. Waits at most CONNECT_QUEUE_S for a connect in flight, then goes ahead anyway."""
    got = _CONNECT_LOCK.acquire(timeout=CONNECT_QUEUE_S)
    try:
        yield
    finally:
        if got:
            _CONNECT_LOCK.release()


def dpi_login_timeout(seconds: float) -> int:
    """dmPython's `login_timeout` in its own unit, milliseconds, for a timeout the harness gives in seconds.

    Measured with dmPython 2.6.1: a server that accepts but never answers costs 2 x login_timeout ms + 1 s,
    and with login_timeout=5 (5 ms) every connect whose STARTUP reply takes more than ~15 ms fails with
    -70019, which on a loaded host made ~1 in 25 connects to a healthy instance fail."""
    return max(1, round(seconds * 1000))


def dm_error_code(exc: BaseException) -> int | None:
    """The DM error code of a dmPython exception (e.g. -2018), or None."""
    for a in getattr(exc, "args", ()):
        code = getattr(a, "code", None)
        if isinstance(code, int):
            return code
    return None


def _busy_call(name: str) -> Callable[..., Any]:
    """A method that forwards `name` to the wrapped dmPython object while the connection is marked busy."""

    def call(self: Any, *args: Any, **kw: Any) -> Any:
        with self._conn.using():
            return getattr(self._raw, name)(*args, **kw)

    call.__name__ = name
    return call


class _Proxy:
    """Attribute reads and writes go to the wrapped dmPython object (description, rowcount, autoCommit...)."""

    _raw: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)


class Cursor(_Proxy):
    """A dmPython cursor whose server calls mark its connection busy."""

    def __init__(self, raw: Any, conn: Connection) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_conn", conn)

    execute = _busy_call("execute")
    executemany = _busy_call("executemany")
    callproc = _busy_call("callproc")
    fetchone = _busy_call("fetchone")
    fetchmany = _busy_call("fetchmany")
    fetchall = _busy_call("fetchall")
    nextset = _busy_call("nextset")
    close = _busy_call("close")

    def __iter__(self) -> Iterator[Any]:
        while (row := self.fetchone()) is not None:
            yield row


class ConnectionClosed(HarnessError):
    """A statement on a connection the harness already closed (teardown)."""


class Connection(_Proxy):
    """A dmPython connection handed out by Sql: busy while a statement, fetch or commit runs on it."""

    def __init__(self, raw: Any, label: str, owner: Sql | None) -> None:
        for k, v in (("_raw", raw), ("label", label), ("_owner", owner), ("_lock", threading.Lock()),
                     ("_calls", 0), ("_closed", False)):
            object.__setattr__(self, k, v)

    @property
    def _conn(self) -> Connection:
        return self

    @property
    def busy(self) -> bool:
        """A call into dmPython is running on this connection now (possibly blocked for good)."""
        return self._calls > 0

    @property
    def closed(self) -> bool:
        return self._closed

    @contextlib.contextmanager
    def using(self) -> Iterator[Any]:
        """Mark the connection busy around one call into dmPython; yields the raw connection."""
        with self._lock:
            if self._closed:
                raise ConnectionClosed(f"SQL connection to {self.label} was closed by the harness")
            object.__setattr__(self, "_calls", self._calls + 1)
        try:
            yield self._raw
        finally:
            with self._lock:
                object.__setattr__(self, "_calls", self._calls - 1)

    def cursor(self, *args: Any, **kw: Any) -> Cursor:
        with self.using() as raw:
            return Cursor(raw.cursor(*args, **kw), self)

    commit = _busy_call("commit")
    rollback = _busy_call("rollback")

    def close(self) -> bool:
        """Close unless busy; True when closed. A busy connection is dropped from its Sql and left open
        (closing it would freeze the process); the OS reclaims it when the process exits."""
        if self._owner is not None:
            self._owner._forget(self)
        with self._lock:
            if self._closed:
                return True
            if self._calls:
                return False
            object.__setattr__(self, "_closed", True)
        with contextlib.suppress(Exception):
            self._raw.close()
        return True


class Sql:
    """dmPython connections to the group's instances and service names."""

    def __init__(self, topology: Topology, backend: Backend, hosts: dict[str, Host], run_dir: Path,
                 *, user: str = "SYSDBA", password: str | None = None) -> None:
        self.t, self.backend, self.hosts = topology, backend, hosts
        self.user, self.password = user, password if password is not None else topology.password
        self.svc_dir = run_dir / "client"
        self.services: dict[str, Service] = {}
        self._open: list[Connection] = []
        self.abandoned: list[str] = []  # connections left open at teardown because a call was running on them
        self._lock = threading.Lock()
        self.add_service(seed_service(topology, self._endpoints()))

    # -- addressing
    def _host_for(self, target: str) -> Host:
        """A host name (host1), an instance name (mema1) or a role (primary/standby, initial roles)."""
        if target in self.hosts:
            return self.hosts[target]
        for spec in self.t.db_hosts:
            if spec.instance and spec.instance.upper() == target.upper():
                return self.hosts[spec.name]
        for spec in self.t.db_hosts:
            if spec.role == target:
                return self.hosts[spec.name]
        raise HarnessError(f"unknown SQL target {target!r}: use a host, an instance name or a service name")

    def address(self, target: str) -> tuple[str, int]:
        """(ip, port) the pytest process dials for this instance."""
        host = self._host_for(target)
        spec = self.t.hosts[host.name]
        return self.backend.reachable(host, spec.port_num)

    def _endpoints(self, names: list[str] | None = None) -> list[tuple[str, int]]:
        specs = self.t.db_hosts if names is None else [self.t.hosts[self._host_for(n).name] for n in names]
        return [self.backend.reachable(self.hosts[s.name], s.port_num) for s in specs]

    # -- dm_svc.conf
    def add_service(self, svc: Service) -> str:
        """Add or replace a service in the client dm_svc.conf; returns its name."""
        self.services[svc.name] = svc
        self.svc_dir.mkdir(parents=True, exist_ok=True)
        (self.svc_dir / "dm_svc.conf").write_text(render_svc(list(self.services.values())))
        return svc.name

    def service(self, name: str, *, login_mode: int | None = None, switch_time: int | None = None,
                switch_interval: int | None = None, targets: list[str] | None = None,
                extra: dict[str, str] | None = None) -> str:
        """Declare a service name over the DB hosts (or `targets`) with its own LOGIN_MODE/SWITCH_* keys
        (and further dm_svc.conf keys in `extra`, e.g. RW_SEPARATE)."""
        return self.add_service(Service(name, self._endpoints(targets), login_mode, switch_time, switch_interval,
                                        dict(extra or {})))

    @property
    def svc_conf(self) -> Path:
        return self.svc_dir / "dm_svc.conf"

    # -- connections
    def connect(self, target: str | None = None, *, user: str | None = None, password: str | None = None,
                autocommit: bool = True, login_timeout: float = 2.0, retries: int = 0, track: bool = True,
                one_at_a_time: bool = False, **kw: Any) -> Connection:
        """A dmPython connection. target: host/instance/role -> that instance's address; a service name
        from dm_svc.conf (default: the seed's service) -> dmPython chooses by LOGIN_MODE.
        login_timeout: seconds for each login attempt (a silent server costs about twice that plus 1 s).
        retries: extra attempts after a connect-phase network failure (-70019/-70028); the harness's own
        reads use them, client tests leave them at 0 so they see every failure.
        track=False keeps the connection out of close_all() (its owner closes it, e.g. a role poller).
        one_at_a_time: wait for the other such connects of this process first (see _CONNECT_LOCK)."""
        import dmPython

        for attempt in range(retries + 1):
            try:
                if not one_at_a_time:
                    return self._connect_once(target, user, password, autocommit, login_timeout, track, kw)
                if not _CONNECT_LOCK.acquire(timeout=CONNECT_QUEUE_S):
                    raise ConnectQueueTimeout(f"connect to {target or self.t.svc.name}: no turn within "
                                              f"{CONNECT_QUEUE_S:g}s (another connect of the workload is stuck)")
                try:
                    return self._connect_once(target, user, password, autocommit, login_timeout, track, kw)
                finally:
                    _CONNECT_LOCK.release()
            except dmPython.DatabaseError as exc:
                if attempt == retries or dm_error_code(exc) not in RETRYABLE:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _connect_once(self, target: str | None, user: str | None, password: str | None, autocommit: bool,
                      login_timeout: float, track: bool, kw: dict[str, Any]) -> Connection:
        import dmPython

        target = target or self.t.svc.name
        args: dict[str, Any] = {"user": user or self.user, "password": password or self.password,
                                "login_timeout": dpi_login_timeout(login_timeout), "autoCommit": autocommit}
        if target in self.services:
            args.update(server=target, dmsvc_path=str(self.svc_dir))
        else:
            ip, port = self.address(target)
            args.update(server=ip, port=port)
        args.update(kw)
        try:
            conn = dmPython.connect(**args)
        except dmPython.DatabaseError as exc:
            if dm_error_code(exc) == -70089:
                raise HarnessError(SSL_HINT) from None
            raise
        wrapped = Connection(conn, target, self if track else None)
        if track:
            with self._lock:
                self._open.append(wrapped)
        return wrapped

    @contextlib.contextmanager
    def connection(self, target: str | None = None, **kw: Any) -> Iterator[Connection]:
        """Context-managed connection, closed on exit."""
        conn = self.connect(target, **kw)
        try:
            yield conn
        finally:
            conn.close()

    def query(self, target: str | None, sql: str, params: tuple | list | None = None, *,
              retries: int = 0) -> list[tuple]:
        """Run one statement on a fresh connection; rows as tuples (empty for non-queries)."""
        with self.connection(target, retries=retries) as conn:
            cur = conn.cursor()
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            try:
                return [tuple(r) for r in cur.fetchall()] if cur.description else []
            finally:
                cur.close()

    def execute(self, target: str | None, sql: str, params: tuple | list | None = None) -> int:
        """Run one statement (autocommit); returns rowcount."""
        with self.connection(target) as conn:
            cur = conn.cursor()
            cur.execute(sql, params) if params is not None else cur.execute(sql)
            n = cur.rowcount
            cur.close()
            return n

    def scalar(self, target: str | None, sql: str, params: tuple | list | None = None, *,
               retries: int = 0) -> Any:
        """First column of the first row (None when no row)."""
        rows = self.query(target, sql, params, retries=retries)
        return rows[0][0] if rows else None

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def close_all(self) -> list[str]:
        """Close every connection this object opened and still tracks (teardown). Never waits on a busy
        one: it is dropped, reported and left to the OS. Returns the labels of those left open."""
        with self._lock:
            conns, self._open = self._open, []
        left = [f"{c.label} (busy)" for c in conns if not c.close()]
        if left:
            self.abandoned.extend(left)
            progress(f"left {len(left)} SQL connection(s) open, a call still running on them: "
                     + ", ".join(left))
        return left
