"""SQL through the official dmPython: to one instance, or to a service name of a dm_svc.conf we write.

The harness never talks SQL any other way (DESIGN.md section 1). A service name goes through the
dm_svc.conf in <run_dir>/client/ (DM_SVC_PATH is a directory; dmPython's dmsvc_path= takes the same
directory), so dmPython's own LOGIN_MODE / SWITCH_TIME / SWITCH_INTERVAL logic picks the instance.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.render import Service, render_svc, seed_service

if TYPE_CHECKING:
    from harness.backends.base import Backend, Host
    from harness.topology import Topology

SSL_HINT = ("dmPython cannot load OpenSSL (-70089): source .venv/dmdw.env (it sets LD_LIBRARY_PATH to the "
            "wheel's dmssl directory) or install libssl-dev")


RETRYABLE = (-70019, -70028)  # connect-phase network failures


def dm_error_code(exc: BaseException) -> int | None:
    """The DM error code of a dmPython exception (e.g. -2018), or None."""
    for a in getattr(exc, "args", ()):
        code = getattr(a, "code", None)
        if isinstance(code, int):
            return code
    return None


class Sql:
    """dmPython connections to the group's instances and service names."""

    def __init__(self, topology: Topology, backend: Backend, hosts: dict[str, Host], run_dir: Path,
                 *, user: str = "SYSDBA", password: str | None = None) -> None:
        self.t, self.backend, self.hosts = topology, backend, hosts
        self.user, self.password = user, password if password is not None else topology.password
        self.svc_dir = run_dir / "client"
        self.services: dict[str, Service] = {}
        self._open: list[Any] = []
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
                switch_interval: int | None = None, targets: list[str] | None = None) -> str:
        """Declare a service name over the DB hosts (or `targets`) with its own LOGIN_MODE/SWITCH_* keys."""
        return self.add_service(Service(name, self._endpoints(targets), login_mode, switch_time, switch_interval))

    @property
    def svc_conf(self) -> Path:
        return self.svc_dir / "dm_svc.conf"

    # -- connections
    def connect(self, target: str | None = None, *, user: str | None = None, password: str | None = None,
                autocommit: bool = True, login_timeout: int = 5, retries: int = 0, **kw: Any) -> Any:
        """A dmPython connection. target: host/instance/role -> that instance's address; a service name
        from dm_svc.conf (default: the seed's service) -> dmPython chooses by LOGIN_MODE.
        retries: extra attempts after a connect-phase network failure (-70019/-70028); the harness's own
        reads use them, client tests leave them at 0 so they see every failure."""
        import dmPython

        for attempt in range(retries + 1):
            try:
                return self._connect_once(target, user, password, autocommit, login_timeout, kw)
            except dmPython.DatabaseError as exc:
                if attempt == retries or dm_error_code(exc) not in RETRYABLE:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _connect_once(self, target: str | None, user: str | None, password: str | None, autocommit: bool,
                      login_timeout: int, kw: dict[str, Any]) -> Any:
        import dmPython

        target = target or self.t.svc.name
        args: dict[str, Any] = {"user": user or self.user, "password": password or self.password,
                                "login_timeout": login_timeout, "autoCommit": autocommit}
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
        with self._lock:
            self._open.append(conn)
        return conn

    @contextlib.contextmanager
    def connection(self, target: str | None = None, **kw: Any) -> Iterator[Any]:
        """Context-managed connection, closed on exit."""
        conn = self.connect(target, **kw)
        try:
            yield conn
        finally:
            self._close(conn)

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

    def _close(self, conn: Any) -> None:
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        with contextlib.suppress(Exception):
            conn.close()

    def close_all(self) -> None:
        """Close every connection this object opened (teardown)."""
        with self._lock:
            conns, self._open = self._open, []
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
