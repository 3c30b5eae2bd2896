"""A local Data Watch lab for the emulator's own tests: the seed's group on 127.0.x.y processes.

Hosts: host1 internal 127.0.56.201 / external 127.0.0.201, host2 .202, monitor 127.0.56.203; groups with
several standbys (`Lab(standbys=("REALTIME", "REALTIME", "ASYNC"))`) put mema3, mema4... on .204, .205...
`Lab.build()` follows the seed: dminit mema1, first normal start, archive mode by SQL, offline
backup, dminit + restore/recover/UPDATE DB_MAGIC on host2, dm.ini/dmmal/dmarch/dmwatcher ini files,
start both in MOUNT, SP_SET_OGUID + ALTER DATABASE PRIMARY/STANDBY, start the watchers, then a
monitor (pexpect). Every process is killed and every directory removed by `Lab.close()`.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import dmPython
import pexpect

PWD = "Mema_1234"
OGUID = 453331
MON_HOST = "127.0.56.203"


def _octet(name: str) -> int:
    """mema1 -> 201, mema2 -> 202, mema3 -> 204 (203 is the monitor's host), ..."""
    k = int(name[4:])
    return 200 + k if k <= 2 else 201 + k


INT = {f"mema{k}": f"127.0.56.{_octet(f'mema{k}')}" for k in range(1, 10)}
EXT = {f"mema{k}": f"127.0.0.{_octet(f'mema{k}')}" for k in range(1, 10)}
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    """A TCP port free on all addresses (never a fixed well-known port)."""
    while True:
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        p = s.getsockname()[1]
        s.close()
        if 20000 < p < 60000:
            return p


def wait_for(cond: Callable[[], object], timeout: float, what: str, last: Callable[[], object] | None = None):
    """Poll `cond` until truthy; on timeout say what we waited for and the last state seen."""
    deadline = time.monotonic() + timeout
    err = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:                       # noqa: BLE001 - keep polling, report the last error
            err = e
        time.sleep(0.2)
    seen = last() if last else err
    if isinstance(seen, str) and len(seen) > 1500:
        seen = "..." + seen[-1500:]
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {seen!r}")


def run(cmd: list[str], env: dict | None = None, timeout: float = 60, check: bool = True) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    out = p.stdout + p.stderr
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {out}")
    return out


class Node:
    def __init__(self, lab: Lab, name: str):
        self.lab = lab
        self.name = name
        self.root = os.path.join(lab.root, f"host{name[4:]}")
        self.data = os.path.join(self.root, "data")
        self.dir = os.path.join(self.data, "memadb")
        self.ini = os.path.join(self.dir, "dm.ini")
        self.watcher_ini = os.path.join(self.dir, "dmwatcher.ini")
        self.port = free_port()
        self.mal_port = free_port()
        self.dw_port = free_port()
        self.inst_dw_port = free_port()
        self.host = INT[name]
        self.ext = EXT[name]
        self.server: subprocess.Popen | None = None
        self.watcher: subprocess.Popen | None = None

    def connect(self, user: str = "SYSDBA", pwd: str = PWD, **kw):
        return dmPython.connect(user=user, password=pwd, server=self.ext, port=self.port, **kw)

    def sql(self, sql: str):
        c = self.connect()
        try:
            cur = c.cursor()
            cur.execute(sql)
            try:
                return cur.fetchall()
            except dmPython.Error:
                return None
        finally:
            c.close()

    def one(self, sql: str):
        return self.sql(sql)[0][0]

    def state(self) -> tuple[str, str]:
        return tuple(self.sql("select MODE$, STATUS$ from v$instance")[0])

    def server_pid(self) -> int | None:
        try:
            with open(os.path.join(self.dir, "dmserver.lck")) as f:
                return int(f.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def server_alive(self) -> bool:
        pid = self.server_pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except OSError:
            return False

    def start_server(self, mount: bool = False) -> None:
        args = [os.path.join(BIN, "dmserver"), self.ini] + (["mount"] if mount else [])
        log = f"{self.name}-dmserver.out"
        before = self.lab.read(log).count("SYSTEM IS READY")
        self.server = self.lab.spawn(args, log)
        wait_for(lambda: self.lab.read(log).count("SYSTEM IS READY") > before, 30,
                 f"{self.name} dmserver ready", lambda: self.lab.read(log)[-500:])

    def stop_server(self) -> None:
        pid = self.server_pid()
        if pid and self.server_alive():
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not self.server_alive(), 30, f"{self.name} dmserver exit")

    def start_watcher(self) -> None:
        self.watcher = self.lab.spawn([os.path.join(BIN, "dmwatcher"), self.watcher_ini], f"{self.name}-watcher.out")

    def stop_watcher(self) -> None:
        if self.watcher and self.watcher.poll() is None:
            self.watcher.send_signal(signal.SIGTERM)
            self.watcher.wait(40)

    def watcher_log(self) -> str:
        return self.lab.read(f"{self.name}-watcher.out")


class Monitor:
    """pexpect driver of dmmonitor; `cmd()` returns the output of one command (sentinel: show version)."""

    def __init__(self, lab: Lab, ini: str, lang: str = "cn", name: str = "mon"):
        env = dict(lab.env, LANGUAGE=lang)
        self.log = open(os.path.join(lab.root, f"{name}.transcript"), "w", encoding="utf-8")
        self.p = pexpect.spawn(os.path.join(BIN, "dmmonitor"), [ini], env=env, encoding="utf-8", timeout=30,
                               cwd=lab.root)
        self.p.logfile_read = self.log
        self.lang = lang

    def expect(self, pattern: str, timeout: float = 30) -> str:
        self.p.expect(pattern, timeout=timeout)
        return self.p.before + self.p.after

    def cmd(self, line: str, answers: list[str] = (), timeout: float = 60) -> str:
        self.p.sendline(line)
        for a in answers:
            self.p.sendline(a)
        self.p.sendline("show version")
        self.p.expect(r"\nDMMONITOR\[4\.0\] V8\r?\n", timeout=timeout)
        lines = self.p.before.replace("\r", "").split("\n")
        echoed = {line.strip(), "show version", *[a.strip() for a in answers]}
        return "\n".join(x for x in lines if x.strip() not in echoed).strip("\n")

    def names(self, line: str) -> list[str]:
        """Candidate instance names printed by a `choose ...` command."""
        return [x.strip() for x in self.cmd(line).splitlines()
                if x.strip() and not x.startswith("[monitor]") and len(x.split()) == 1]

    def login(self, user: str = "SYSDBA", pwd: str = PWD) -> str:
        return self.cmd("login", [user, pwd])

    def show(self) -> dict[str, dict[str, str]]:
        """`show` parsed: {INAME: {column: value}} from the GLOBAL INFO block."""
        text = self.cmd("show")
        return parse_global(text)

    def close(self) -> None:
        if self.p.isalive():
            self.p.sendline("exit")
            try:
                self.p.expect(pexpect.EOF, timeout=5)
            except (pexpect.TIMEOUT, pexpect.EOF):
                pass
            self.p.terminate(force=True)
        self.log.close()


def parse_global(text: str) -> dict[str, dict[str, str]]:
    lines = text.splitlines()
    out: dict[str, dict[str, str]] = {}
    for i, line in enumerate(lines):
        if line.startswith("<<DATABASE GLOBAL INFO:>>"):
            hdr = lines[i + 1].split()
            for row in lines[i + 2:]:
                if not row.strip():
                    break
                cells = row.split()
                # WTIME is two cells (date time)
                cells = cells[:2] + [cells[2] + " " + cells[3]] + cells[4:]
                d = dict(zip(hdr, cells, strict=False))
                out[d["INAME"]] = d
    return out


class Lab:
    """The seed's three hosts as local processes (see module docstring)."""

    def __init__(self, *, bugs: str = "", dw_mode: str = "MANUAL", dw_error_time: int = 3, inst_error_time: int = 3,
                 recover_time: int = 2, check_interval: int = 2, conn_fail: int = 2, auto_restart: int = 1,
                 confirm: int = 0, extra_env: dict | None = None, standbys: tuple[str, ...] = ("REALTIME",),
                 timer_minute_s: float = 1.0):
        self.root = tempfile.mkdtemp(prefix="dwlab-")
        self.procs: list[subprocess.Popen] = []
        self.monitors: list[Monitor] = []
        self.block_file = os.path.join(self.root, "netblock")
        self.env = dict(os.environ, DMEMU_NET_BLOCK_FILE=self.block_file, LANGUAGE="cn")
        self.env.pop("DMEMU_BUGS", None)
        forced = os.environ.get("DWLAB_FORCE_BUGS", "")  # show a check red: every lab of the run gets these
        bugs = ",".join(b for b in (bugs, forced) if b)
        if bugs:
            self.env["DMEMU_BUGS"] = bugs
        self.env["DMEMU_TIMER_MINUTE_S"] = str(timer_minute_s)
        self.env.update(extra_env or {})
        self.env["PATH"] = BIN + os.pathsep + self.env.get("PATH", "")
        self.opts = dict(dw_mode=dw_mode, dw_error_time=dw_error_time, inst_error_time=inst_error_time,
                         recover_time=recover_time, check_interval=check_interval, conn_fail=conn_fail,
                         auto_restart=auto_restart, confirm=confirm)
        self.kind = {"mema1": "PRIMARY"}
        self.kind.update({f"mema{k}": t.upper() for k, t in enumerate(standbys, 2)})
        self.nodes = {name: Node(self, name) for name in self.kind}
        self.n1 = self.nodes["mema1"]
        self.n2 = self.nodes["mema2"]
        self.mon_ini = os.path.join(self.root, "monitor", "dmmonitor.ini")

    # ---- processes -------------------------------------------------------------------------
    def spawn(self, args: list[str], logname: str) -> subprocess.Popen:
        out = open(os.path.join(self.root, logname), "ab")
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                             start_new_session=True, cwd=self.root)
        out.close()
        self.procs.append(p)
        return p

    def read(self, logname: str) -> str:
        try:
            with open(os.path.join(self.root, logname), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def monitor(self, lang: str = "cn", confirm: int | None = None, name: str = "mon") -> Monitor:
        ini = self.mon_ini
        if confirm is not None and confirm != self.opts["confirm"]:
            ini = os.path.join(self.root, "monitor", f"dmmonitor_{name}.ini")
            self._write_monitor_ini(ini, confirm)
        m = Monitor(self, ini, lang, name)
        self.monitors.append(m)
        m.expect(r"DMMONITOR\[4\.0\] IS READY", timeout=20)
        return m

    def close(self) -> None:
        for m in self.monitors:
            try:
                m.close()
            except Exception:                     # noqa: BLE001
                pass
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for n in self.nodes.values():
            pid = n.server_pid()
            if pid and n.server_alive():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if not os.environ.get("DWLAB_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- network faults ----------------------------------------------------------------------
    def isolate(self, node: Node) -> None:
        with open(self.block_file, "w") as f:
            f.write(f"{node.host}\n{node.ext}\n")

    def heal(self) -> None:
        if os.path.exists(self.block_file):
            os.remove(self.block_file)

    # ---- configuration files -----------------------------------------------------------------
    def dmmal_text(self) -> str:
        o = self.opts
        out = [f"MAL_CHECK_INTERVAL = {o['check_interval']}", f"MAL_CONN_FAIL_INTERVAL = {o['conn_fail']}", ""]
        for i, n in enumerate(self.nodes.values(), 1):
            out += [f"[MAL_INST{i}]", f"MAL_INST_NAME = {n.name}", f"MAL_HOST = {n.host}", f"MAL_PORT = {n.mal_port}",
                    f"MAL_DW_PORT = {n.dw_port}", f"MAL_INST_HOST = {n.ext}", f"MAL_INST_PORT = {n.port}",
                    f"MAL_INST_DW_PORT = {n.inst_dw_port}", ""]
        return "\n".join(out)

    def is_async(self, n: Node) -> bool:
        return self.kind[n.name] == "ASYNC"

    def arch_text(self, n: Node) -> str:
        """dmarch.ini: a real-time node sends REALTIME (or TIMELY) to every other real-time node and ASYNC
        (timer RT_TIMER) to every async one; an async node keeps only its local archive."""
        arch = os.path.join(n.dir, "arch")
        local = (f"[ARCHIVE_LOCAL1]\nARCH_TYPE = LOCAL\nARCH_DEST = {arch}\nARCH_FILE_SIZE = 128\n"
                 f"ARCH_SPACE_LIMIT = 0\n")
        if self.is_async(n):
            return local
        sync = [m for m in self.nodes.values() if m is not n and not self.is_async(m)]
        if list(self.kind.values()) == ["PRIMARY", "REALTIME"]:      # the seed's 1+1 text, unchanged
            return f"[ARCHIVE_REALTIME]\nARCH_TYPE = REALTIME\nARCH_DEST = {sync[0].name}\n\n" + local
        out = ""
        for k, m in enumerate(sync, 1):
            typ = "TIMELY" if "TIMELY" in (self.kind[m.name], self.kind[n.name]) else "REALTIME"
            out += f"[ARCHIVE_{typ}{k}]\nARCH_TYPE = {typ}\nARCH_DEST = {m.name}\n\n"
        for k, m in enumerate((m for m in self.nodes.values() if self.is_async(m)), 1):
            out += f"[ARCHIVE_ASYNC{k}]\nARCH_TYPE = ASYNC\nARCH_DEST = {m.name}\nARCH_TIMER_NAME = RT_TIMER\n\n"
        return out + local

    def write_configs(self, n: Node) -> None:
        from dmemu.ini import set_keys
        set_keys(n.ini, {"INSTANCE_NAME": n.name, "PORT_NUM": n.port, "ALTER_MODE_STATUS": 0, "ENABLE_OFFLINE_TS": 2,
                         "MAL_INI": 1, "ARCH_INI": 1, "LISTEN_IP": n.ext})
        with open(os.path.join(n.dir, "dmmal.ini"), "w") as f:
            f.write(self.dmmal_text())
        with open(os.path.join(n.dir, "dmarch.ini"), "w") as f:
            f.write(self.arch_text(n))
        if "ASYNC" in self.kind.values():
            with open(os.path.join(n.dir, "dmtimer.ini"), "w") as f:
                f.write("[RT_TIMER]\nTYPE = 2\nFREQ_MONTH_WEEK_INTERVAL = 1\nFREQ_SUB_INTERVAL = 0\n"
                        "FREQ_MINUTE_INTERVAL = 2\nSTART_TIME = 00:00:00\nEND_TIME = 00:00:00\n"
                        "DURING_START_DATE = 2024-01-01 00:00:00\nDURING_END_DATE = 9999-12-31 23:59:59\n"
                        "NO_END_DATE_FLAG = 1\nDESCRIBE = RT_TIMER\nIS_VALID = 1\n")
        o = self.opts
        dw_type = "LOCAL" if self.is_async(n) else "GLOBAL"
        with open(n.watcher_ini, "w") as f:
            f.write(f"[GRP1]\nDW_TYPE = {dw_type}\nDW_MODE = {o['dw_mode']}\nDW_ERROR_TIME = {o['dw_error_time']}\n"
                    f"INST_RECOVER_TIME = {o['recover_time']}\nINST_ERROR_TIME = {o['inst_error_time']}\n"
                    f"INST_OGUID = {OGUID}\nINST_INI = {n.ini}\nINST_AUTO_RESTART = {o['auto_restart']}\n"
                    f"INST_STARTUP_CMD = {os.path.join(BIN, 'dmserver')}\nRLOG_SEND_THRESHOLD = 0\n"
                    f"RLOG_APPLY_THRESHOLD = 0\n")

    def _write_monitor_ini(self, path: str, confirm: int) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"MON_DW_CONFIRM = {confirm}\nMON_LOG_PATH = {os.path.join(self.root, 'monitor', 'log')}\n"
                    f"MON_LOG_INTERVAL = 1\nMON_LOG_FILE_SIZE = 32\nMON_LOG_SPACE_LIMIT = 0\n\n[GRP1]\n"
                    f"MON_INST_OGUID = {OGUID}\n"
                    + "".join(f"MON_DW_IP = {n.host}:{n.dw_port}\n" for n in self.nodes.values()))

    # ---- the seed's procedure ------------------------------------------------------------------
    def dminit(self, n: Node) -> None:
        os.makedirs(n.data, exist_ok=True)
        run([os.path.join(BIN, "dminit"), f"PATH={n.data}", "DB_NAME=memadb", f"INSTANCE_NAME={n.name}",
             f"PORT_NUM={n.port}", "PAGE_SIZE=32", "EXTENT_SIZE=32", "CHARSET=1", "CASE_SENSITIVE=0",
             "LENGTH_IN_CHAR=0", "BLANK_PAD_MODE=1", f"SYSDBA_PWD={PWD}"], env=self.env)
        from dmemu.ini import set_keys
        set_keys(n.ini, {"LISTEN_IP": n.ext})

    def dmrman(self, stmt: str) -> str:
        return run([os.path.join(BIN, "dmrman"), f"CTLSTMT={stmt}"], env=self.env)

    def build(self, start_watchers: bool = True) -> Lab:
        n1 = self.n1
        self.dminit(n1)
        n1.start_server()
        arch = os.path.join(n1.dir, "arch")
        c = n1.connect()
        cur = c.cursor()
        for s in ("alter database mount",
                  f"alter database add archivelog 'DEST={arch},TYPE=local,FILE_SIZE=128,space_limit=0'",
                  "alter database archivelog", "alter database open"):
            cur.execute(s)
        c.close()
        n1.stop_server()
        bak = os.path.join(n1.dir, "bak", "memadb_bak01")
        self.dmrman(f"backup database '{n1.ini}' full backupset '{bak}'")
        for s in self.standby_nodes():
            self.dminit(s)
            bak2 = os.path.join(s.dir, "bak", "memadb_bak01")
            shutil.copytree(bak, bak2)
            self.dmrman(f"RESTORE DATABASE '{s.ini}' FROM BACKUPSET '{bak2}'")
            self.dmrman(f"RECOVER DATABASE '{s.ini}' FROM BACKUPSET '{bak2}'")
            self.dmrman(f"RECOVER DATABASE '{s.ini}' UPDATE DB_MAGIC")
        for n in self.nodes.values():
            self.write_configs(n)
        self._write_monitor_ini(self.mon_ini, self.opts["confirm"])
        for n in self.nodes.values():
            n.start_server(mount=True)
        for n in self.nodes.values():
            mode = "primary" if n is n1 else "standby"
            c = n.connect()
            cur = c.cursor()
            cur.execute(f"sp_set_oguid({OGUID})")
            cur.execute(f"alter database {mode}")
            c.close()
        if start_watchers:
            self.start_watchers()
        return self

    def standby_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n is not self.n1]

    def start_watchers(self) -> None:
        for n in self.nodes.values():
            n.start_watcher()
        self.wait_open()

    def wait_open(self, primary: str = "mema1", timeout: float = 40) -> None:
        p = self.nodes[primary]
        wait_for(lambda: p.state() == ("PRIMARY", "OPEN"), timeout, f"{p.name} PRIMARY OPEN",
                 lambda: (p.watcher_log()[-800:]))
        for s in self.nodes.values():
            if s is not p:
                wait_for(lambda s=s: s.state() == ("STANDBY", "OPEN"), timeout, f"{s.name} STANDBY OPEN",
                         lambda s=s: (s.watcher_log()[-800:]))
        wait_for(lambda: all(r[0] == "VALID" for r in p.sql(
                     "select arch_status from v$arch_status where arch_type in ('REALTIME', 'TIMELY')")),
                 timeout, "real-time archives VALID")


def built(bugs: str = "", **kw: object) -> Lab:
    """A Lab of its own, already built (closed again if the build fails); the caller closes it."""
    lab = Lab(bugs=bugs, **kw)
    try:
        lab.build()
    except BaseException:
        lab.close()
        raise
    return lab


def count_and_sum(n: Node, table: str) -> tuple[int, int]:
    r = n.sql(f"select count(*), sum(id) from {table}")[0]
    return int(r[0]), int(r[1] or 0)


__all__ = ["Lab", "Node", "Monitor", "built", "wait_for", "free_port", "count_and_sum", "parse_global", "PWD", "OGUID",
           "random", "re"]
