"""dmmonitor <dmmonitor.ini>: the interactive Data Watch monitor (behaviour reference §4, §7).

It links to every MON_DW_IP watcher, prints each watcher's status message when it changes and
`Received message timeout from(X)` after DW_ERROR_TIME of silence, and runs the commands of §4.2.
Switchover, takeover and open force are driven step by step from here through the watchers, with
the `[monitor] <time>: ...` lines of §7. A confirm monitor (MON_DW_CONFIRM=1) in an AUTO group takes
over automatically onto a VALID standby once the primary has failed for DW_ERROR_TIME and that standby's
watcher has lost the primary too (§3.3, §4.4; see `auto_takeover_target`), and it answers an AUTO primary
watcher's request to confirm a standby's failure before that watcher invalidates the standby's archive
(see `confirm_standby_failure`).
Chinese by default, English with LANGUAGE=en.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import random
import sys
import threading
import time

from ... import lang
from ...errors import DmError
from .. import protocol
from ..config import MonitorConfig, build_from_argv, load_monitor
from . import commands
from .auto import AutoTakeover
from .groupops import GroupCommands
from .groupview import GroupView
from .managing import Managing
from .model import DWMON_MULTI_CONFIRM_MON, DWMON_NOT_LOGIN, LOGIN_REQ_TIMEOUT, CmdError, WatcherView, ts
from .render import Render
from .steps import Steps


class Monitor(GroupView, Render, Steps, Managing, AutoTakeover, GroupCommands):
    """One dmmonitor process: its links, console and log file; the commands come from the mixins."""

    def __init__(self, cfg: MonitorConfig, out=None, inp=None):
        self.cfg = cfg
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.id = f"{random.randrange(1, 2**31)}"
        self.logged_in = False
        self.views: list[WatcherView] = [WatcherView(g, h, p) for g in cfg.groups for h, p in g.dw_ips]
        self._out_lock = threading.RLock()
        self._stop = threading.Event()
        self.fatal: CmdError | None = None
        self.auto_running = False
        self.cmd_lock = threading.Lock()
        self.log = None
        self.log_bytes = 0
        self._open_log()

    def _open_log(self) -> None:
        path = self.cfg.log_path
        try:
            os.makedirs(path, exist_ok=True)
            name = os.path.join(path, f"dmmonitor_{_dt.datetime.now():%Y%m%d%H%M%S}_{os.getpid()}.log")
            self.log = open(name, "a", encoding="utf-8")
            self.log_bytes = 0
        except OSError as e:
            self.log = None
            self.out.write(f"MON_LOG_PATH {path}: {e}\n")
        self._enforce_space()

    def _enforce_space(self) -> None:
        limit = self.cfg.log_space_limit * 1024 * 1024
        if not limit:
            return
        try:
            files = sorted((os.path.join(self.cfg.log_path, f) for f in os.listdir(self.cfg.log_path)
                            if f.startswith("dmmonitor_") and f.endswith(".log")), key=os.path.getmtime)
            total = sum(os.path.getsize(f) for f in files)
            while files[:-1] and total > limit:
                total -= os.path.getsize(files[0])
                os.remove(files.pop(0))
        except OSError:
            pass

    def write(self, text: str) -> None:
        with self._out_lock:
            self.out.write(text)
            self.out.flush()
            if self.log is not None:
                try:
                    self.log.write(text)
                    self.log.flush()
                    self.log_bytes += len(text.encode())
                    if self.log_bytes > self.cfg.log_file_size * 1024 * 1024:
                        self.log.close()
                        self._open_log()
                except (OSError, ValueError):
                    pass

    def say(self, key_or_text: str, **fmt: object) -> None:
        text = lang.msg(key_or_text, **fmt) if key_or_text in lang.MESSAGES else key_or_text
        self.write(f"[monitor]         {ts()}: {text}\n")

    def fail(self, code: int, text: str) -> None:
        self.say(f"{text}, code = {code}" if code and code != DWMON_NOT_LOGIN else text)  # as the capture prints

    def start(self) -> None:
        self.write(f"[monitor]         {ts()}: DMMONITOR[4.0] V8\n")
        for v in self.views:
            self._connect(v)
        if self.fatal:
            return
        self.write(f"[monitor]         {ts()}: DMMONITOR[4.0] IS READY.\n\n")
        threading.Thread(target=self._bg, name="mon-bg", daemon=True).start()

    def _connect(self, v: WatcherView) -> None:
        try:
            c = protocol.dial(v.host, v.port, timeout=1.0, name=f"mon->{v.host}",
                              on_push=lambda _c, m, v=v: self._on_wmsg(v, m),
                              on_request=lambda _c, m, v=v: self._on_watcher_request(v, m))
            c.start()
            r = c.request({"op": "mon_hello", "id": self.id, "confirm": self.cfg.confirm,
                           "oguid": v.group.oguid}, timeout=3.0)
        except protocol.LinkError:
            return
        if not r.get("ok"):
            c.close()
            code = r.get("code", -1)
            if code == DWMON_MULTI_CONFIRM_MON:
                self.fatal = CmdError(code, r.get("error", ""))
                self.fail(code, r.get("error", ""))
            elif v.refused != r.get("error"):
                v.refused = r.get("error")
                self.fail(code, r.get("error", ""))
            return
        v.refused = None
        v.conn = c
        self._on_wmsg(v, r["wmsg"])

    def _bg(self) -> None:
        next_log = time.monotonic() + (self.cfg.log_interval or 1e9)
        next_dial = 0.0
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for v in self.views:
                if v.msg and not v.fresh() and not v.timed_out:
                    v.timed_out = True
                    self.say("m_timeout", name=v.name)
                    self.write(self._row_block(v, header=True))
            if now >= next_dial:
                for v in self.views:
                    if v.conn is not None and not v.conn.closed and v.conn.silent_for() >= v.error_time():
                        v.conn.close()
                    if v.conn is None or v.conn.closed:
                        self._connect(v)
                next_dial = now + 1.0
            if self.cfg.confirm:
                for g in self.cfg.groups:
                    self._auto_takeover(g)
            if self.cfg.log_interval and now >= next_log and self.log is not None:
                next_log = now + self.cfg.log_interval
                with self._out_lock:
                    try:
                        self.log.write(self.render_show(None))
                        self.log.flush()
                    except (OSError, ValueError):
                        pass

    def _on_wmsg(self, v: WatcherView, msg: dict) -> None:
        if msg.get("op") != "wmsg":
            return
        old = v.msg
        v.msg = msg
        v.seen = time.monotonic()
        v.timed_out = False
        key = (msg["wstatus"], msg["inst_ok"], msg["wctlstat"], (msg.get("inst") or {}).get("status"),
               (msg.get("inst") or {}).get("mode"), self.rstat(v))
        if old is not None and old.get("wstatus") != msg["wstatus"]:
            self.say("m_wswitch", name=msg["name"], frm=old.get("wstatus"), to=msg["wstatus"])
        if key != v.last_key:
            v.last_key = key
            self.say("m_recv", name=msg["name"])
            self.write(self._row_block(v, header=True))

    def run_command(self, line: str) -> bool:
        """Run one console line; False means exit."""
        words = line.split()
        if not words:
            return True
        try:
            with self.cmd_lock:
                return commands.dispatch(self, words)
        except CmdError as e:
            self.fail(e.code, e.text)
        except DmError as e:
            self.fail(e.code, e.message)
        return True

    def _login(self) -> None:
        self.write(lang.msg("m_user"))
        user = self.inp.readline().strip()
        self.write("\n" if not self.out.isatty() else "")
        if self.inp.isatty():
            pwd = getpass.getpass(lang.msg("m_pwd"))
        else:
            self.write(lang.msg("m_pwd"))
            pwd = self.inp.readline().rstrip("\n")
            self.write("\n")
        live = [v for v in self.views if v.conn is not None and not v.conn.closed and v.fresh()
                and v.msg.get("inst_ok") == "OK"]
        for v in sorted(live, key=lambda v: -v.seen):  # the most recently heard first: a black-holed
            try:                                       # watcher must not hold the login up for long
                r = self.req(v, {"op": "login", "user": user, "pwd": pwd}, timeout=LOGIN_REQ_TIMEOUT)
            except CmdError:
                continue
            if r.get("ok"):
                self.logged_in = True
                self.say("m_login_ok")
                return
            break
        raise CmdError(-2501, lang.msg("m_login_fail"))

    def loop(self) -> int:
        while True:
            line = self.inp.readline()
            if not line:
                return 0
            if self.log is not None:
                with self._out_lock:
                    try:
                        self.log.write(line)
                    except (OSError, ValueError):
                        pass
            if not self.run_command(line.strip()):
                return 0

    def close(self) -> None:
        self._stop.set()
        for v in self.views:
            if v.conn:
                v.conn.close()
        if self.log is not None:
            self.log.close()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: dmmonitor <dmmonitor.ini>."""
    mon = build_from_argv(argv, "dmmonitor", lambda path: Monitor(load_monitor(path)))
    if mon is None:
        return 1
    try:
        mon.start()
        if mon.fatal:
            return 1
        return mon.loop()
    except KeyboardInterrupt:
        return 0
    finally:
        mon.close()


if __name__ == "__main__":
    sys.exit(main())
