"""Operator steps the failover and lifecycle suites share: the seed's stop/start order (十二.3), DW_MODE
changes, the online rebuild of a split standby (十二.2.4), N_OPEN.

Everything goes through DM8's interfaces only (host commands, dmwatcher.ini, disql, dmrman, dmmonitor),
using the harness's Procedure for the mechanics (the role-aware stop/start order, stopping a watcher with
its instance) and harness.wait.hold for "nothing happens for a while". The rest belongs in the harness
(harness/procedure.py or a harness/runbook.py) once the core accepts it; until then both suites import
this one module.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.plugin import next_test, wants_auto
from harness.wait import wait_until

AUTO_TAKEOVER = re.compile(r"start to auto takeover|开始自动接管", re.I)


class Runbook:
    """The DBA's hands on the running group (a DataWatch from the `dw` fixture)."""

    def __init__(self, dw: Any) -> None:
        self.dw = dw
        self.proc = dw.procedure
        self.t = dw.t

    # ---- small reads ---------------------------------------------------------------------------
    def spec(self, node: Any) -> Any:
        """The HostSpec of an instance or host name (or Node)."""
        return self.dw.spec(node)

    def host(self, node: Any) -> Any:
        return self.proc.hosts[self.spec(node).name]

    def n_open(self, monitor: Any) -> dict[str, int | None]:
        """{INAME: N_OPEN} as `show` reports it (reference 4.3: the primary increments it on every open)."""
        return {name: db.n_open for name, db in monitor.show().databases.items()}

    def dm_pids(self, node: Any, process: str = "dmserver") -> list[int]:
        """Pids of a DM process (dmserver, dmwatcher) on a node's host."""
        return self.host(node).pids(process)

    def wait_no_process(self, node: Any, process: str = "dmserver", timeout: float | None = None) -> None:
        """Wait until no `process` runs on the node's host."""
        self.proc.wait_no_process(self.spec(node), process, timeout)

    # ---- processes -----------------------------------------------------------------------------
    def exit_monitor(self) -> None:
        """Seed 十二.3.1 step 1 / 十二.2.4 step 1: `exit` the dmmonitor (the confirm monitor too)."""
        self.proc.exit_monitor()

    def start_monitor(self) -> Any:
        """Seed 十一.2: start dmmonitor on the monitor host; returns the new session."""
        return self.proc.start_monitor()

    def stop_watcher(self, node: Any, *, with_instance: bool = True) -> None:
        """`systemctl stop DmWatcherService...` on the node's host: the watcher stops its instance too."""
        self.proc.stop_watcher(self.spec(node), with_instance=with_instance)

    def start_watcher(self, node: Any) -> None:
        """`systemctl start DmWatcherService...`: the watcher starts (INST_STARTUP_CMD) and opens its instance."""
        self.proc.start_watcher(self.spec(node))

    def stop_in_seed_order(self) -> list[str]:
        """Seed 十二.3.1 with the current roles (harness Procedure.stop_group_manual): exit the monitor, stop
        the primary's watcher, then the standby's. Returns the instance order used."""
        return [str(spec.instance) for spec in self.proc.stop_group_manual(self.dw.sql)]

    def start_in_seed_order(self, order: list[str], timeout: float | None = None) -> Any:
        """Seed 十二.3.2 (Procedure.start_group): start the primary's watcher, the standby's, then the
        monitor; wait for `show` and SQL to report the group healthy."""
        t = timeout or self.t.timers.recovery()
        self.proc.start_group([self.spec(name) for name in order], t)
        self.dw.wait_healthy(t, via_monitor=False)
        return self.proc.monitor

    # ---- configuration -------------------------------------------------------------------------
    def set_watcher_key(self, key: str, value: str) -> None:
        """Edit one key of dmwatcher.ini on every DB host (the group's watchers must be stopped)."""
        for spec in self.t.db_hosts:
            h = self.proc.hosts[spec.name]
            text = h.read_file(self.t.dmwatcher_ini)
            new, n = re.subn(rf"(?mi)^(\s*{re.escape(key)}\s*=\s*)\S+", rf"\g<1>{value}", text)
            assert n >= 1, f"{key} not found in {spec.name}:{self.t.dmwatcher_ini}"
            self.proc.write_config(spec, self.t.dmwatcher_ini, new, f"dmwatcher.ini {key}={value} on {spec.name}")

    def dw_mode(self) -> str:
        """DW_MODE as the primary host's dmwatcher.ini says."""
        text = self.proc.hosts[self.t.primary.name].read_file(self.t.dmwatcher_ini)
        m = re.search(r"(?mi)^\s*DW_MODE\s*=\s*(\S+)", text)
        return m.group(1).upper() if m else ""

    def set_dw_mode(self, mode: str) -> None:
        """Stop the group in the seed's order, set DW_MODE in every dmwatcher.ini, start it in order."""
        order = self.stop_in_seed_order()
        self.set_watcher_key("DW_MODE", mode)
        self.start_in_seed_order(order)

    # ---- seed 十二.2.4: online rebuild of a split standby ----------------------------------------
    def rebuild_standby(self, bad: Any, good: Any) -> None:
        """Seed 十二.2.4 (reference 7.4): exit the monitor; stop the watcher and instance on `bad`; remove
        its dmwatcher control files; online full backup of `good`, copied over; RESTORE / RECOVER /
        UPDATE DB_MAGIC; mount, OGUID, standby mode; start its watcher and the monitor."""
        bad_s, good_s = self.spec(bad), self.spec(good)
        hb, hg = self.host(bad), self.host(good)
        self.exit_monitor()
        self.stop_watcher(bad)
        db_dir = hb.path(self.t.db_dir)
        self.proc.steps.run(hb, "十二.2.4 3) remove the split dmwatcher files",
                            f"find {shlex.quote(db_dir)} -maxdepth 1 -name 'dmwatcher*' ! -name dmwatcher.ini "
                            "-exec rm -rf {} +")
        name = f"REBUILD_{int(time.time())}"
        seed_bak = f"{self.t.paths.bak_dir}/{name}"
        self.proc.disql(good_s, f"十二.2.4 4) online backup on {good_s.name}",
                        [f"backup database full backupset '{hg.path(seed_bak)}';"])
        self.proc.copy_dir(good_s, bad_s, seed_bak, f"十二.2.4 4) copy the backup to {bad_s.name}")
        ini, bak = hb.path(self.t.dm_ini), hb.path(seed_bak)
        self.proc.dmrman(bad_s, "十二.2.4 5) restore", f"RESTORE DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.proc.dmrman(bad_s, "十二.2.4 5) recover", f"RECOVER DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.proc.dmrman(bad_s, "十二.2.4 5) update db_magic", f"RECOVER DATABASE '{ini}' UPDATE DB_MAGIC")
        self.proc.start_server(bad_s, mount=True, step=f"7.4 5) mount {bad_s.instance}")
        self.proc.disql(bad_s, f"7.4 5) standby mode on {bad_s.instance}", [
            "SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 1);", f"SP_SET_OGUID({self.t.oguid});",
            "ALTER DATABASE STANDBY;", f"SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', {self.t.dw.alter_mode_status});"])
        self.start_watcher(bad)
        self.start_monitor()


