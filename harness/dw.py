"""DataWatch: the running group as the suites see it (roles, health, LSNs, magics, archive state).

Everything is read through DM8's interfaces: SQL on each instance (v$instance, v$rlog, v$arch_status,
`select permanent_magic`) and the monitor's `show`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING

from harness.wait import hold, wait_until

if TYPE_CHECKING:
    from harness.backends.base import Host
    from harness.monitor import Monitor, ShowState
    from harness.procedure import Procedure
    from harness.sql import Sql
    from harness.topology import HostSpec, Topology


@dataclasses.dataclass(frozen=True)
class Node:
    """One DB node: host name, instance name, and its Host."""

    name: str  # instance name (mema1)
    host_name: str
    host: Host

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Role:
    """An instance's mode and status as v$instance reports them ("DOWN" when unreachable)."""

    mode: str
    status: str

    @property
    def writable_primary(self) -> bool:
        return self.mode == "PRIMARY" and self.status == "OPEN"


DOWN = Role("DOWN", "")


class LiveMonitor:
    """The group's dmmonitor as one handle that stays valid when the session behind it is replaced (a
    rebuild, the seed's exit and restart of the monitor): every use goes to the running session, which is
    started first if none runs."""

    def __init__(self, procedure: Procedure) -> None:
        self._procedure = procedure

    def session(self) -> Monitor:
        """The running dmmonitor session (started now if it exited)."""
        proc = self._procedure
        if proc.monitor is None or not proc.monitor.alive():
            proc.start_monitor()
        assert proc.monitor is not None
        return proc.monitor

    def __getattr__(self, name: str) -> object:
        return getattr(self.session(), name)

    def __repr__(self) -> str:
        return f"<LiveMonitor {self._procedure.monitor!r}>"
READ_RETRIES = 2  # the harness's own reads ride out a transient connect failure (role() only when asked)


