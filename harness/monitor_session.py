"""The dmmonitor session: the interactive process driven through pexpect on the monitor host.

Starting it (the IS READY banner), reading its output until a pattern or silence, sending one command
line (answering a YES/NO confirmation), `login` and the retry of a command refused as not logged in, and
the records of every exchange: the run's transcripts (harness.transcript), the step log, and the session's
raw output in run_dir/monitor-<name>.log. What the commands mean and how their outcome is decided is
harness.monitor's Monitor, built on this session.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import HarnessError
from harness.show import NOT_LOGGED_IN, refused
from harness.transcript import Transcript

if TYPE_CHECKING:
    from harness.backends.base import Host
    from harness.steps import StepLog
    from harness.topology import Topology

READY = re.compile(r"DMMONITOR\[[^\]]*\]\s+IS READY", re.I)
YES_NO = re.compile(r"\(YES/NO(/Y/N)?\)\s*[?？]?", re.I)
PROMPT = re.compile(r"[:：]\s*$")
ANY_LINE = re.compile(r"\n[^\n]*\S[^\n]*\n")
_S = TypeVar("_S", bound="MonitorSession")  # start() and `with` hand back the Monitor itself


class MonitorError(HarnessError):
    """A monitor command failed or the session died."""


class MonitorSession:
    """An interactive dmmonitor session on the monitor host: start, read, send, log in, close."""

    def __init__(self, host: Host, topology: Topology, run_dir: Path | None = None, *, name: str = "monitor",
                 steps: StepLog | None = None, ini: str | None = None) -> None:
        self.host, self.t, self.name, self.steps = host, topology, name, steps
        self.ini = ini or topology.dmmonitor_ini
        self.transcript_path = (run_dir / f"monitor-{name}.log") if run_dir else None
        self.transcript = Transcript(run_dir, host.name, "dmmonitor", secrets=(topology.password,))
        self._log = None
        self.child: Any = None
        self.buffer = ""  # everything read since start (also in the transcript)
        self.logged_in = False

    # -- lifecycle
    def start(self: _S, timeout: float = 30) -> _S:
        """Start dmmonitor and wait for its ready banner."""
        cmd = f"{self.host.bin('dmmonitor')} {self.host.path(self.ini)}"
        if self.transcript_path is not None:
            self.transcript_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.transcript_path, "a", encoding="utf-8")
            self._log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {cmd}\n")
        self.child = self.host.interactive(cmd)
        self.child.logfile_read = self._log
        t0 = time.time()
        try:
            self.child.expect(READY, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - pexpect EOF/TIMEOUT
            out = self._drain_text()
            self._note("start dmmonitor", cmd, out, ok=False, t0=t0)
            raise MonitorError(f"dmmonitor on {self.host.name} did not print 'IS READY' within {timeout}s "
                               f"({type(exc).__name__}); output:\n{out[-2000:]}") from None
        self.buffer += self.child.before + self.child.after
        self._note("start dmmonitor", cmd, self.child.before + self.child.after, ok=True, t0=t0)
        return self

    def alive(self) -> bool:
        return self.child is not None and self.child.isalive()

    def close(self) -> None:
        """`exit`, then make sure the process is gone; the transcript is flushed."""
        import pexpect

        if self.child is not None:
            try:
                if self.child.isalive():
                    self.child.sendline("exit")
                    self.child.expect(pexpect.EOF, timeout=5)
            except Exception:  # noqa: BLE001
                pass
            try:
                self.child.close(force=True)
            except Exception:  # noqa: BLE001
                pass
            self.child = None
        if self._log is not None:
            self._log.flush()
            self._log.close()
            self._log = None

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level
    def _drain_text(self) -> str:
        try:
            return (self.child.before or "") if self.child else ""
        except Exception:  # noqa: BLE001
            return ""

    def _note(self, step: str, cmd: str, out: str, *, ok: bool, t0: float, exchange: bool = True) -> None:
        """Record a step; an exchange with dmmonitor (not a decision note) also goes to the transcript."""
        if exchange:
            self.transcript.add(cmd, out, started=t0, note="" if ok else "failed")
        if self.steps is not None:
            self.steps.note(self.host.name, step, cmd, self.transcript.redact(out), ok=ok,
                            duration=time.time() - t0)

    def _read_until(self, done: re.Pattern[str] | None, timeout: float, idle: float, *,
                    quiet_ok: float | None = None) -> str:
        """Read until `done` matches the accumulated output (then until idle), or until `idle` seconds of
        silence when done is None. With `quiet_ok`, that long a silence after some output also ends the
        read (an answer worded in a way `done` does not know). Raises MonitorError on timeout or EOF."""
        import pexpect

        out = ""
        deadline = time.monotonic() + timeout
        matched = done is None
        quiet_since = time.monotonic()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if matched:
                    return out
                raise MonitorError(f"dmmonitor: no {done.pattern!r} within {timeout}s; output:\n{out[-2000:]}")
            try:
                chunk = self.child.read_nonblocking(65536, timeout=min(idle, remaining))
                out += chunk
                self.buffer += chunk
                quiet_since = time.monotonic()
                if not matched and done is not None and done.search(out):
                    matched = True
            except pexpect.TIMEOUT:
                if matched or (quiet_ok is not None and out.strip()
                               and time.monotonic() - quiet_since >= quiet_ok):
                    return out
            except pexpect.EOF:
                if matched:
                    return out
                raise MonitorError(f"dmmonitor exited; output:\n{out[-2000:]}") from None

    def command(self, cmd: str, *, until: re.Pattern[str] | str | None = None, timeout: float = 30,
                idle: float = 0.5, answer: str | None = None, step: str | None = None) -> str:
        """Send one command line and return its output (read until `until` matches, then until quiet).
        `answer` replies to a YES/NO confirmation prompt; a refusal comes without one."""
        if not self.alive():
            raise MonitorError("dmmonitor is not running")
        if isinstance(until, str):
            until = re.compile(until, re.I | re.M)
        t0 = time.time()
        self.child.sendline(cmd)
        if answer is not None:
            out = self._read_until(YES_NO, min(timeout, 30), idle=0.3, quiet_ok=2.0)
            if YES_NO.search(out):
                self.child.sendline(answer)
                out += self._read_until(until, timeout, idle, quiet_ok=2.0)
        else:
            out = self._read_until(until, timeout, idle)
        self._note(step or f"monitor: {cmd}", cmd, out, ok=True, t0=t0)
        return out

    # -- login
    def login(self, user: str = "SYSDBA", password: str | None = None, timeout: float = 30) -> str:
        """`login` with the DB SYSDBA account (seed 十二.2.1). Success is decided by a following command not
        being refused as not logged in (no capture confirms the success sentence)."""
        t0 = time.time()
        self.child.sendline("login")
        out = self._read_until(PROMPT, timeout, idle=0.2, quiet_ok=1.0)
        self.child.sendline(user)
        out += self._read_until(PROMPT, timeout, idle=0.2, quiet_ok=1.0)
        self.child.sendline(password if password is not None else self.t.password)
        out += self._read_until(None, timeout, idle=0.5)
        bad = refused(out)
        probe = "" if bad else self.command(f"choose switchover {self.t.group}", until=ANY_LINE, idle=0.4)
        ok = not bad and not NOT_LOGGED_IN.search(probe)
        self._note("monitor: login", f"login {user}", out, ok=ok, t0=t0)
        if not ok:
            raise MonitorError(f"dmmonitor login as {user} failed:\n{self.transcript.redact(out + probe)[-1000:]}")
        self.logged_in = True
        return out

    def logout(self) -> str:
        self.logged_in = False
        return self.command("logout")

    def _needs_login(self, cmd: str, *, until: re.Pattern[str] | None, timeout: float, idle: float,
                     answer: str | None = None) -> str:
        """Run a command that needs login; on DWMON_NOT_LOGIN (-5) log in (as the seed does) and retry once."""
        out = self.command(cmd, until=until, timeout=timeout, idle=idle, answer=answer)
        if NOT_LOGGED_IN.search(out):
            self.logged_in = False
            self.login()
            out = self.command(cmd, until=until, timeout=timeout, idle=idle, answer=answer)
        return out
