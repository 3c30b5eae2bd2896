"""dmmonitor driven through pexpect: login, every command, and `show` parsed into a structured state.

The parser reads DM8's `show` layout (reference section 4.3): header lines of column names followed by
rows, inside `#====#` rules; column headers are the same in Chinese and English builds, the
surrounding messages differ (收到守护进程(X)消息 / Received message from(X)). The transcript of every
session is kept (run_dir/monitor-<name>.log) for the report.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.wait import wait_until

if TYPE_CHECKING:
    from harness.backends.base import Host
    from harness.steps import StepLog
    from harness.topology import Topology

RULE = re.compile(r"^#=+#\s*$", re.M)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")
_HEADER_WORDS = {"GROUP", "OGUID", "MON_CONFIRM", "MODE", "MPP_FLAG", "DW_IP", "MAL_DW_PORT", "WTIME", "WTYPE",
                 "WCTLSTAT", "WSTATUS", "INAME", "INST_OK", "N_EP", "N_OK", "ISTATUS", "IMODE", "DSC_STATUS",
                 "RTYPE", "RSTAT", "INST_IP", "INST_PORT", "DSC_SEQNO", "DSC_CTRL", "N_OPEN", "FLSN", "CLSN"}
READY = re.compile(r"DMMONITOR\[[^\]]*\]\s+IS READY", re.I)
LOGIN_OK = re.compile(r"登录监视器成功|login (the )?monitor success|login success", re.I)
LOGIN_FAIL = re.compile(r"登录.*失败|login.*fail|用户名或密码错误|invalid (user|password)", re.I)
YES_NO = re.compile(r"\(YES/NO(/Y/N)?\)\s*[?？]?", re.I)
USER_PROMPT = re.compile(r"(用户名|user ?name|username)\s*[:：]\s*$", re.I | re.M)
PWD_PROMPT = re.compile(r"(密码|password)\s*[:：]\s*$", re.I | re.M)
FAILED = re.compile(r"code\s*=\s*-\d+|\[-\d+\]|失败|\bfail(ed)?\b|不满足|does not qualify|无效的|invalid "
                    r"(command|group|instance)|请先登录|please login", re.I)
NOT_LOGGED_IN = re.compile(r"请先登录|please login|code\s*=\s*-5\b", re.I)
NO_CANDIDATE = re.compile(r"没有满足条件|no instance qualifies|no candidate", re.I)
CHOOSE_DONE = re.compile(r"\n[^\n]*\S[^\n]*\n", re.I)
ANY_LINE = CHOOSE_DONE
SHOW_DONE = re.compile(r"#=+#[^#]*?\n[\s\S]*#=+#|code\s*=\s*-\d+|无效的|invalid", re.I)
TIP_DONE = re.compile(r"正常|异常|normal|not ok|code\s*=\s*-\d+", re.I)
TIP_BAD = re.compile(r"异常|not normal|not ok|code\s*=\s*-11\b|\[-11\]|split|分裂", re.I)
SWITCHOVER_OK = re.compile(r"切换实例\S+成功|switchover instance \S+ success|switchover success", re.I)
TAKEOVER_OK = re.compile(r"实例\S+接管成功|takeover use instance \S+ success|takeover success", re.I)
OPEN_OK = re.compile(r"强制打开实例\S+成功|open database \S+ success|已经是OPEN状态|is already OPEN", re.I)
STOP_GROUP_OK = re.compile(r"关闭守护组\(\S+\)成功|stop group\(\S+\) success", re.I)
KILL_GROUP_OK = re.compile(r"强制关闭守护组\(\S+\)成功|kill group\(\S+\) success", re.I)
STARTUP_GROUP_OK = re.compile(r"启动守护组\(\S+\)成功|startup group\(\S+\) success", re.I)
STOP_DB_OK = re.compile(r"实例\S+退出成功|instance \S+ stopped", re.I)
CMD_OK = re.compile(r"命令\[[^\]]*\]执行成功|command \[[^\]]*\] success", re.I)
MSG_FROM = re.compile(r"(?:收到守护进程\((?P<cn>[^)]+)\)消息|Received message (?:timeout )?from\((?P<en>[^)]+)\))")


# ---- the `show` parser ---------------------------------------------------------------------------
@dataclasses.dataclass
class DbState:
    """One database as `show` reports it (GLOBAL INFO row, plus its EP INFO row when present)."""

    iname: str
    wstatus: str = ""
    wctlstat: str = ""
    inst_ok: str = ""
    istatus: str = ""
    imode: str = ""
    rtype: str = ""
    rstat: str = ""
    n_open: int | None = None
    flsn: int | None = None
    clsn: int | None = None
    dw_ip: str = ""
    mal_dw_port: int | None = None
    wtime: str = ""
    raw: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ShowState:
    """Parsed `show` output: the group header and every database by instance name (upper case)."""

    time: str = ""
    group: str = ""
    oguid: int | None = None
    mon_confirm: str = ""
    mode: str = ""
    databases: dict[str, DbState] = dataclasses.field(default_factory=dict)
    text: str = ""

    def db(self, name: str) -> DbState:
        """The database with this instance name (case-insensitive); KeyError when absent."""
        return self.databases[name.upper()]

    @property
    def primary(self) -> DbState | None:
        """The one OPEN PRIMARY, if exactly one exists."""
        p = [d for d in self.databases.values() if d.imode == "PRIMARY" and d.istatus == "OPEN"]
        return p[0] if len(p) == 1 else None

    def healthy(self, instances: list[str] | None = None) -> bool:
        """Seed 十一.2's acceptance: every watcher and instance OPEN, one PRIMARY, standbys' RSTAT VALID."""
        dbs = list(self.databases.values())
        if instances is not None:
            if {i.upper() for i in instances} != set(self.databases):
                return False
        if not dbs:
            return False
        modes = [d.imode for d in dbs]
        return (all(d.wstatus == "OPEN" and d.istatus == "OPEN" and d.inst_ok in ("OK", "") for d in dbs)
                and modes.count("PRIMARY") == 1
                and all(d.rstat == "VALID" for d in dbs if d.imode == "STANDBY"))

    def summary(self) -> dict[str, tuple[str, str, str, str]]:
        """{INAME: (WSTATUS, ISTATUS, IMODE, RSTAT)} for messages."""
        return {n: (d.wstatus, d.istatus, d.imode, d.rstat) for n, d in self.databases.items()}


def _is_header(tokens: list[str]) -> bool:
    return len(tokens) >= 3 and all(t in _HEADER_WORDS for t in tokens)


def _row_values(cols: list[str], tokens: list[str]) -> dict[str, str]:
    """Map a row's tokens onto columns; a date token followed by a time token fills one column."""
    vals: dict[str, str] = {}
    i = 0
    for c in cols:
        if i >= len(tokens):
            break
        tok = tokens[i]
        if _DATE.match(tok) and i + 1 < len(tokens) and _TIME.match(tokens[i + 1]):
            tok = f"{tok} {tokens[i + 1]}"
            i += 1
        vals[c] = tok
        i += 1
    return vals


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def parse_show(text: str) -> ShowState:
    """Parse the output of `show` (Chinese or English build). Lines outside the `#====#` rules
    (asynchronous watcher messages interleaved by the monitor) are ignored when rules are present."""
    rules = [m.start() for m in RULE.finditer(text)]
    body = text[rules[0]:rules[-1]] if len(rules) >= 2 else text
    state = ShowState(text=body)
    before = text[:rules[0]] if rules else ""
    stamps = re.findall(r"^\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*$", before, re.M)
    if stamps:
        state.time = stamps[-1]
    cols: list[str] | None = None
    for line in body.splitlines():
        tokens = line.split()
        if not tokens:
            cols = None
            continue
        if _is_header(tokens):
            cols = tokens
            continue
        if cols is None or tokens[0].startswith(("<<", "#")) or tokens[0].endswith(":"):
            cols = None
            continue
        vals = _row_values(cols, tokens)
        if cols[0] == "GROUP":
            state.group = vals.get("GROUP", "")
            state.oguid = _int(vals.get("OGUID"))
            state.mon_confirm = vals.get("MON_CONFIRM", "")
            state.mode = vals.get("MODE", "")
            continue
        name = vals.get("INAME")
        if not name:
            continue
        db = state.databases.setdefault(name.upper(), DbState(iname=name))
        db.raw.update(vals)
        for col, attr in (("WSTATUS", "wstatus"), ("WCTLSTAT", "wctlstat"), ("INST_OK", "inst_ok"),
                          ("ISTATUS", "istatus"), ("IMODE", "imode"), ("RTYPE", "rtype"), ("RSTAT", "rstat"),
                          ("DW_IP", "dw_ip"), ("WTIME", "wtime")):
            if col in vals and (col != "INST_OK" or "WSTATUS" in vals or not db.inst_ok):
                setattr(db, attr, vals[col].upper() if attr not in ("dw_ip", "wtime") else vals[col])
        for col, attr in (("N_OPEN", "n_open"), ("FLSN", "flsn"), ("CLSN", "clsn"), ("MAL_DW_PORT", "mal_dw_port")):
            if col in vals:
                setattr(db, attr, _int(vals[col]))
    return state


