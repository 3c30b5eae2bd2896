"""The seed's procedure (sections 四 to 十一) as code, through host commands only.

build() runs every step on the hosts exactly as an operator would (dminit, dmserver, disql, dmrman,
file edits, dmwatcher, dmmonitor), records each step in the StepLog, and stops at the first failure
with the step's name and output. stop_group_manual() and start_group() are seed 十二.3.1 / 3.2.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness import render
from harness.errors import StepError
from harness.monitor import Monitor
from harness.wait import WaitTimeout, wait_until

if TYPE_CHECKING:
    from harness.backends.base import Backend, Host, Process
    from harness.steps import StepLog
    from harness.topology import HostSpec, Topology

DM_ERROR = re.compile(r"^\s*\[-\d+\]|\[CODE:-\d+\]|^\s*第\s*\d+\s*行附近出现错误|^\s*error\b", re.M | re.I)
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

    # ---- helpers ---------------------------------------------------------------------------------
    def host(self, spec: HostSpec) -> Host:
        return self.hosts[spec.name]

    def _dmserver_cmd(self, h: Host, mount: bool) -> str:
        return f"{h.bin('dmserver')} {h.path(self.t.dm_ini)}" + (" mount" if mount else "")

    def dminit(self, spec: HostSpec) -> None:
        """Seed 四.1 / 五.2: dminit with the seed's parameters (plus SYSDBA_PWD, the seed's one password)."""
        h = self.host(spec)
        args = {"PATH": h.path(self.t.paths.data_path), "DB_NAME": self.t.db_name, "INSTANCE_NAME": spec.instance,
                "PORT_NUM": spec.port_num, **self.t.dminit, "SYSDBA_PWD": self.t.password}
        cmd = h.bin("dminit") + " " + " ".join(f"{k}={v}" for k, v in args.items())
        self.steps.run(h, f"dminit {spec.instance}", cmd, timeout=120)

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

        try:
            wait_until(ready, 60, f"dmserver {spec.instance} to print '{READY}'", interval=0.1)
        except StepError as exc:
            self.steps.note(h.name, step, cmd, exc.output, ok=False, duration=time.time() - t0)
            raise
        except WaitTimeout as exc:
            self.steps.note(h.name, step, cmd, proc.log(), ok=False, duration=time.time() - t0)
            raise StepError(step, h.name, cmd, proc.log(), str(exc)) from None
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

    def disql(self, spec: HostSpec, step: str, statements: list[str], *, expect: str | None = None) -> str:
        """Run statements through disql on the instance's host (backtick script form); fail on a DM error."""
        h = self.host(spec)
        script = f"/home/{self.t.os.user}/{re.sub(r'[^A-Za-z0-9]+', '_', step).strip('_')}.sql"
        h.write_file(h.path(script), "\n".join(statements + ["exit;"]) + "\n", owner=self.t.os.user,
                     mapped=True)
        ip = spec.external_ip or spec.internal_ip
        login = f"SYSDBA/{shlex.quote(self.t.password)}@{ip}:{spec.port_num}"
        cmd = f"{h.bin('disql')} {login} \\`{h.path(script)}"
        res = self.steps.run(h, step, cmd, timeout=120, expect=expect)
        if DM_ERROR.search(res.output):
            self.steps.steps[-1].ok = False
            raise StepError(step, h.name, cmd, res.output, "disql reported a DM error")
        return res.output

    def dmrman(self, spec: HostSpec, step: str, statement: str, *, timeout: float = 600) -> str:
        """One dmrman statement with CTLSTMT= (the seed types the same statement at RMAN>)."""
        h = self.host(spec)
        cmd = f"{h.bin('dmrman')} CTLSTMT={shlex.quote(statement)}"
        res = self.steps.run(h, step, cmd, timeout=timeout)
        if DM_ERROR.search(res.output) or re.search(r"fail|失败", res.output, re.I):
            raise StepError(step, h.name, cmd, res.output, "dmrman reported an error")
        return res.output

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
        """Build the group from nothing to `show` reporting both OPEN and VALID."""
        p, s = self.t.primary, self.t.standby
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
        # 五.2 initialise the standby, 五.3 copy the backup, 五.4 restore/recover/update magic
        self.dminit(s)
        self.copy_dir(p, s, self.t.backup_dir, "五.3 copy the backup to the standby")
        hs = self.host(s)
        ini, bak = hs.path(self.t.dm_ini), hs.path(self.t.backup_dir)
        self.dmrman(s, "五.4 restore", f"RESTORE DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.dmrman(s, "五.4 recover", f"RECOVER DATABASE '{ini}' FROM BACKUPSET '{bak}'")
        self.dmrman(s, "五.4 update db_magic", f"RECOVER DATABASE '{ini}' UPDATE DB_MAGIC")
        # 六 configuration files
        for spec in (p, s):
            self.write_configs(spec)
        # 七 mount both
        self.start_server(p, mount=True, step="七 start the primary in mount")
        self.start_server(s, mount=True, step="七 start the standby in mount")
        # 八 OGUID, 九 modes
        for spec in (p, s):
            self.disql(spec, f"八 sp_set_oguid on {spec.instance}", [f"sp_set_oguid({self.t.oguid});"])
        self.disql(p, "九 alter database primary", ["alter database primary;"])
        self.disql(s, "九 alter database standby", ["alter database standby;"])
        # 十 watchers (the seed starts them as services; here as background daemons)
        for spec in (p, s):
            self.start_watcher(spec)
        # 十一 monitor
        self.write_monitor_config()
        self.start_monitor()
        self.wait_group_healthy("十一.2 `show` reports both OPEN and VALID")

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

    def write_monitor_config(self) -> None:
        m = self.t.monitor_host
        h = self.host(m)
        h.run(f"mkdir -p {shlex.quote(h.path(self.t.paths.mon_log_path))} "
              f"{shlex.quote(h.path(self.t.db_dir))}", check=True)
        self.write_config(m, self.t.dmmonitor_ini, render.render_dmmonitor(self.t, h.path),
                          "十一.1 dmmonitor.ini")

    def start_watcher(self, spec: HostSpec) -> Process:
        """Seed 十: start dmwatcher on a DB host."""
        h = self.host(spec)
        cmd = f"{h.bin('dmwatcher')} {h.path(self.t.dmwatcher_ini)}"
        t0 = time.time()
        proc = h.spawn(cmd, name=f"{len(self.spawned) + 1:02d}-dmwatcher-{spec.instance}")
        self.spawned.append(proc)
        self.watchers[spec.name] = proc
        time.sleep(0.2)
        ok = proc.alive()
        self.steps.note(h.name, f"十 start dmwatcher on {spec.name}", cmd, proc.log(), ok=ok,
                        duration=time.time() - t0)
        if not ok:
            raise StepError(f"十 start dmwatcher on {spec.name}", h.name, cmd, proc.log(), "dmwatcher exited")
        return proc

    def start_monitor(self) -> Monitor:
        """Seed 十一.2: dmmonitor on the monitor host (an interactive session the harness keeps)."""
        if self.monitor is not None:
            self.monitor.close()
        self.monitor = Monitor(self.host(self.t.monitor_host), self.t, self.run_dir, steps=self.steps)
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
    def stop_group_manual(self) -> None:
        """Seed 十二.3.1: exit the monitor, stop the primary's watcher, then the standby's (each watcher
        stops its instance); anything left is stopped afterwards and recorded as such."""
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
        for spec in (self.t.primary, self.t.standby):
            proc = self.watchers.pop(spec.name, None)
            if proc is not None:
                t0 = time.time()
                rc = proc.stop(timeout=60)
                self.steps.note(spec.name, f"十二.3.1 stop dmwatcher on {spec.name}", "SIGTERM dmwatcher",
                                f"exit status {rc}", duration=time.time() - t0)
        for spec in (self.t.primary, self.t.standby):
            h = self.host(spec)
            try:
                wait_until(lambda h=h: not h.pids(r"dmserver"), self.t.timers.failure_detect() + 30,
                           f"dmserver on {spec.name} to exit with its watcher", interval=0.2)
            except WaitTimeout as exc:
                self.steps.note(spec.name, "十二.3.1 instance stops with its watcher", "wait", str(exc), ok=False)
                h.signal(r"dmserver", 15)
            self.servers.pop(spec.name, None)

    def start_group(self) -> None:
        """Seed 十二.3.2: start the primary's watcher, the standby's, then the monitor; wait for health."""
        for spec in (self.t.primary, self.t.standby):
            self.start_watcher(spec)
        self.start_monitor()
        self.wait_group_healthy("十二.3.2 group healthy after restart")

    def kill_everything(self) -> None:
        """Stop every DM process on every host, hard (rebuild / teardown)."""
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
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
