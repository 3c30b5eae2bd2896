"""Runbook: the operator's hands on the running group, step by step as the seed's 十二 reads.

Stop and start in the seed's order (十二.3), DW_MODE changes, the online rebuild of a split standby
(十二.2.4), dmwatcher.ini edits, N_OPEN.
Everything goes through DM8's interfaces only (host commands, dmwatcher.ini, disql, dmrman, dmmonitor),
with the Procedure doing the mechanics. The plugin hands it to suites as the `runbook` fixture.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import TYPE_CHECKING, Any

from harness.services import Units
from harness.wait import wait_until

if TYPE_CHECKING:
    from harness.backends.base import Host
    from harness.dw import DataWatch, Node
    from harness.topology import HostSpec



class Runbook:
    """The DBA's hands on the running group (a DataWatch)."""

    def __init__(self, dw: DataWatch) -> None:
        self.dw = dw
        self.proc = dw.procedure
        self.t = dw.t
        self.units = Units(dw, self.host)  # the seed's service units (四.3, 十): files, systemctl, reboot

    # ---- small reads ---------------------------------------------------------------------------
    def spec(self, node: str | Node) -> HostSpec:
        """The HostSpec of an instance or host name (or Node)."""
        return self.dw.spec(node)

    def host(self, node: str | Node) -> Host:
        return self.proc.hosts[self.spec(node).name]

    def n_open(self) -> dict[str, int | None]:
        """{instance: N_OPEN} read as v$database OPEN_COUNT on each instance (reference 4.3: the primary
        increments it on every open); None for an instance that cannot be read. Real `show` has no N_OPEN."""
        return {name: self.dw.open_count(name) for name in self.dw.nodes}

    def wait_equal_n_open(self, want: int | None = None, timeout: float = 30.0) -> int:
        """Wait until every node reports the same N_OPEN (and `want`, when given); return it.
        Equal N_OPEN means the standby applied its primary's redo (reference 4.3), which may lag the roles."""
        seen = wait_until(self.n_open, timeout, f"equal N_OPEN{'' if want is None else f' = {want}'} on every node",
                          ok=lambda v: len(v) > 1 and None not in v.values() and len(set(v.values())) == 1
                          and (want is None or set(v.values()) == {want}))
        return next(iter(seen.values()))

    def dm_pids(self, node: str | Node, process: str = "dmserver") -> list[int]:
        """Pids of a DM process (dmserver, dmwatcher) on a node's host."""
        return self.host(node).pids(process)

    def wait_no_process(self, node: str | Node, process: str = "dmserver", timeout: float | None = None) -> None:
        """Wait until no `process` runs on the node's host."""
        self.proc.wait_no_process(self.spec(node), process, timeout)

    # ---- processes -----------------------------------------------------------------------------
    def exit_monitor(self) -> None:
        """Seed 十二.3.1 step 1 / 十二.2.4 step 1: `exit` the dmmonitor (the confirm monitor too)."""
        self.proc.exit_monitor()

    def start_monitor(self) -> Any:
        """Seed 十一.2: start dmmonitor on the monitor host; returns the new session."""
        return self.proc.start_monitor()

    def stop_watcher(self, node: str | Node, *, with_instance: bool = True) -> None:
        """`systemctl stop DmWatcherService...` on the node's host: the watcher stops its instance too."""
        self.proc.stop_watcher(self.spec(node), with_instance=with_instance)

    def start_watcher(self, node: str | Node) -> None:
        """`systemctl start DmWatcherService...`: the watcher starts (INST_STARTUP_CMD) and opens its instance."""
        self.proc.start_watcher(self.spec(node))

    def stop_in_seed_order(self) -> list[str]:
        """Seed 十二.3.1 with the current roles: exit the monitor, stop the primary's watcher, then the
        standby's. Returns the instance order used."""
        return [str(spec.instance) for spec in self.proc.stop_group_manual(self.dw.sql)]

    def start_in_seed_order(self, order: list[str], timeout: float | None = None) -> Any:
        """Seed 十二.3.2: start the primary's watcher, the standby's, then the monitor; wait for `show` and
        SQL to report the group healthy. Returns the monitor."""
        t = timeout or self.t.timers.recovery()
        self.proc.start_group([self.spec(name) for name in order], t)
        self.dw.wait_healthy(t, via_monitor=False)
        return self.dw.monitor

    def switchover(self, monitor: Any, to: str | Node, *running: Any) -> None:
        """Seed 十二.2.1: `switchover` to `to` from a logged-in monitor; wait until `to` is the primary with
        the old primary its standby, `show` is healthy, and every running workload has acknowledged ten
        more operations since."""
        old = self.dw.primary
        if not monitor.logged_in:
            monitor.login()
        monitor.switchover(self.dw.node(to).name)
        self.dw.wait_roles(primary=to, standby=old)
        monitor.wait_healthy()
        for run in running:
            run.wait_acked(10)

    def takeover(self, monitor: Any, to: str | Node, *running: Any, force: bool = False) -> None:
        """Seed 十二.2.2 (reference 7.2 for `force`): `takeover [force]` to `to` from a logged-in monitor;
        wait until `to` is the writable primary and every running workload has acknowledged ten more
        operations on it. The checks before it (the primary ERROR, what `choose takeover` offers) are the
        test's own."""
        if not monitor.logged_in:
            monitor.login()
        monitor.takeover(self.dw.node(to).name, force=force)
        self.dw.wait_roles(primary=to)
        for run in running:
            run.wait_acked(10)

    def retire(self, node: str | Node, *clients: Any) -> None:
        """The failed old primary leaves the group: its watcher stops it on its host (so its DM processes
        are gone before its network returns), and each workload's final phase no longer reads it."""
        self.stop_watcher(node)
        for client in clients:
            self.leave_group(client, node)

    def leave_group(self, workload: Any, node: str | Node) -> None:
        """The node left the group (stopped after a takeover): the workload's final phase reads the
        remaining instances only (and skips one that answers but is no longer part of the group)."""
        name = getattr(node, "name", node)
        workload.instances = [i for i in workload.instances if i.upper() != str(name).upper()]

    # ---- dmwatcher.ini -------------------------------------------------------------------------
    def watcher_ini(self, node: str | Node) -> str:
        """The text of dmwatcher.ini on the node's host."""
        return self.host(node).read_file(self.t.dmwatcher_ini)

    def write_watcher_ini(self, node: str | Node, text: str, what: str) -> None:
        """Replace dmwatcher.ini on the node's host (its watcher should be stopped)."""
        spec = self.spec(node)
        self.proc.write_config(spec, self.t.dmwatcher_ini, text, f"dmwatcher.ini {what} on {spec.name}")

    def wait_watcher_says(self, node: str | Node, pattern: re.Pattern[str], what: str,
                          timeout: float | None = None) -> re.Match[str] | None:
        """Wait until the node's dmwatcher console output matches `pattern`; return the match. None, at
        once, where the watcher runs as a service (systemd): its console is not something DM8 documents,
        so the caller decides from state alone there."""
        watcher = self.proc.watchers.get(self.spec(node).name)
        if watcher is None:
            return None
        return wait_until(lambda: pattern.search(watcher.log()), timeout or self.t.timers.failure_detect() + 30,
                          what, interval=0.3, describe=lambda _: watcher.log()[-400:])

    def set_watcher_key(self, key: str, value: str) -> None:
        """Edit one key of dmwatcher.ini on every DB host (the group's watchers must be stopped)."""
        for spec in self.t.db_hosts:
            text = self.watcher_ini(spec.name)
            new, n = re.subn(rf"(?mi)^(\s*{re.escape(key)}\s*=\s*)\S+", rf"\g<1>{value}", text)
            assert n >= 1, f"{key} not found in {spec.name}:{self.t.dmwatcher_ini}"
            self.write_watcher_ini(spec.name, new, f"{key}={value}")

    def dw_mode(self) -> str:
        """DW_MODE as the primary host's dmwatcher.ini says."""
        m = re.search(r"(?mi)^\s*DW_MODE\s*=\s*(\S+)", self.watcher_ini(self.t.primary.name))
        return m.group(1).upper() if m else ""

    def set_dw_mode(self, mode: str) -> None:
        """Stop the group in the seed's order, set DW_MODE in every dmwatcher.ini, start it in order."""
        order = self.stop_in_seed_order()
        self.set_watcher_key("DW_MODE", mode)
        self.start_in_seed_order(order)

    # ---- seed 十二.2.4: online rebuild of a split standby ----------------------------------------
    def rebuild_standby(self, bad: str | Node, good: str | Node) -> None:
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
        seed_bak = f"{self.t.paths.bak_dir}/REBUILD_{int(time.time())}"
        self.proc.disql(good_s, f"十二.2.4 4) online backup on {good_s.name}",
                        [f"backup database full backupset '{hg.path(seed_bak)}';"])
        self.proc.copy_dir(good_s, bad_s, seed_bak, f"十二.2.4 4) copy the backup to {bad_s.name}")
        ini, bak = hb.path(self.t.dm_ini), hb.path(seed_bak)
        self.proc.dmrman(bad_s, "十二.2.4 5) restore", f"RESTORE DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.proc.dmrman(bad_s, "十二.2.4 5) recover", f"RECOVER DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.proc.dmrman(bad_s, "十二.2.4 5) update db_magic", f"RECOVER DATABASE '{ini}' UPDATE DB_MAGIC")
        self.proc.start_server(bad_s, mount=True, step=f"reference 7.4 mount {bad_s.instance}")
        self.proc.disql(bad_s, f"reference 7.4 standby mode on {bad_s.instance}", [
            "SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 1);", f"SP_SET_OGUID({self.t.oguid});",
            "ALTER DATABASE STANDBY;", f"SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', {self.t.dw.alter_mode_status});"])
        self.start_watcher(bad)  # 十二.2.4 7)
        self.start_monitor()  # 十二.2.4 8)
