"""The seed's procedure (sections 四 to 十一) as code, through host commands only.

build() runs every step on the hosts exactly as an operator would (dminit, dmserver, disql, dmrman,
file edits, dmwatcher, dmmonitor), records each step in the StepLog, and stops at the first failure
with the step's name and output. stop_group_manual() and start_group() are seed 十二.3.1 / 3.2, in the
order of the roles the running group reports (live_roles()), not the topology's initial ones.
"""

from __future__ import annotations

import re
import shlex
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness import render, services
from harness.errors import StepError
from harness.monitor import Monitor
from harness.toolout import dm_error
from harness.transcript import Transcript
from harness.wait import WaitTimeout, wait_until

if TYPE_CHECKING:
    from harness.backends.base import Backend, Host, Process
    from harness.sql import Sql
    from harness.steps import StepLog
    from harness.topology import HostSpec, Topology

READY = "SYSTEM IS READY"


class Procedure:
    """Builds and operates the group on a backend's hosts."""

    def __init__(self, backend: Backend, hosts: dict[str, Host], topology: Topology, steps: StepLog,
                 run_dir: Path) -> None:
        self.backend, self.hosts, self.t, self.steps, self.run_dir = backend, hosts, topology, steps, run_dir
        self.servers: dict[str, Process] = {}
        self.watchers: dict[str, Process] = {}
        self.monitor: Monitor | None = None
        self.spawned: list[Process] = []  # every daemon ever started (their logs go to the report)
        self.stop_order: list[HostSpec] | None = None  # primary first, as the last manual stop found them
        self.monitor_ini: str | None = None  # mapped path of another dmmonitor.ini (an accepted group's copy)

    # ---- helpers ---------------------------------------------------------------------------------
    def host(self, spec: HostSpec) -> Host:
        return self.hosts[spec.name]

    def _tool(self, h: Host, tool: str, step: str, cmd: str, *, timeout: float, script: str = "") -> str:
        """Run a DM tool as a step: it failed when its exit status is not 0 or it printed a DM error code
        (harness.toolout); no success sentence is looked for. The exchange goes to the transcripts."""
        t0 = time.time()
        sink = Transcript(self.run_dir, h.name, tool, secrets=(self.t.password,))
        try:
            res = self.steps.run(h, step, cmd, timeout=timeout)
        except StepError as exc:
            sink.add(f"{cmd}\n{script}".strip(), exc.output, started=t0, note="failed")
            raise
        err = dm_error(res.output)
        sink.add(f"{cmd}\n{script}".strip(), res.output, started=t0, note=f"rc={res.rc}")
        if err is not None:
            self.steps.steps[-1].ok = False
            raise StepError(step, h.name, cmd, res.output, f"{tool} reported DM error {err.code}: {err.text}")
        return res.output

    def _dmserver_cmd(self, h: Host, mount: bool) -> str:
        return f"{h.bin('dmserver')} {h.path(self.t.dm_ini)}" + (" mount" if mount else "")

    def dminit(self, spec: HostSpec) -> None:
        """Seed 四.1 / 五.2: dminit with the seed's parameters (plus SYSDBA_PWD, the seed's one password)."""
        h = self.host(spec)
        args = {"PATH": h.path(self.t.paths.data_path), "DB_NAME": self.t.db_name, "INSTANCE_NAME": spec.instance,
                "PORT_NUM": spec.port_num, **self.t.dminit, "SYSDBA_PWD": self.t.password}
        cmd = h.bin("dminit") + " " + " ".join(f"{k}={v}" for k, v in args.items())
        self._tool(h, "dminit", f"dminit {spec.instance}", cmd, timeout=120)

    def start_server(self, spec: HostSpec, *, mount: bool, step: str) -> Process:
        """Start dmserver in the background and wait for `SYSTEM IS READY` in its output."""
        h = self.host(spec)
        cmd = self._dmserver_cmd(h, mount)
        t0 = time.time()
        proc = h.spawn(cmd, name=f"{len(self.spawned) + 1:02d}-dmserver-{spec.instance}")
        self.spawned.append(proc)
        self.servers[spec.name] = proc

        def ready() -> bool:
            if not proc.alive():
                raise StepError(step, h.name, cmd, proc.log(), "dmserver exited")
            return READY in proc.log()

        sink = Transcript(self.run_dir, h.name, "dmserver", secrets=(self.t.password,))
        try:
            wait_until(ready, 60, f"dmserver {spec.instance} to print '{READY}'", interval=0.1)
        except StepError as exc:
            sink.add(cmd, exc.output, started=t0, note="exited")
            self.steps.note(h.name, step, cmd, exc.output, ok=False, duration=time.time() - t0)
            raise
        except WaitTimeout as exc:
            sink.add(cmd, proc.log(), started=t0, note="not ready")
            self.steps.note(h.name, step, cmd, proc.log(), ok=False, duration=time.time() - t0)
            raise StepError(step, h.name, cmd, proc.log(), str(exc)) from None
        sink.add(cmd, proc.log(), started=t0, note="ready")
        self.steps.note(h.name, step, cmd, proc.log(), duration=time.time() - t0)
        return proc

    def stop_server(self, spec: HostSpec, step: str) -> None:
        """Normal shutdown of the dmserver we started (the seed's `systemctl stop DmService...`)."""
        h = self.host(spec)
        proc = self.servers.pop(spec.name, None)
        t0 = time.time()
        rc = proc.stop(timeout=60) if proc else None
        self.steps.note(h.name, step, f"stop dmserver {spec.instance} (SIGTERM)", f"exit status {rc}",
                        ok=rc in (0, None), duration=time.time() - t0)

    def disql(self, spec: HostSpec, step: str, statements: list[str]) -> str:
        """Run statements through disql on the instance's host (backtick script form); fail on a DM error."""
        h = self.host(spec)
        script = f"/home/{self.t.os.user}/{re.sub(r'[^A-Za-z0-9]+', '_', step).strip('_')}.sql"
        h.write_file(h.path(script), "\n".join(statements + ["exit;"]) + "\n", owner=self.t.os.user,
                     mapped=True)
        ip = spec.external_ip or spec.internal_ip
        login = f"SYSDBA/{shlex.quote(self.t.password)}@{ip}:{spec.port_num}"
        cmd = f"{h.bin('disql')} {login} \\`{h.path(script)}"
        return self._tool(h, "disql", step, cmd, timeout=120, script="\n".join(statements))

    def dmrman(self, spec: HostSpec, step: str, statement: str, *, timeout: float = 600) -> str:
        """One dmrman statement with CTLSTMT= (the seed types the same statement at RMAN>)."""
        h = self.host(spec)
        cmd = f"{h.bin('dmrman')} CTLSTMT={shlex.quote(statement)}"
        return self._tool(h, "dmrman", step, cmd, timeout=timeout)

    def copy_dir(self, src: HostSpec, dst: HostSpec, seed_dir: str, step: str) -> None:
        """Seed 五.3 (`scp -r`): copy a directory between hosts with host commands only (tar | base64)."""
        a, b = self.host(src), self.host(dst)
        parent, name = seed_dir.rsplit("/", 1)
        res = self.steps.run(a, f"{step} (pack on {src.name})",
                             f"tar -C {shlex.quote(a.path(parent))} -czf - {shlex.quote(name)} | base64 -w0",
                             timeout=600)
        blob = f"/tmp/{name}.tgz.b64"
        b.write_file(b.path(blob), res.stdout, mapped=True)
        self.steps.run(b, f"{step} (unpack on {dst.name})",
                       f"mkdir -p {shlex.quote(b.path(parent))} && base64 -d {shlex.quote(b.path(blob))} | "
                       f"tar -C {shlex.quote(b.path(parent))} -xzf - && rm -f {shlex.quote(b.path(blob))}",
                       timeout=600)

    def write_config(self, spec: HostSpec, seed_path: str, text: str, step: str) -> None:
        """Write a rendered file on a host and keep a copy under run_dir/configs/<host>/ for the report."""
        h = self.host(spec)
        t0 = time.time()
        h.write_file(h.path(seed_path), text, owner=self.t.os.user, mapped=True)
        keep = self.run_dir / "configs" / spec.name / seed_path.rsplit("/", 1)[1]
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(text)
        self.steps.note(h.name, step, f"write {seed_path}", text, duration=time.time() - t0)

    # ---- the seed, 四 .. 十一 ----------------------------------------------------------------------
    def build(self) -> None:
        """Build the group from nothing to `show` reporting every database OPEN and VALID."""
        p = self.t.primary
        # 四.1 create the primary and start it normally once
        self.dminit(p)
        self.start_server(p, mount=False, step="四.1 first normal start of the primary")
        # 四.2 archive mode
        arch = self.host(p).path(self.t.paths.arch_dir)
        self.disql(p, "四.2 archive mode", [
            "alter database mount;",
            f"alter database add archivelog 'DEST={arch},TYPE=local,FILE_SIZE={self.t.dw.arch_file_size},"
            f"space_limit={self.t.dw.arch_space_limit}';",
            "alter database archivelog;",
            "alter database open;",
            "select arch_mode from v$database;",
        ])
        # 五.1 offline backup of the primary
        self.stop_server(p, "五.1 stop the primary")
        hp = self.host(p)
        self.dmrman(p, "五.1 offline backup", f"backup database '{hp.path(self.t.dm_ini)}' full backupset "
                    f"'{hp.path(self.t.backup_dir)}'")
        # 五.2 .. 五.4 for each standby: initialise, copy the backup, restore/recover/update magic
        standbys = self.t.standbys()
        for s in standbys:
            self.restore_standby(s)
        group = [p, *standbys]
        # 六 configuration files
        for spec in group:
            self.write_configs(spec)
        # 七 mount every instance
        self.start_server(p, mount=True, step="七 start the primary in mount")
        for s in standbys:
            self.start_server(s, mount=True, step=self._each(s, "七 start the standby in mount"))
        # 八 OGUID, 九 modes
        for spec in group:
            self.disql(spec, f"八 sp_set_oguid on {spec.instance}", [f"sp_set_oguid({self.t.oguid});"])
        self.disql(p, "九 alter database primary", ["alter database primary;"])
        for s in standbys:
            self.disql(s, self._each(s, "九 alter database standby"), ["alter database standby;"])
        # 四.3 / 十 service units where systemd runs (harness.services); then the watchers, as services there
        for spec in group:
            if self.host(spec).systemd:
                services.register(self.t, self.host(spec), spec, self.steps)
        for spec in group:
            self.start_watcher(spec)
        # 十一 monitor
        self.write_monitor_config()
        self.start_monitor()
        self.wait_group_healthy("十一.2 `show` reports both OPEN and VALID" if not self.t.is_multi
                                else "十一.2 `show` reports every database OPEN and VALID")

    def _each(self, s: HostSpec, step: str) -> str:
        """A per-standby step's name: the seed's own in a 1+1 group, with the standby's host in a larger one."""
        return f"{step} ({s.name})" if self.t.is_multi else step

    def restore_standby(self, s: HostSpec) -> None:
        """Seed 五.2-五.4 for one standby: dminit, copy the primary's backup, restore, recover, UPDATE
        DB_MAGIC (run for each standby of the group, real-time or asynchronous alike)."""
        self.dminit(s)
        self.copy_dir(self.t.primary, s, self.t.backup_dir, self._each(s, "五.3 copy the backup to the standby"))
        hs = self.host(s)
        ini, bak = hs.path(self.t.dm_ini), hs.path(self.t.backup_dir)
        self.dmrman(s, self._each(s, "五.4 restore"), f"RESTORE DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.dmrman(s, self._each(s, "五.4 recover"), f"RECOVER DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.dmrman(s, self._each(s, "五.4 update db_magic"), f"RECOVER DATABASE '{ini}' UPDATE DB_MAGIC")

    def write_configs(self, spec: HostSpec) -> None:
        """Seed 六: dm.ini changes, dmmal.ini, dmarch.ini, dmwatcher.ini on one DB host."""
        h = self.host(spec)
        dm_ini = h.read_file(self.t.dm_ini)
        changed = render.apply_ini_changes(dm_ini, render.dm_ini_changes(self.t, spec))
        self.write_config(spec, self.t.dm_ini, changed, f"六.1 dm.ini on {spec.name}")
        self.write_config(spec, self.t.dmmal_ini, render.render_dmmal(self.t), f"六.2 dmmal.ini on {spec.name}")
        self.write_config(spec, self.t.dmarch_ini, render.render_dmarch(self.t, spec, h.path),
                          f"六.3 dmarch.ini on {spec.name}")
        self.write_config(spec, self.t.dmwatcher_ini, render.render_dmwatcher(self.t, spec, h.path),
                          f"六.4 dmwatcher.ini on {spec.name}")
        if "TIMER_INI" in render.dm_ini_changes(self.t, spec):
            self.write_config(spec, self.t.dmtimer_ini, render.render_dmtimer(self.t),
                              f"六.3 dmtimer.ini on {spec.name} (ASYNC archive timers)")

    def write_monitor_config(self) -> None:
        m = self.t.monitor_host
        h = self.host(m)
        h.run(f"mkdir -p {shlex.quote(h.path(self.t.paths.mon_log_path))} "
              f"{shlex.quote(h.path(self.t.db_dir))}", check=True)
        self.write_config(m, self.t.dmmonitor_ini, render.render_dmmonitor(self.t, h.path),
                          "十一.1 dmmonitor.ini")

    def start_watcher(self, spec: HostSpec) -> Process | None:
        """Seed 十: start dmwatcher on a DB host (`systemctl start DmWatcherService...` where systemd runs)."""
        h = self.host(spec)
        if h.systemd:
            unit = services.watcher_service(self.t)
            self.steps.run(h, f"十 systemctl start {unit} on {spec.name}", f"systemctl start {unit}", user="root",
                           timeout=120)
            return None
        cmd = f"{h.bin('dmwatcher')} {h.path(self.t.dmwatcher_ini)}"
        t0 = time.time()
        proc = h.spawn(cmd, name=f"{len(self.spawned) + 1:02d}-dmwatcher-{spec.instance}")
        self.spawned.append(proc)
        self.watchers[spec.name] = proc
        time.sleep(0.2)
        ok = proc.alive()
        Transcript(self.run_dir, h.name, "dmwatcher").add(cmd, proc.log(), started=t0,
                                                          note="alive" if ok else "exited")
        self.steps.note(h.name, f"十 start dmwatcher on {spec.name}", cmd, proc.log(), ok=ok,
                        duration=time.time() - t0)
        if not ok:
            raise StepError(f"十 start dmwatcher on {spec.name}", h.name, cmd, proc.log(), "dmwatcher exited")
        return proc

    def start_monitor(self) -> Monitor:
        """Seed 十一.2: dmmonitor on the monitor host (an interactive session the harness keeps)."""
        if self.monitor is not None:
            self.monitor.close()
        self.monitor = Monitor(self.host(self.t.monitor_host), self.t, self.run_dir, steps=self.steps,
                               ini=self.monitor_ini)
        self.monitor.start()
        return self.monitor

    def wait_group_healthy(self, step: str, timeout: float | None = None) -> None:
        t0 = time.time()
        assert self.monitor is not None
        try:
            st = self.monitor.wait_healthy(timeout)
        except WaitTimeout as exc:
            logs = self.daemon_logs()
            self.steps.note(self.t.monitor_host.name, step, "show", f"{exc}\n{logs}", ok=False,
                            duration=time.time() - t0)
            raise StepError(step, self.t.monitor_host.name, "show", logs, str(exc)) from None
        self.steps.note(self.t.monitor_host.name, step, "show", st.text, duration=time.time() - t0)

    def daemon_logs(self, tail: int = 15) -> str:
        """The last lines of every daemon's output (for failure messages)."""
        out = []
        for proc in list(self.servers.values()) + list(self.watchers.values()):
            lines = proc.log().rstrip().splitlines()[-tail:]
            out.append(f"--- {proc.name} on {proc.host.name} ({'alive' if proc.alive() else 'exited'})")
            out.extend(lines)
        return "\n".join(out)

    # ---- seed 十二.3 -------------------------------------------------------------------------------
    def live_roles(self, sql: Sql | None = None) -> tuple[HostSpec, HostSpec]:
        """(primary, standby) as the running group says now: the instance v$instance reports PRIMARY (when a
        Sql is given), else the one the monitor's `show` reports PRIMARY, else the topology's initial roles.
        After a switchover or takeover the primary is the other node."""
        primary = (self._primary_by_sql(sql) if sql is not None else None) or self._primary_by_monitor()
        if primary is None:
            primary = self.t.primary
        standby = next(s for s in self.t.global_hosts() if s.name != primary.name)
        return primary, standby

    def live_order(self, sql: Sql | None = None) -> list[HostSpec]:
        """Every DB host, the current primary first, then the real-time standbys, then the ASYNC ones
        (the seed's stop/start order, generalised to several standbys)."""
        primary = self.live_roles(sql)[0]
        rest = [h for h in self.t.global_hosts() if h.name != primary.name]
        return [primary, *rest, *self.t.async_standbys()]

    def _pick_primary(self, seen: dict[str, tuple[str, str]]) -> HostSpec | None:
        """The one instance in PRIMARY mode (the OPEN one if two claim it), or None when that is not clear."""
        claims = [i for i, (mode, _) in seen.items() if mode == "PRIMARY"]
        if len(claims) > 1:
            claims = [i for i in claims if seen[i][1] == "OPEN"]
        if len(claims) != 1:
            return None
        return next((s for s in self.t.db_hosts if (s.instance or "").upper() == claims[0]), None)

    def _primary_by_sql(self, sql: Sql) -> HostSpec | None:
        seen: dict[str, tuple[str, str]] = {}
        for spec in self.t.db_hosts:
            try:
                rows = sql.query(spec.instance, "select MODE$, STATUS$ from v$instance")
            except Exception:  # noqa: BLE001 - a down instance simply does not answer
                continue
            if rows:
                seen[str(spec.instance).upper()] = (str(rows[0][0]).upper(), str(rows[0][1]).upper())
        return self._pick_primary(seen)

    def _primary_by_monitor(self) -> HostSpec | None:
        if self.monitor is None or not self.monitor.alive():
            return None
        try:
            state = self.monitor.show(timeout=10)
        except Exception:  # noqa: BLE001 - no answer from the monitor: fall back to the topology
            return None
        return self._pick_primary({n: (d.imode, d.istatus) for n, d in state.databases.items()})

    def exit_monitor(self) -> None:
        """Seed 十二.3.1 step 1: `exit` the dmmonitor session, if one runs."""
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def wait_no_process(self, spec: HostSpec, process: str, timeout: float | None = None) -> None:
        """Wait until no `process` (dmserver, dmwatcher) runs on the host; WaitTimeout names the pids left."""
        h = self.host(spec)
        wait_until(lambda: not h.pids(process), timeout or self.t.timers.failure_detect() + 30,
                   f"{process} on {spec.name} to exit", interval=0.2, describe=lambda _: h.pids(process))

    def stop_watcher(self, spec: HostSpec, step: str | None = None, *, with_instance: bool = True) -> None:
        """`systemctl stop DmWatcherService...` (where systemd runs; elsewhere SIGTERM the host's dmwatcher) and
        wait until it is gone; with
        with_instance, wait for the instance it stops too. An instance that outlives its watcher is
        SIGTERMed (nothing is left running) and the step fails naming it."""
        step = step or f"stop dmwatcher on {spec.name}"
        h = self.host(spec)
        t0 = time.time()
        proc = self.watchers.pop(spec.name, None)
        if h.systemd:
            self.steps.run(h, step, f"systemctl stop {services.watcher_service(self.t)}", user="root", timeout=120)
        elif proc is not None:
            rc = proc.stop(timeout=60)
        else:
            h.signal("dmwatcher", signal.SIGTERM)
            rc = None
        self.wait_no_process(spec, "dmwatcher")
        if not h.systemd:
            self.steps.note(spec.name, step, "SIGTERM dmwatcher", f"exit status {rc}", duration=time.time() - t0)
        if not with_instance:
            return
        try:
            self.wait_no_process(spec, "dmserver")
        except WaitTimeout as exc:
            self.steps.note(spec.name, f"{step}: instance stops with its watcher", "wait", str(exc), ok=False)
            h.signal("dmserver", signal.SIGTERM)
            raise StepError(f"{step}: instance stops with its watcher", spec.name, "wait", str(exc),
                            "dmserver outlived its watcher (SIGTERMed)") from None
        finally:
            self.servers.pop(spec.name, None)

    def stop_group_manual(self, sql: Sql | None = None) -> list[HostSpec]:
        """Seed 十二.3.1: exit the monitor, stop the current primary's watcher, then the standby's (each
        watcher stops its instance). Roles come from live_roles() (asked before the monitor exits).
        Returns the order used; start_group() starts in the same order by default."""
        order = self.live_order(sql)
        self.exit_monitor()
        for spec in order:
            self.stop_watcher(spec, f"十二.3.1 stop dmwatcher on {spec.name}")
        self.stop_order = order
        return order

    def start_group(self, order: list[HostSpec] | None = None, timeout: float | None = None) -> None:
        """Seed 十二.3.2: start the primary's watcher, the standby's, then the monitor; wait for `show`
        healthy. order: the primary first (default: the order of the last stop_group_manual, else the
        topology's roles)."""
        for spec in order or self.stop_order or [self.t.primary, *self.t.standbys()]:
            self.start_watcher(spec)
        self.start_monitor()
        self.wait_group_healthy("十二.3.2 group healthy after restart", timeout)

    def kill_everything(self) -> None:
        """Stop every DM process on every host, hard (rebuild / teardown)."""
        self.exit_monitor()
        for proc in list(self.watchers.values()) + list(self.servers.values()):
            proc.stop(timeout=5)
        self.watchers.clear()
        self.servers.clear()
        for h in self.hosts.values():
            for _ in range(50):
                pids = h.pids(r"dmserver|dmwatcher|dmmonitor")
                if not pids:
                    break
                for pid in pids:
                    h.signal(pid, 9)
                time.sleep(0.1)

    def wipe(self) -> None:
        """Remove the databases, archives, backups and monitor logs from every host (before a rebuild)."""
        for spec in self.t.hosts.values():
            h = self.host(spec)
            paths = " ".join(shlex.quote(h.path(p)) for p in (self.t.paths.data_path, self.t.paths.mon_log_path))
            self.steps.run(h, f"wipe {spec.name}", f"rm -rf {paths} && mkdir -p {paths}")
