"""dmmonitor's commands and the decisions on them, on a session (harness.monitor_session): every
command, decisions by the group's state.

A managing command (switchover, takeover, open, stop/startup/kill, detach/attach, set ...) is sent, its
YES/NO confirmation answered, and its output read until the monitor falls quiet. It fails at once only on
an explicit DM error (`code = -N`, `[-N]`, DM's refusal wording); otherwise success is decided from `show`
(e.g. after `switchover X`: X PRIMARY OPEN, the others STANDBY with RSTAT VALID) within the DM-timer
scaled deadline. Step lines and `[A-->B]` status changes are kept as evidence only. The readers of the
text are in harness.show; every exchange goes to the run's transcripts (harness.transcript) and the
session's raw output to run_dir/monitor-<name>.log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from harness.monitor_session import ANY_LINE, MonitorError, MonitorSession
from harness.show import (
    DbState,
    ShowState,
    choose_candidates,
    parse_messages,
    parse_show,
    progress_lines,
    refused,
    tip_words,
)
from harness.wait import WaitTimeout, wait_until

__all__ = ["DbState", "Monitor", "MonitorError", "ShowState", "parse_messages", "parse_show"]

SHOW_DONE = re.compile(r"#=+#[^#]*?\n[\s\S]*#=+#|code\s*=\s*-\d+|\[-\d+\]", re.I)
Expect = Callable[[ShowState], bool]


def _name(inst: object) -> str:
    """An instance name from a str or anything with .name (harness.dw.Node)."""
    return str(getattr(inst, "name", inst))


def _down(d: DbState) -> bool:
    """The instance is not running OPEN (its watcher says so)."""
    return d.istatus != "OPEN" or d.inst_ok not in ("OK", "")


class Monitor(MonitorSession):
    """dmmonitor's commands on a session: reads (`show`, `choose`, `tip`), managing commands decided by
    `show` state, and waits on what `show` reports."""

    # -- reads
    def show(self, group: str | None = None, timeout: float = 30) -> ShowState:
        """`show [group]` parsed (ShowState)."""
        return parse_show(self._show_text(group, timeout))

    def _show_text(self, group: str | None = None, timeout: float = 30) -> str:
        return self.command(f"show {group}" if group else "show", until=SHOW_DONE, timeout=timeout, idle=0.3)

    def show_global_info(self) -> ShowState:
        return parse_show(self.command("show global info"))

    def show_database(self, inst: str) -> str:
        return self.command(f"show database {self._db(inst)}")

    def tip(self) -> tuple[bool, str]:
        """`tip`: (normal?, text). Not normal on an explicit error (DWMON_SYS_NOT_OK, -11); otherwise normal
        exactly when `show` reports the group healthy and no watcher control file other than VALID."""
        out = self.command("tip", until=ANY_LINE, idle=0.5)
        if tip_words(out) is False:
            return False, out
        st = self.show()
        ctl_ok = all(d.wctlstat in ("VALID", "") for d in st.databases.values())
        return st.healthy(self._instances()) and ctl_ok, out

    def list(self, inst: str | None = None) -> str:
        return self.command(f"list {self._db(inst)}" if inst else "list")

    def _db(self, inst: object) -> str:
        name = _name(inst)
        return name if "." in name else f"{self.t.group}.{name}"

    def _instances(self) -> list[str]:
        return [h.instance for h in self.t.db_hosts if h.instance]


    def _choose(self, cmd: str) -> list[str]:
        out = self._needs_login(cmd, until=ANY_LINE, timeout=30, idle=0.4)
        bad = refused(out)
        if bad is not None:
            raise MonitorError(f"dmmonitor `{cmd}` failed ({bad}):\n{out[-1000:]}")
        return self._names_in(out, cmd)

    def _names_in(self, out: str, cmd: str) -> list[str]:
        """Instance names a `choose` listed (none named: no candidate)."""
        return choose_candidates(out, self._instances(), cmd)

    def choose_switchover(self) -> list[str]:
        """Standbys eligible for switchover (empty when none)."""
        return self._choose(f"choose switchover {self.t.group}")

    def choose_takeover(self, force: bool = False) -> list[str]:
        """Standbys eligible for (forced) takeover (empty when none)."""
        return self._choose(f"choose takeover {'force ' if force else ''}{self.t.group}")

    # -- managing commands: decided by state
    def _action(self, cmd: str, expect: Expect | None, *, confirm: bool = False, timeout: float | None = None,
                what: str = "") -> str:
        """Send a managing command, fail at once on an explicit DM error, then wait until `show` satisfies
        `expect` (None: the command's answer carries no visible state; success is the absence of an error
        once a following `show` was answered, i.e. the monitor finished the command)."""
        deadline = time.monotonic() + (timeout or self.t.timers.group_open())
        t0 = time.time()
        out = self._needs_login(cmd, until=None, timeout=timeout or self.t.timers.group_open(), idle=0.5,
                                answer="YES" if confirm else None)
        last: list[Any] = [None, out]

        def check(text: str) -> None:
            bad = refused(text.split("#=", 1)[0])
            if bad is not None:
                self._note(f"monitor: {cmd} (decision)", cmd, f"refused: {bad}", ok=False, t0=t0,
                           exchange=False)
                raise MonitorError(f"dmmonitor `{cmd}` failed ({bad}):\n{last[1][-2000:]}")

        def probe() -> ShowState:
            text = self._show_text()
            last[1] += text
            check(text)
            last[0] = parse_show(text)
            return last[0]

        check(out)
        try:
            st = wait_until(probe, max(1.0, deadline - time.monotonic()),
                            f"`show` after `{cmd}` to report {what}",
                            ok=expect or (lambda s: True), interval=0.5, describe=lambda s: s.summary())
        except WaitTimeout as exc:
            self._note(f"monitor: {cmd} (decision)", cmd, str(exc), ok=False, t0=t0, exchange=False)
            raise MonitorError(f"dmmonitor `{cmd}`: {exc}\noutput:\n{last[1][-2000:]}") from None
        evidence = "\n".join(progress_lines(last[1]))
        self._note(f"monitor: {cmd} (decision)", cmd, f"decided by show: {what or 'no error'}\n"
                   f"{st.summary()}\nprogress:\n{evidence}", ok=True, t0=t0, exchange=False)
        return last[1]

    def _role_change(self, inst: str, cmd: str, others_standby: bool, timeout: float | None) -> str:
        name = _name(inst).split(".")[-1].upper()
        before = self.show()
        db = before.databases.get(name)
        if db is not None and db.imode == "PRIMARY" and db.istatus == "OPEN":
            raise MonitorError(f"dmmonitor `{cmd}`: {name} is already the OPEN primary (only a standby "
                               f"qualifies); show: {before.summary()}")

        def done(s: ShowState) -> bool:
            d = s.databases.get(name)
            if d is None or d.imode != "PRIMARY" or d.istatus != "OPEN":
                return False
            return not others_standby or all(o.imode == "STANDBY" and o.rstat == "VALID"
                                             for n, o in s.databases.items() if n != name)

        what = f"{name} PRIMARY OPEN" + (", the others STANDBY with RSTAT VALID" if others_standby else "")
        if timeout is None and others_standby:  # the old primary's archive turns VALID once it is recovered
            timeout = max(self.t.timers.group_open(), self.t.timers.recovery())
        return self._action(cmd, done, confirm=True, timeout=timeout, what=what)

    def switchover(self, inst: str, timeout: float | None = None) -> str:
        """`switchover GRP.inst`, answering YES (seed 十二.2.1)."""
        return self._role_change(inst, f"switchover {self._db(inst)}", True, timeout)

    def takeover(self, inst: str, force: bool = False, timeout: float | None = None) -> str:
        """`takeover [force] GRP.inst`, answering YES (seed 十二.2.2)."""
        word = "takeover force" if force else "takeover"
        return self._role_change(inst, f"{word} {self._db(inst)}", False, timeout)

    def _one(self, inst: object, ok: Callable[[DbState], bool]) -> Expect:
        name = _name(inst).split(".")[-1].upper()
        return lambda s: name in s.databases and ok(s.databases[name])

    def open_database(self, inst: str) -> str:
        """`open database GRP.inst` (older builds: open force): the instance OPEN."""
        return self._action(f"open database {self._db(inst)}", self._one(inst, lambda d: d.istatus == "OPEN"),
                            what=f"{_name(inst)} OPEN")

    def check_open(self, inst: str) -> str:
        return self._needs_login(f"check open {self._db(inst)}", until=ANY_LINE, timeout=30, idle=0.5)

    def check_recover(self, inst: str) -> str:
        return self._needs_login(f"check recover {self._db(inst)}", until=ANY_LINE, timeout=30, idle=0.5)

    def _all(self, ok: Callable[[DbState], bool]) -> Expect:
        return lambda s: bool(s.databases) and all(ok(d) for d in s.databases.values())

    def stop_group(self) -> str:
        """`stop group` (seed 十二.3.1): every watcher SHUTDOWN, no instance OPEN."""
        return self._action(f"stop group {self.t.group}",
                            self._all(lambda d: d.wstatus == "SHUTDOWN" and _down(d)),
                            what="every watcher SHUTDOWN and no instance OPEN")

    def kill_group(self) -> str:
        return self._action(f"kill group {self.t.group}", self._all(_down), what="no instance OPEN")

    def startup_group(self) -> str:
        return self._action(f"startup group {self.t.group}",
                            self._all(lambda d: d.wstatus == "OPEN" and d.istatus == "OPEN"),
                            what="every watcher and instance OPEN")

    def stop_database(self, inst: str) -> str:
        return self._action(f"stop database {self._db(inst)}", self._one(inst, _down), what=f"{_name(inst)} down")

    def startup_database(self, inst: str) -> str:
        return self._action(f"startup database {self._db(inst)}",
                            self._one(inst, lambda d: d.istatus in ("MOUNT", "OPEN")
                                      and d.inst_ok in ("OK", "")),
                            what=f"{_name(inst)} MOUNT or OPEN")

    def kill_database(self, inst: str) -> str:
        return self._action(f"kill database {self._db(inst)}", self._one(inst, _down), what=f"{_name(inst)} down")

    def detach_database(self, inst: str) -> str:
        """The standby leaves: its watcher SHUTDOWN and its instance down (reference 4.2)."""
        return self._action(f"detach database {self._db(inst)}",
                            self._one(inst, lambda d: d.wstatus == "SHUTDOWN" and _down(d)),
                            what=f"{_name(inst)}'s watcher SHUTDOWN, instance down")

    def attach_database(self, inst: str) -> str:
        """The detached standby rejoins: OPEN again with its archive VALID once the primary recovered it."""
        return self._action(f"attach database {self._db(inst)}",
                            self._one(inst, lambda d: d.wstatus == "OPEN" and d.istatus == "OPEN"
                                      and d.rstat == "VALID"), timeout=max(self.t.timers.group_open(),
                                                                           self.t.timers.recovery()),
                            what=f"{_name(inst)} OPEN with RSTAT VALID")

    def refusal(self, cmd: str) -> str | None:
        """Send a command DM8 must refuse (logging in first when asked, answering YES to a confirmation)
        and return its explicit refusal line, or None when the monitor accepted it."""
        return refused(self._needs_login(cmd, until=ANY_LINE, timeout=30, idle=1.0, answer="YES"))

    def startup_dmwatcher(self) -> str:
        return self._action(f"startup dmwatcher {self.t.group}", None)

    def stop_dmwatcher(self) -> str:
        return self._action(f"stop dmwatcher {self.t.group}", None)

    def set_auto_restart(self, on: bool) -> str:
        """`set group GRP auto restart on|off` (INST_AUTO_RESTART in watcher memory and dmwatcher.ini)."""
        return self._action(f"set group {self.t.group} auto restart {'on' if on else 'off'}", None)

    def set_recover_time(self, seconds: int, inst: object | None = None) -> str:
        """INST_RECOVER_TIME of one database or of the group, in watcher memory."""
        target = f"database {self._db(inst)}" if inst is not None else f"group {self.t.group}"
        return self._action(f"set {target} recover time {seconds}", None)

    def set_arch_invalid(self, inst: object | None = None) -> str:
        """The archives of one standby (or of every standby) INVALID."""
        target = f"database {self._db(inst)}" if inst is not None else f"group {self.t.group}"
        name = _name(inst).split(".")[-1].upper() if inst is not None else None

        def done(s: ShowState) -> bool:
            stand = [d for n, d in s.databases.items() if d.imode == "STANDBY" and (name in (None, n) or
                     s.databases.get(name or "", DbState("")).imode == "PRIMARY")]
            return bool(stand) and all(d.rstat == "INVALID" for d in stand)

        return self._action(f"set {target} arch invalid", done, what="the standby archives INVALID")

    def get_takeover_time(self) -> str:
        return self.command(f"get takeover time {self.t.group}", until=ANY_LINE)

    def show_arch_send_info(self, inst: object) -> str:
        return self.command(f"show arch send info {self._db(inst)}")

    def show_open_info(self, inst: object) -> str:
        return self.command(f"show open info {self._db(inst)}")

    def show_monitor(self) -> str:
        return self.command("show monitor")

    def show_version(self) -> str:
        return self.command("show version", until=ANY_LINE)

    def help(self) -> str:
        return self.command("help")

    def messages(self) -> list[DbState]:
        """Watcher messages the monitor printed by itself so far (reads pending output first)."""
        try:
            self._read_until(None, 0.3, idle=0.2)
        except MonitorError:
            pass
        return parse_messages(self.buffer)

    # -- waits
    def wait_for(self, inst: object, timeout: float | None = None, **fields: str) -> DbState:
        """Poll `show` until instance `inst` (a name or a dw Node) has every given field
        (e.g. wstatus="ERROR", imode="PRIMARY")."""
        inst = _name(inst)
        want = {k: v.upper() for k, v in fields.items()}

        def probe() -> DbState | None:
            st = self.show()
            return st.databases.get(inst.upper())

        def ok(db: DbState | None) -> bool:
            return db is not None and all(getattr(db, k) == v for k, v in want.items())

        return wait_until(probe, timeout or self.t.timers.group_open(), f"`show` to report {inst} with {want}",
                          ok=ok, interval=0.5,
                          describe=lambda d: {k: getattr(d, k) for k in want} if d else "absent")  # type: ignore[return-value]

    def wait_takeover_candidates(self, names: list[str], timeout: float | None = None,
                                 force: bool = False) -> list[str]:
        """Poll `choose takeover [force]` until it offers exactly `names`, in any order (the monitor first
        has to see the primary lost and the standbys' state settle)."""
        want = sorted(n.upper() for n in names)
        return wait_until(lambda: self.choose_takeover(force), timeout or self.t.timers.recovery(),
                          f"`choose takeover{' force' if force else ''}` to offer {names}",
                          ok=lambda got: sorted(g.upper() for g in got) == want, interval=0.5)

    def wait_healthy(self, timeout: float | None = None) -> ShowState:
        """Poll `show` until both databases are OPEN and the standby VALID (seed 十一.2)."""
        names = [h.instance for h in self.t.db_hosts if h.instance]
        return wait_until(self.show, timeout or self.t.timers.group_open(),
                          "`show` to report every watcher and instance OPEN, one PRIMARY, standby RSTAT VALID",
                          ok=lambda s: s.healthy(names), interval=0.5, describe=lambda s: s.summary())


def extra_monitor(monitor: Monitor, name: str, *, confirm: int = 0) -> Monitor:
    """A further dmmonitor on the monitor host (not started), from a copy of the seed's dmmonitor.ini (十一.1)
    with MON_DW_CONFIRM=`confirm`; the caller starts and closes it."""
    text = monitor.host.read_file(monitor.t.dmmonitor_ini)
    path = f"{monitor.t.db_dir}/dmmonitor_{name}.ini"
    monitor.host.write_file(path, re.sub(r"(?m)^(\s*MON_DW_CONFIRM\s*=\s*)\d+", rf"\g<1>{confirm}", text))
    run_dir = monitor.transcript_path.parent if monitor.transcript_path else None
    return Monitor(monitor.host, monitor.t, run_dir, name=name, ini=path)