# ---- workload verdict helpers ------------------------------------------------------------------------
def acked_before(history: Any, ids: list[int], t: float) -> list[int]:
    """Those of `ids` whose write was acknowledged (ok) before monotonic time `t`."""
    want = set(ids)
    return sorted(op.value for op in history.ops
                  if op.type == "ok" and op.f == "add" and op.value in want and op.time < t)


def report_loss(request: Any, verdict: Any, what: str) -> str:
    """Record a measured, documented loss in the test's report (and on stdout); returns the line."""
    line = (f"{what}: {len(verdict.lost)} acknowledged writes lost of {verdict.acknowledged}; RPO "
            f"{verdict.rpo.rows} rows, LSN gap {verdict.rpo.lsn_gap}; two-primaries window "
            f"{verdict.two_primaries_window:.2f}s")
    print(line)
    props = getattr(request.node, "user_properties", None)
    if props is not None:
        props.append(("measured_loss", line))
    return line


# ---- fixtures (imported by suites/failover/conftest.py and suites/lifecycle/conftest.py) -----------
@pytest.fixture
def runbook(dw: Any) -> Runbook:
    """The DBA's hands on the running group (seed 十二.2.4, 十二.3, DW_MODE changes)."""
    return Runbook(dw)


@pytest.fixture
def auto_mode(runbook: Runbook, dw_group: Any, request: pytest.FixtureRequest) -> Iterator[Runbook]:
    """The group in DW_MODE AUTO with the confirm monitor (MON_DW_CONFIRM=1), back to the topology's mode
    afterwards unless the next test runs in AUTO too (the plugin puts those next to each other); a
    destructive test's group, or one that is not healthy, is left for a rebuild instead."""
    if runbook.dw_mode() != "AUTO":
        runbook.set_dw_mode("AUTO")
    yield runbook
    if request.node.get_closest_marker("destructive") is not None or dw_group.dirty:
        return
    following = next_test(request.node)
    if following is not None and wants_auto(following) and following.get_closest_marker("destructive") is None:
        return
    try:
        if not runbook.dw.healthy():
            raise RuntimeError("group not healthy")
        runbook.set_dw_mode(runbook.t.dw.dw_mode)
    except Exception:  # noqa: BLE001 - any failure to restore: the next test gets a fresh group
        dw_group.dirty = True


def wait_writes(history: Any, *, after: float, n: int = 10, timeout: float = 60.0, what: str = "") -> int:
    """Wait until the workload has `n` writes acknowledged after monotonic time `after` (writers resumed)."""
    return wait_until(lambda: len(history.acked(after)), timeout,
                      f"{n} writes acknowledged by the workload{' ' + what if what else ''}", ok=lambda k: k >= n,
                      interval=0.2)


def leave_group(workload: Any, node: Any) -> None:
    """The node left the group (stopped after a takeover): the workload's final phase reads the remaining
    instances only. (The final phase gives up early on an instance that refuses connections by itself;
    this also skips one that answers but is no longer part of the group.)"""
    name = getattr(node, "name", node)
    workload.instances = [i for i in workload.instances if i.upper() != str(name).upper()]


def ever_primary(history: Any, instance: str) -> bool:
    """True if the workload's role poller ever saw `instance` as PRIMARY (a takeover or a split)."""
    return any(s.instance.upper() == instance.upper() and (s.mode or "").upper() == "PRIMARY"
               for s in list(history.roles))
