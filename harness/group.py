"""Group: one Data Watch group's lifecycle (backend, hosts, the seed's procedure, SQL, DataWatch).

Why separate from the pytest plugin: the benchmarks and any script bring a group up, rebuild and tear
it down the same way the suites do. The group is driven by a Settings (harness.settings) and keeps the
one topology in flight: the requested one adapted to its backend (addresses, ports).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from harness.backends import make_backend
from harness.backends.base import Backend, BackendOptions, Host
from harness.dw import DataWatch
from harness.errors import HarnessError
from harness.procedure import Procedure
from harness.settings import Settings
from harness.sql import Sql
from harness.steps import StepLog
from harness.topology import Topology

_LIVE: list[Group] = []  # groups to tear down at exit if their owner could not


EMULATOR_SWITCHES = ("DMEMU_BUGS", "DMEMU_WORDING")


class Group:
    """Backend + hosts + procedure + SQL + DataWatch for one run (or one benchmark)."""

    def __init__(self, settings: Settings, run_dir: str | Path, env: dict[str, Any] | None = None,
                 run_id: str | None = None) -> None:
        self.settings = settings
        self.run_dir = Path(run_dir)
        self.run_id = run_id or self.run_dir.name  # an xdist worker's: <controller's run id>-gw0
        self.keep = settings.keep
        # the report's environment, updated in place (the report plugin holds the same dict)
        self.env: dict[str, Any] = env if env is not None else settings.env()
        self.steps = StepLog(self.run_dir / "steps.jsonl")
        self.backend: Backend | None = None
        self.hosts: dict[str, Host] = {}
        self.topology: Topology = settings.topology
        self.procedure: Procedure | None = None
        self.sql: Sql | None = None
        self.dw: DataWatch | None = None
        self.used = False  # a test ran on the current build
        self.dirty = False  # a destructive test ran (or a daemon is missing): rebuild before the next use
        self.suspect = False  # a test failed on it: the next one checks `show` too before trusting it
        self.builds = 0
        self.hosts_ready_seconds = 0.0

    def up(self, *, build: bool = True) -> None:
        """Make the hosts (topology adapted to the backend) and build the group by the seed's procedure."""
        s = self.settings
        t0 = time.monotonic()
        opts = BackendOptions(target=s.target, dm_home=s.topology.paths.dm_home, dm8_image=s.dm8_image,
                              dm8_installer=s.dm8_installer, lang=s.lang, run_id=self.run_id,
                              run_dir=str(self.run_dir), keep=self.keep,
                              extra={"inventory": s.inventory} if s.inventory else {})
        self.backend = make_backend(s.backend, opts)
        if s.target == "emulator":
            # emulator-only switches reach every host's DM processes: seeded defects (the kill matrix) and
            # the alternative wording that proves verdicts rest on state, not sentences
            for key in EMULATOR_SWITCHES:
                if os.environ.get(key):
                    self.backend.extra_env[key] = os.environ[key]
            # the emulator's length of a dmtimer.ini minute (ASYNC archive timers); DM8's is 60 s
            self.backend.extra_env["DMEMU_TIMER_MINUTE_S"] = str(s.topology.timers.timer_minute_s)
        _LIVE.append(self)
        self.env["backend"] = self.backend.name
        if s.existing:
            self._accept()
            return
        self.topology = self.backend.adapt(s.topology)
        for key, value in (("topology", self.topology.summary()), ("timers", vars(self.topology.timers))):
            self.env.setdefault(key, {}).clear()
            self.env[key].update(value)
        self.hosts = self.backend.up(self.topology)
        self.hosts_ready_seconds = time.monotonic() - t0
        self.procedure = Procedure(self.backend, self.hosts, self.topology, self.steps, self.run_dir)
        self.sql = Sql(self.topology, self.backend, self.hosts, self.run_dir)
        self.dw = DataWatch(self.procedure, self.sql)
        if build:
            self.build()

    @property
    def existing(self) -> bool:
        """An existing deployment (--dw-existing): discovered, never built, rebuilt or torn down."""
        return self.settings.existing

    def _accept(self) -> None:
        """--dw-existing: connect to the inventory's hosts and discover the running group."""
        from harness.discover import discover

        t0 = time.monotonic()
        self.hosts = self.backend.up(self.settings.topology)
        self.topology, found = discover(self.hosts, self.settings.inventory, self.settings.topology,
                                        lambda t: Sql(t, self.backend, self.hosts, self.run_dir), self.run_dir)
        for spec in self.topology.hosts.values():
            h = self.hosts[spec.name]
            h.role, h.internal_ip, h.external_ip = spec.role, spec.internal_ip, spec.external_ip
        self.backend.topology = self.topology
        self.hosts_ready_seconds = time.monotonic() - t0
        self.procedure = Procedure(self.backend, self.hosts, self.topology, self.steps, self.run_dir)
        self.sql = Sql(self.topology, self.backend, self.hosts, self.run_dir)
        self.dw = DataWatch(self.procedure, self.sql)
        self.starting_roles = {s.instance: s.role for s in self.topology.db_hosts}
        self.procedure.monitor_ini = self._observer_ini(found)
        self.env["accepted"] = found.summary()
        for key, value in (("topology", self.topology.summary()), ("timers", vars(self.topology.timers))):
            self.env.setdefault(key, {}).clear()
            self.env[key].update(value)
        self.env.setdefault("dm_build", {}).update(self.dw.build_info())

    def _observer_ini(self, found: Any) -> str | None:
        """An accepted group usually runs its own confirm monitor (MON_DW_CONFIRM = 1), which admits no
        second one: the harness's dmmonitor then reads a copy of dmmonitor.ini with MON_DW_CONFIRM = 0 and
        its own log folder, in a run folder under /tmp of the monitor host (removed at the end)."""
        from harness import render

        t = self.topology
        h = self.hosts[t.monitor_host.name]
        text = h.read_file(t.dmmonitor_ini)
        glob = render.parse_ini(text).get("", {})
        if str(glob.get("MON_DW_CONFIRM", "0")).strip() != "1":
            return None
        folder = f"/tmp/dmdw-{self.run_id}"
        copy = render.apply_ini_changes(text, {"MON_DW_CONFIRM": "0", "MON_LOG_PATH": f"{folder}/log"})
        h.run(f"mkdir -p {folder}/log && chown -R {t.os.user}: {folder}", user="root")
        h.write_file(f"{folder}/dmmonitor.ini", copy, owner=t.os.user, mapped=True)
        self.backend.scratch[h.name] = folder
        found.notes.append(f"{h.name}: the group's confirm monitor keeps running; the harness's dmmonitor is an "
                           f"observer from {folder}/dmmonitor.ini (MON_DW_CONFIRM = 0)")
        return f"{folder}/dmmonitor.ini"

    def build(self) -> None:
        """The seed's procedure from empty hosts to a healthy group."""
        t0 = time.monotonic()
        self.procedure.build()
        self.builds += 1
        self.used = self.dirty = False
        self.env.setdefault("bringup_seconds", round(time.monotonic() - t0, 2))
        self.env.setdefault("dm_build", {}).update(self.dw.build_info())
        self.env["builds"] = self.builds

    def rebuild(self) -> None:
        if self.existing:
            raise HarnessError("the accepted group is not healthy and an existing deployment is never rebuilt "
                               f"by the harness; `show` on {self.topology.monitor_host.name} tells its state")
        self.sql.close_all()
        self.procedure.kill_everything()
        self.procedure.wipe()
        self.build()

    def ensure_healthy(self, fresh: bool) -> None:
        """Before a test: a fresh build if asked (destructive) or the group is dirty; else check health
        and wait for it within the recovery timers; rebuild when that fails. An accepted group is never
        rebuilt: it is restored to its starting roles instead (restore())."""
        if self.existing:
            if self.dirty or self.suspect or not self.dw.healthy():
                self.restore(after="a test start that found the group not healthy")
            self._monitor_running()
            self.used, self.suspect = True, False
            return
        if self.dirty or (fresh and self.used):
            self.rebuild()
        elif self.suspect or not self.dw.healthy():
            self._monitor_running()
            try:
                self.dw.wait_healthy(self.topology.timers.recovery(), via_monitor=self.suspect)
            except Exception:  # noqa: BLE001 - any failure to recover means rebuild
                self.rebuild()
        self._monitor_running()
        if self.used:
            self._starting_primary_back()
        self.used, self.suspect = True, False

    def _starting_primary_back(self) -> None:
        """Every test starts from the seed's roles: a healthy group a test left with another primary (a
        switchover not switched back) gets a switchover back; when that fails, a rebuild."""
        try:
            done = self._switch_back(str(self.topology.primary.instance))
        except Exception:  # noqa: BLE001 - any failure to switch back means rebuild
            self.rebuild()
            return
        if done:
            self.steps.note(self.topology.monitor_host.name, f"back to the starting primary: {done}", "switchover",
                            "", ok=True)

    def _switch_back(self, want: str) -> str:
        """A switchover to `want` when another instance is the primary, then healthy again; returns what it
        did ("" when `want` is the primary already)."""
        primary = str(self.procedure.live_roles(self.sql)[0].instance)
        if primary.upper() == want.upper():
            return ""
        self.procedure.monitor.switchover(want)
        self.dw.wait_healthy(self.topology.timers.recovery(), via_monitor=True)
        return f"switchover {primary} -> {want}"

    def restore(self, after: str = "") -> None:
        """An accepted group back to its starting state: every watcher running (each restarts its
        instance), healthy in `show`, the starting primary primary again (switchover); verified with `show`.
        Each action is logged (env `restores`, shown on the sign-off page) with the test it followed.
        Raises HarnessError saying what state the group is in when that cannot be reached."""
        t0 = time.monotonic()
        actions: list[str] = []
        entry: dict[str, Any] = {"after": after, "actions": actions, "ok": False}
        self.env.setdefault("restores", []).append(entry)
        p = self.procedure
        for spec in self.topology.db_hosts:
            if not self.hosts[spec.name].pids("dmwatcher"):
                p.start_watcher(spec)
                actions.append(f"started dmwatcher on {spec.name}")
        self._monitor_running()
        try:
            self.dw.wait_healthy(self.topology.timers.recovery(), via_monitor=True)
        except Exception:  # noqa: BLE001 - a split standby (after a takeover) is rebuilt online, 十二.2.4
            actions.append(self._rebuild_split_standby())
        from harness.runbook import Runbook

        runbook = Runbook(self.dw)
        mode = runbook.dw_mode()
        if mode != self.topology.dw.dw_mode:  # a dw_auto test left the group in another mode
            runbook.set_dw_mode(self.topology.dw.dw_mode)
            actions.append(f"DW_MODE {mode} -> {self.topology.dw.dw_mode}")
        if done := self._switch_back(next(str(i) for i, r in self.starting_roles.items() if r == "primary")):
            actions.append(done)
        state = p.monitor.show()
        roles = {i: state.db(i).imode for i in self.starting_roles}
        ok = all(roles[i] == r.upper() for i, r in self.starting_roles.items()) and state.healthy(list(roles))
        self.steps.note(self.topology.monitor_host.name, "restore the accepted group's starting roles", "show",
                        state.text, ok=ok, duration=time.monotonic() - t0)
        entry.update(roles=roles, ok=ok, seconds=round(time.monotonic() - t0, 1))
        if not ok:
            raise HarnessError(f"the accepted group did not return to its starting roles {self.starting_roles}: "
                               f"`show` reports {state.summary()}")
        self.dirty = False

    def _rebuild_split_standby(self) -> str:
        """Seed 十二.2.4 on the instance that is not the one OPEN PRIMARY `show` reports; then healthy.
        Returns what it did, for the restore log."""
        from harness.runbook import Runbook

        self._monitor_running()
        state = self.procedure.monitor.show()
        primaries = [n for n, d in state.databases.items() if d.imode == "PRIMARY" and d.istatus == "OPEN"
                     and getattr(d, "wctlstat", "") != "SPLIT"]
        if len(primaries) != 1:
            raise HarnessError(f"no single OPEN PRIMARY to rebuild from: `show` reports {state.summary()}")
        bad = next(s.instance for s in self.topology.db_hosts if str(s.instance).upper() != primaries[0].upper())
        self.steps.note(self.topology.monitor_host.name, f"restore: rebuild {bad} from {primaries[0]} (十二.2.4)",
                        "show", state.text, ok=True)
        Runbook(self.dw).rebuild_standby(bad, primaries[0])
        self.dw.wait_healthy(self.topology.timers.recovery(), via_monitor=True)
        return f"rebuilt {bad} from {primaries[0]} online (十二.2.4)"

    def _monitor_running(self) -> None:
        if self.procedure.monitor is None or not self.procedure.monitor.alive():
            self.procedure.start_monitor()

    def daemons_missing(self) -> list[str]:
        """"host:process" for every dmserver or dmwatcher not running on a DB host (SQL health alone does
        not see a missing watcher)."""
        missing = []
        for spec in self.topology.db_hosts:
            h = self.hosts[spec.name]
            missing += [f"{spec.name}:{p}" for p in ("dmwatcher", "dmserver") if not h.pids(p)]
        return missing

    def collect_logs(self) -> None:
        """Copy every daemon's output into run_dir/logs/<host>/ for the report."""
        if self.procedure is None:
            return
        for proc in self.procedure.spawned:
            dest = self.run_dir / "logs" / proc.host.name / f"{proc.name}.log"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(proc.log())

    def down(self) -> None:
        """Collect logs, stop every process, remove the hosts (idempotent; atexit retries if interrupted)."""
        try:
            if self.sql is not None:
                self.sql.close_all()
            self.collect_logs()
            if self.keep or self.existing:
                if self.procedure and self.procedure.monitor:
                    self.procedure.monitor.close()
                if self.keep:
                    self.env["cleanup"] = self.backend.cleanup_hint() if self.backend else ""
                return
            if self.procedure is not None:
                self.procedure.kill_everything()
        finally:
            if self.backend is not None and (not self.keep or self.existing):
                self.backend.down()
            if self in _LIVE:
                _LIVE.remove(self)


def sweep_run(prefix: str, backend: str, grace: float = 30.0) -> list[str]:
    """Remove what the groups of runs whose id starts with prefix left behind (an xdist controller sweeps
    its workers': <run id>-gw0...). Owners still running get `grace` seconds to tear down themselves; then
    everything of the prefix goes. Returns what was removed (container/network names, local pids)."""
    from harness.backends import local_processes

    removed: list[str] = []
    deadline = time.monotonic() + grace
    while True:
        force = time.monotonic() >= deadline
        removed += [str(pid) for pid in local_processes.sweep(prefix, force=force)]
        left = local_processes.leftovers(prefix)
        if backend != "local":
            from harness.backends import docker

            with contextlib.suppress(HarnessError):
                removed += docker.sweep(prefix, force=force)
                left += docker.leftovers(prefix)
        if not left or force:
            return removed
        time.sleep(0.5)


@atexit.register
def _teardown_leftovers() -> None:
    for g in list(_LIVE):
        try:
            g.down()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
