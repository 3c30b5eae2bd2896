"""Command plumbing: requests to watchers, step lines, locks, the YES/NO confirmation."""

from __future__ import annotations

import time

from ... import lang
from .. import protocol
from ..config import MonGroup
from .model import DWMON_NOT_LOGIN, CmdError, WatcherView


class Steps:
    """One request or one printed step of a managing command (mixin of Monitor)."""

    def req(self, v: WatcherView, msg: dict, timeout: float = 15.0) -> dict:
        c = v.conn
        if c is None or c.closed:
            raise CmdError(-1, lang.msg("m_no_link", name=v.name))
        try:
            r = c.request(msg, timeout=timeout)
        except protocol.LinkError as e:
            raise CmdError(-1, lang.msg("m_no_link", name=v.name) + f" ({e})") from None
        if not r.get("ok"):
            raise CmdError(r.get("code", -1), r.get("error", "failed"))
        return r

    def need_login(self) -> None:
        if not self.logged_in:
            raise CmdError(DWMON_NOT_LOGIN, lang.msg("m_not_login"))

    def exec_step(self, v: WatcherView, sql: str) -> None:
        self.say("m_exec_start", name=v.name, sql=sql)
        self.req(v, {"op": "exec", "sql": sql})
        self.say("m_exec_ok", name=v.name, sql=sql)

    def to_wstatus(self, v: WatcherView, to: str) -> None:
        self.say("m_notify_w", name=v.name, to=to)
        r = self.req(v, {"op": "wstatus", "to": to})     # the watcher's push prints the switch line
        if r.get("from") != to and v.msg:
            v.msg["wstatus"] = to
        self.say("m_notify_w_ok", name=v.name, to=to)

    def lock(self, vs: list[WatcherView]) -> None:
        done = []
        try:
            for v in vs:
                self.req(v, {"op": "lock"})
                done.append(v)
        except CmdError:
            self.unlock(done)
            raise

    def unlock(self, vs: list[WatcherView]) -> None:
        for v in vs:
            try:
                self.req(v, {"op": "unlock"}, timeout=3)
            except CmdError:
                pass

    def confirm(self, kind: str, g: MonGroup, v: WatcherView) -> bool:
        self.write(lang.msg("m_confirm", target=f"{g.name}.{v.name}", kind=kind))
        line = self.inp.readline()
        if self.log is not None:
            self.write(line if line.endswith("\n") else line + "\n")
        return line.strip().upper() in ("YES", "Y")

    def refresh(self, vs: list[WatcherView], timeout: float = 3.0) -> None:
        for v in vs:
            try:
                r = self.req(v, {"op": "status"}, timeout=timeout)
                v.msg = r["wmsg"]
                v.seen = time.monotonic()
            except CmdError:
                pass

    def _wait(self, cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if cond():
                    return True
            except (KeyError, TypeError, AttributeError):
                pass
            time.sleep(0.1)
        return False