class DataWatch:
    """The group: nodes, roles, waits. Built by the plugin around a Procedure, a Sql and a Monitor."""

    def __init__(self, procedure: Procedure, sql: Sql) -> None:
        self.procedure, self.sql = procedure, sql
        self.t: Topology = procedure.t
        self.nodes = {s.instance: Node(s.instance, s.name, procedure.hosts[s.name])
                      for s in self.t.db_hosts if s.instance}
        self._monitor = LiveMonitor(procedure)

    # -- nodes
    def node(self, name: str | Node) -> Node:
        if isinstance(name, Node):
            return name
        for n in self.nodes.values():
            if name.upper() in (n.name.upper(), n.host_name.upper()):
                return n
        raise KeyError(name)

    @property
    def monitor(self) -> Monitor:
        """The one monitor handle (harness.monitor.Monitor's API), valid across restarts and rebuilds."""
        return self._monitor  # type: ignore[return-value]

    def spec(self, node: str | Node) -> HostSpec:
        return self.t.hosts[self.node(node).host_name]

    # -- SQL reads
    def role(self, node: str | Node, *, retries: int = 0) -> Role:
        """v$instance MODE$/STATUS$ of one instance (DOWN if it cannot be reached). `retries` rides out
        transient connect failures (READ_RETRIES for "it is still PRIMARY" probes held for a while; 0
        where a fault makes the instance unreachable on purpose, so each read stays one login timeout)."""
        try:
            rows = self.sql.query(self.node(node).name, "select MODE$, STATUS$ from v$instance", retries=retries)
        except Exception:  # noqa: BLE001 - unreachable is a state
            return DOWN
        return Role(str(rows[0][0]).upper(), str(rows[0][1]).upper()) if rows else DOWN

    def roles(self) -> dict[str, Role]:
        """{instance: Role} for every node."""
        return {n: self.role(n) for n in self.nodes}

    @property
    def primary(self) -> Node:
        """The node that is PRIMARY OPEN now (the initial primary when none is)."""
        for n, r in self.roles().items():
            if r.writable_primary:
                return self.nodes[n]
        return self.nodes[self.t.primary.instance]  # type: ignore[index]

    @property
    def standby(self) -> Node:
        """The first real-time standby that is not the current primary (the seed's one standby in a 1+1)."""
        p = self.primary
        return next(n for n in self.realtime_nodes() if n.name != p.name)

    def realtime_nodes(self) -> list[Node]:
        """The primary and real-time (timely) standbys of the topology: the switchover/takeover candidates."""
        return [self.nodes[h.instance] for h in self.t.global_hosts() if h.instance]

    def async_nodes(self) -> list[Node]:
        """The ASYNC standbys of the topology (never the primary)."""
        return [self.nodes[h.instance] for h in self.t.async_standbys() if h.instance]

    def realtime_standbys(self) -> list[Node]:
        """The real-time (timely) standbys of the current primary: the nodes it may name for reads."""
        p = self.primary
        return [n for n in self.realtime_nodes() if n.name != p.name]

    def standbys(self) -> list[Node]:
        """Every node but the current primary: real-time ones first, then the ASYNC ones."""
        p = self.primary
        return [n for n in self.realtime_nodes() + self.async_nodes() if n.name != p.name]

    def lsn(self, node: str | Node | None = None) -> tuple[int, int] | dict[str, tuple[int, int]]:
        """(FILE_LSN, CUR_LSN) from v$rlog of one node, or {instance: (FILE_LSN, CUR_LSN)} for all."""
        if node is None:
            return {n: self.lsn(n) for n in self.nodes}  # type: ignore[misc]
        rows = self.sql.query(self.node(node).name, "select FILE_LSN, CUR_LSN from v$rlog", retries=READ_RETRIES)
        return int(rows[0][0]), int(rows[0][1])

    def magics(self, node: str | Node | None = None) -> tuple[int, int] | dict[str, tuple[int, int]]:
        """(permanent magic, DB magic) of one node, or {instance: (...)} for all."""
        if node is None:
            return {n: self.magics(n) for n in self.nodes}  # type: ignore[misc]
        name = self.node(node).name
        perm = self.sql.scalar(name, "select permanent_magic", retries=READ_RETRIES)
        db = self.sql.scalar(name, "select DB_MAGIC from v$rlog", retries=READ_RETRIES)
        return int(perm), int(db)

    def open_count(self, node: str | Node) -> int | None:
        """v$database OPEN_COUNT of one instance (N_OPEN, reference 4.3: the primary counts its opens and ships
        the count as redo), None when the instance cannot be read."""
        try:
            v = self.sql.scalar(self.node(node).name, "select OPEN_COUNT from v$database", retries=READ_RETRIES)
        except Exception:  # noqa: BLE001 - unreachable is a state
            return None
        return int(v) if v is not None else None

    def oguid(self, node: str | Node) -> int:
        return int(self.sql.scalar(self.node(node).name, "select OGUID from v$instance", retries=READ_RETRIES))

    def rstat(self, node: str | Node | None = None) -> dict[str, str]:
        """{ARCH_DEST: ARCH_STATUS} of the REALTIME archives of a node (default: the current primary)."""
        name = self.node(node).name if node else self.primary.name
        rows = self.sql.query(name, "select ARCH_DEST, ARCH_STATUS from v$arch_status where ARCH_TYPE = 'REALTIME'",
                              retries=READ_RETRIES)
        return {str(d): str(s).upper() for d, s in rows}

    def build_info(self) -> dict[str, str]:
        """v$instance SVR_VERSION / BUILD_VERSION of the primary (for the report)."""
        with contextlib.suppress(Exception):
            rows = self.sql.query(self.primary.name, "select SVR_VERSION, BUILD_VERSION from v$instance",
                                  retries=READ_RETRIES)
            if rows:
                return {"SVR_VERSION": str(rows[0][0]), "BUILD_VERSION": str(rows[0][1])}
        return {}

    # -- waits
    def wait_roles(self, primary: str | Node | None = None, standby: str | Node | None = None,
                   timeout: float | None = None) -> dict[str, Role]:
        """Poll v$instance until `primary` is PRIMARY OPEN (and `standby` STANDBY OPEN, if given)."""
        want: dict[str, Role] = {}
        if primary is not None:
            want[self.node(primary).name] = Role("PRIMARY", "OPEN")
        if standby is not None:
            want[self.node(standby).name] = Role("STANDBY", "OPEN")
        return wait_until(self.roles, timeout or self.t.timers.group_open(), f"roles {want}",
                          ok=lambda r: all(r.get(k) == v for k, v in want.items()), interval=0.3)

    def wait_role(self, node: str | Node, mode: str, status: str | None = None,
                  timeout: float | None = None) -> Role:
        """Poll v$instance until `node` is in `mode` (and `status`, when given; mode DOWN: unreachable).
        The timeout defaults to failure detection plus a margin."""
        want = f"{mode} {status}" if status else mode
        return wait_until(lambda: self.role(node), timeout or self._detect_deadline(), f"{node} to be {want}",
                          ok=lambda r: r.mode == mode and (status is None or r.status == status), interval=0.3)

    def wait_archive(self, standby: str | Node, status: str, *, primary: str | Node | None = None,
                     timeout: float | None = None) -> str:
        """Poll v$arch_status on the primary until its REALTIME archive to `standby` has `status`
        (VALID, INVALID). The timeout defaults to failure detection plus a margin."""
        name = self.node(standby).name
        where = self.node(primary).name if primary else "the primary"
        return wait_until(lambda: self.rstat(primary).get(name), timeout or self._detect_deadline(),
                          f"{where} to mark {name}'s REALTIME archive {status}", ok=lambda st: st == status,
                          interval=0.3)

    def wait_primary_among(self, nodes: list[Node], timeout: float | None = None) -> Node:
        """Poll v$instance until one of `nodes` is PRIMARY OPEN (whichever an AUTO takeover picked); returns it."""
        names = [n.name for n in nodes]
        opened = Role("PRIMARY", "OPEN")
        roles = wait_until(self.roles, timeout or self.t.timers.group_open(), f"one of {names} to be PRIMARY OPEN",
                           ok=lambda r: any(r.get(n) == opened for n in names), interval=0.3)
        return next(self.nodes[n] for n in names if roles.get(n) == opened)

    def wait_following(self, primary: str | Node, nodes: list[Node], timeout: float | None = None) -> None:
        """Wait until every one of `nodes` follows `primary`: STANDBY OPEN, and the primary's archive to it
        (REALTIME, TIMELY or ASYNC) VALID in its v$arch_status. Default timeout: the recovery time."""
        names = [self.node(n).name for n in nodes]

        def state() -> dict[str, tuple[str, str]]:
            arch = self.archives(primary)
            return {n: (self.role(n).mode, arch.get(n.upper(), ("", "NONE"))[1]) for n in names}

        wait_until(state, timeout or self.t.timers.recovery(), f"{names} to follow {self.node(primary).name}",
                   ok=lambda st: all(v == ("STANDBY", "VALID") for v in st.values()), interval=0.5,
                   describe=lambda st: st)

    def hold_roles(self, primary: str | Node, standbys: list[Node], seconds: float, what: str) -> None:
        """Poll v$instance for `seconds`: `primary` stays PRIMARY OPEN and every one of `standbys` STANDBY
        (a later takeover onto one of them, or one opening on its own, fails at once, naming `what`)."""
        names = [self.node(n).name for n in standbys]

        def state() -> bool:
            roles = {n: self.role(n, retries=READ_RETRIES) for n in [self.node(primary).name, *names]}
            first, *rest = roles.values()
            assert first == Role("PRIMARY", "OPEN") and all(r.mode == "STANDBY" for r in rest), \
                f"{what} stopped holding: {roles}"
            return True

        hold(state, seconds, what)

    def _detect_deadline(self) -> float:
        return self.t.timers.failure_detect() + 30.0

    def healthy(self) -> bool:
        """One PRIMARY OPEN, every other node STANDBY OPEN, the REALTIME archives VALID (SQL only, fast)."""
        roles = self.roles()
        modes = sorted((r.mode, r.status) for r in roles.values())
        if modes != [("PRIMARY", "OPEN")] + [("STANDBY", "OPEN")] * (len(roles) - 1):
            return False
        try:
            return all(v == "VALID" for v in self.rstat().values())
        except Exception:  # noqa: BLE001
            return False

    def wait_healthy(self, timeout: float | None = None, *, via_monitor: bool = True) -> ShowState | None:
        """Wait until the group is healthy: by SQL, and by `show` (both OPEN, standby VALID) if a monitor runs."""
        t = timeout or self.t.timers.recovery()
        wait_until(self.healthy, t, "the group to be healthy (PRIMARY OPEN + STANDBY OPEN, archive VALID)",
                   interval=0.3, describe=lambda _: {n: (r.mode, r.status) for n, r in self.roles().items()})
        if via_monitor and self.procedure.monitor is not None and self.procedure.monitor.alive():
            return self.procedure.monitor.wait_healthy(t)
        return None

    def archives(self, node: str | Node | None = None) -> dict[str, tuple[str, str]]:
        """{ARCH_DEST: (ARCH_TYPE, ARCH_STATUS)} of every remote archive (REALTIME, TIMELY, ASYNC) of a node
        (default: the current primary), as its v$arch_status says."""
        name = self.node(node).name if node else self.primary.name
        rows = self.sql.query(name, "select ARCH_DEST, ARCH_TYPE, ARCH_STATUS from v$arch_status "
                              "where ARCH_TYPE <> 'LOCAL'", retries=READ_RETRIES)
        return {str(d).upper(): (str(t).upper(), str(s).upper()) for d, t, s in rows}

    def received_lsn(self, node: str | Node) -> int:
        """The highest LSN a standby has received (KEEP_BUF included): V$RAPPLY_SYS RECV_LSN. That column is
        an emulator addition (emulator/README.md); no DM8 capture confirms it, so callers on DM8 skip."""
        return int(self.sql.scalar(self.node(node).name, "select RECV_LSN from v$rapply_sys", retries=READ_RETRIES))

    def catch_up_deadline(self, node: str | Node) -> float:
        """How long a standby may take to receive a commit: failure detection for a real-time one, its
        timer period (plus detection, for the shipping and the apply) for an ASYNC one."""
        spec = self.spec(node)
        period = self.t.timers.async_period(spec.timer_minutes) if spec.is_async else 0.0
        return period + self._detect_deadline()

    def wait_caught_up(self, node: str | Node, lsn: int | None = None, timeout: float | None = None) -> float:
        """Wait until `node`'s v$rlog CUR_LSN reaches `lsn` (default: the primary's now); returns the seconds
        it took (the standby's lag behind that commit, measured by DM8's own LSNs)."""
        target = lsn if lsn is not None else self._cur_lsn(self.primary)
        n = self.node(node)
        t0 = time.monotonic()
        wait_until(lambda: self._cur_lsn(n), timeout or self.catch_up_deadline(n),
                   f"{n} to apply up to LSN {target}", ok=lambda v: v >= target, interval=0.1)
        return time.monotonic() - t0

    def wait_all_caught_up(self, timeout: float | None = None) -> dict[str, float]:
        """wait_caught_up for every standby on the primary's LSN now: {instance: seconds}."""
        target = self._cur_lsn(self.primary)
        return {n.name: self.wait_caught_up(n, target, timeout) for n in self.standbys()}

    def _cur_lsn(self, node: Node) -> int:
        return self.lsn(node)[1]  # type: ignore[index]

    def wait_replicated(self, timeout: float | None = None) -> tuple[int, int]:
        """Wait until the standby's CUR_LSN equals the primary's, then until every other standby (an ASYNC one
        within its timer period) has applied up to that LSN; returns (primary, standby) LSN."""
        p, s = self.primary, self.standby
        got = wait_until(lambda: (self._cur_lsn(p), self._cur_lsn(s)), timeout or self.t.timers.group_open(),
                         f"{s} to apply up to {p}'s LSN", ok=lambda v: v[0] == v[1], interval=0.2)
        for other in self.standbys():
            if other.name != s.name:
                self.wait_caught_up(other, got[0], timeout)
        return got