def parse_messages(text: str) -> list[DbState]:
    """The watcher message blocks the monitor prints by itself (收到守护进程(X)消息 / Received message from(X))."""
    out: list[DbState] = []
    cols: list[str] | None = None
    pending = False
    for line in text.splitlines():
        if MSG_FROM.search(line):
            pending = True
            continue
        tokens = line.split()
        if pending and _is_header(tokens):
            cols = tokens
            continue
        if pending and tokens and _DATE.match(tokens[0]):
            vals = _row_values(cols or ["WTIME", "WSTATUS", "INST_OK", "INAME", "ISTATUS", "IMODE", "RSTAT",
                                        "N_OPEN", "FLSN", "CLSN"], tokens)
            if "INAME" in vals:
                out.append(DbState(iname=vals["INAME"], wstatus=vals.get("WSTATUS", "").upper(),
                                   inst_ok=vals.get("INST_OK", "").upper(), istatus=vals.get("ISTATUS", "").upper(),
                                   imode=vals.get("IMODE", "").upper(), rstat=vals.get("RSTAT", "").upper(),
                                   n_open=_int(vals.get("N_OPEN")), flsn=_int(vals.get("FLSN")),
                                   clsn=_int(vals.get("CLSN")), wtime=vals.get("WTIME", ""), raw=vals))
            pending = False
    return out


def _name(inst: object) -> str:
    """An instance name from a str or anything with .name (harness.dw.Node)."""
    return str(getattr(inst, "name", inst))


# ---- the session ---------------------------------------------------------------------------------
class MonitorError(HarnessError):
    """A monitor command failed or the session died."""


class Monitor:
    """An interactive dmmonitor session on the monitor host."""

    def __init__(self, host: Host, topology: Topology, run_dir: Path | None = None, *, name: str = "monitor",
                 steps: StepLog | None = None, ini: str | None = None) -> None:
        self.host, self.t, self.name, self.steps = host, topology, name, steps
        self.ini = ini or topology.dmmonitor_ini
        self.transcript_path = (run_dir / f"monitor-{name}.log") if run_dir else None
        self._log = None
        self.child: Any = None
        self.buffer = ""  # everything read since start (also in the transcript)
        self.logged_in = False

    # -- lifecycle
    def start(self, timeout: float = 30) -> Monitor:
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

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level
    def _drain_text(self) -> str:
        try:
            return (self.child.before or "") if self.child else ""
        except Exception:  # noqa: BLE001
            return ""

    def _note(self, step: str, cmd: str, out: str, *, ok: bool, t0: float) -> None:
        if self.steps is not None:
            self.steps.note(self.host.name, step, cmd, out, ok=ok, duration=time.time() - t0)

    def _read_until(self, done: re.Pattern[str] | None, timeout: float, idle: float) -> str:
        """Read until `done` matches the accumulated output (then until idle), or until `idle` seconds of
        silence when done is None. Raises MonitorError on timeout or if the monitor exits."""
        import pexpect

        out = ""
        deadline = time.monotonic() + timeout
        matched = done is None
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
                if not matched and done is not None and done.search(out):
                    matched = True
            except pexpect.TIMEOUT:
                if matched:
                    return out
            except pexpect.EOF:
                if matched:
                    return out
                raise MonitorError(f"dmmonitor exited; output:\n{out[-2000:]}") from None

    def command(self, cmd: str, *, until: re.Pattern[str] | str | None = None, timeout: float = 30,
                idle: float = 0.5, answer: str | None = None, step: str | None = None) -> str:
        """Send one command line and return its output (read until `until` matches, then until quiet).
        `answer` replies to a YES/NO confirmation prompt."""
        if not self.alive():
            raise MonitorError("dmmonitor is not running")
        if isinstance(until, str):
            until = re.compile(until, re.I | re.M)
        t0 = time.time()
        self.child.sendline(cmd)
        if answer is not None:
            out = self._read_until(re.compile(f"{YES_NO.pattern}|{FAILED.pattern}", re.I), timeout, idle=0.3)
            if YES_NO.search(out):  # a refusal (e.g. not logged in) comes without the confirmation prompt
                self.child.sendline(answer)
                out += self._read_until(until, timeout, idle)
        else:
            out = self._read_until(until, timeout, idle)
        self._note(step or f"monitor: {cmd}", cmd, out, ok=True, t0=t0)
        return out

    # -- commands
    def login(self, user: str = "SYSDBA", password: str | None = None, timeout: float = 30) -> str:
        """`login` with the DB SYSDBA account (seed 十二.2.1)."""
        t0 = time.time()
        self.child.sendline("login")
        out = self._read_until(USER_PROMPT, timeout, idle=0.2)
        self.child.sendline(user)
        out += self._read_until(PWD_PROMPT, timeout, idle=0.2)
        self.child.sendline(password if password is not None else self.t.password)
        out += self._read_until(re.compile(f"{LOGIN_OK.pattern}|{LOGIN_FAIL.pattern}", re.I), timeout, idle=0.3)
        ok = bool(LOGIN_OK.search(out))
        self._note("monitor: login", f"login {user}", out.replace(self.t.password, "******"), ok=ok, t0=t0)
        if not ok:
            raise MonitorError(f"dmmonitor login as {user} failed:\n{out[-1000:]}")
        self.logged_in = True
        return out

    def logout(self) -> str:
        self.logged_in = False
        return self.command("logout")

    def show(self, group: str | None = None, timeout: float = 30) -> ShowState:
        """`show [group]` parsed (ShowState)."""
        cmd = f"show {group}" if group else "show"
        out = self.command(cmd, until=SHOW_DONE, timeout=timeout, idle=0.3)
        return parse_show(out)

    def show_global_info(self) -> ShowState:
        return parse_show(self.command("show global info"))

    def show_database(self, inst: str) -> str:
        return self.command(f"show database {self._db(inst)}")

    def tip(self) -> tuple[bool, str]:
        """`tip`: (normal?, text). DM8 answers DWMON_SYS_NOT_OK (-11) with the reasons when not normal."""
        out = self.command("tip", until=TIP_DONE)
        return (not TIP_BAD.search(out), out)

    def list(self, inst: str | None = None) -> str:
        return self.command(f"list {self._db(inst)}" if inst else "list")

    def _db(self, inst: object) -> str:
        name = _name(inst)
        return name if "." in name else f"{self.t.group}.{name}"

    def _needs_login(self, cmd: str, *, until: re.Pattern[str], timeout: float, idle: float,
                     answer: str | None = None) -> str:
        """Run a command that needs login; on DWMON_NOT_LOGIN (-5) log in (as the seed does) and retry once."""
        out = self.command(cmd, until=until, timeout=timeout, idle=idle, answer=answer)
        if NOT_LOGGED_IN.search(out):
            self.logged_in = False
            self.login()
            out = self.command(cmd, until=until, timeout=timeout, idle=idle, answer=answer)
        return out

    def _choose(self, cmd: str) -> list[str]:
        out = self._needs_login(cmd, until=CHOOSE_DONE, timeout=30, idle=0.4)
        if FAILED.search(out):
            raise MonitorError(f"dmmonitor `{cmd}` failed:\n{out[-1000:]}")
        if NO_CANDIDATE.search(out):
            return []
        return self._names_in(out, cmd)

    def _names_in(self, out: str, cmd: str) -> list[str]:
        """Instance names a `choose` listed. Asynchronous messages may be interleaved with the answer (a
        `[monitor] ...: Received message timeout from(X)` line and its table block, reference §7.2): those
        lines are not candidates and are skipped."""
        body = "\n".join(line for line in out.split(cmd, 1)[-1].splitlines()
                         if not line.lstrip().startswith("[monitor]") and len(line.split()) < 4)
        return [h.instance for h in self.t.db_hosts
                if h.instance and re.search(rf"(?<![\w(]){re.escape(h.instance)}(?![\w)])", body, re.I)]

    def choose_switchover(self) -> list[str]:
        """Standbys eligible for switchover (empty when none)."""
        return self._choose(f"choose switchover {self.t.group}")

    def choose_takeover(self, force: bool = False) -> list[str]:
        """Standbys eligible for (forced) takeover (empty when none)."""
        return self._choose(f"choose takeover {'force ' if force else ''}{self.t.group}")

    def _action(self, cmd: str, ok: re.Pattern[str], *, confirm: bool = False, timeout: float | None = None) -> str:
        """A managing command: wait for its success line (or a failure), raise MonitorError on failure."""
        done = re.compile(f"(?:{ok.pattern})|(?:{FAILED.pattern})", re.I)
        out = self._needs_login(cmd, until=done, timeout=timeout or self.t.timers.group_open(), idle=0.5,
                                answer="YES" if confirm else None)
        if not ok.search(out):
            raise MonitorError(f"dmmonitor `{cmd}` failed:\n{out[-2000:]}")
        return out

    def switchover(self, inst: str, timeout: float | None = None) -> str:
        """`switchover GRP.inst`, answering YES (seed 十二.2.1)."""
        return self._action(f"switchover {self._db(inst)}", SWITCHOVER_OK, confirm=True, timeout=timeout)

    def takeover(self, inst: str, force: bool = False, timeout: float | None = None) -> str:
        """`takeover [force] GRP.inst`, answering YES (seed 十二.2.2)."""
        word = "takeover force" if force else "takeover"
        return self._action(f"{word} {self._db(inst)}", TAKEOVER_OK, confirm=True, timeout=timeout)

    def open_database(self, inst: str) -> str:
        """`open database GRP.inst` (older builds: open force)."""
        return self._action(f"open database {self._db(inst)}", OPEN_OK)

    def check_open(self, inst: str) -> str:
        return self._needs_login(f"check open {self._db(inst)}", until=ANY_LINE, timeout=30, idle=0.5)

    def check_recover(self, inst: str) -> str:
        return self._needs_login(f"check recover {self._db(inst)}", until=ANY_LINE, timeout=30, idle=0.5)

    def stop_group(self) -> str:
        """`stop group` (seed 十二.3.1: the safe way to stop the whole group)."""
        return self._action(f"stop group {self.t.group}", STOP_GROUP_OK)

    def kill_group(self) -> str:
        return self._action(f"kill group {self.t.group}", KILL_GROUP_OK)

    def startup_group(self) -> str:
        return self._action(f"startup group {self.t.group}", STARTUP_GROUP_OK)

    def stop_database(self, inst: str) -> str:
        return self._action(f"stop database {self._db(inst)}", STOP_DB_OK)

    def startup_database(self, inst: str) -> str:
        return self._action(f"startup database {self._db(inst)}", CMD_OK)

    def kill_database(self, inst: str) -> str:
        return self._action(f"kill database {self._db(inst)}", CMD_OK)

    def detach_database(self, inst: str) -> str:
        return self._action(f"detach database {self._db(inst)}", CMD_OK)

    def attach_database(self, inst: str) -> str:
        return self._action(f"attach database {self._db(inst)}", CMD_OK)

    def startup_dmwatcher(self) -> str:
        return self._action(f"startup dmwatcher {self.t.group}", CMD_OK)

    def stop_dmwatcher(self) -> str:
        return self._action(f"stop dmwatcher {self.t.group}", CMD_OK)

    def set_auto_restart(self, on: bool) -> str:
        """`set group GRP auto restart on|off` (INST_AUTO_RESTART in watcher memory and dmwatcher.ini)."""
        return self._action(f"set group {self.t.group} auto restart {'on' if on else 'off'}", CMD_OK)

    def set_recover_time(self, seconds: int, inst: object | None = None) -> str:
        """INST_RECOVER_TIME of one database or of the group, in watcher memory."""
        target = f"database {self._db(inst)}" if inst is not None else f"group {self.t.group}"
        return self._action(f"set {target} recover time {seconds}", CMD_OK)

    def set_arch_invalid(self, inst: object | None = None) -> str:
        target = f"database {self._db(inst)}" if inst is not None else f"group {self.t.group}"
        return self._action(f"set {target} arch invalid", CMD_OK)

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

    def wait_healthy(self, timeout: float | None = None) -> ShowState:
        """Poll `show` until both databases are OPEN and the standby VALID (seed 十一.2)."""
        names = [h.instance for h in self.t.db_hosts if h.instance]
        return wait_until(self.show, timeout or self.t.timers.group_open(),
                          "`show` to report every watcher and instance OPEN, one PRIMARY, standby RSTAT VALID",
                          ok=lambda s: s.healthy(names), interval=0.5, describe=lambda s: s.summary())
