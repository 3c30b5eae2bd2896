"""The watcher's I/O: its links to peer watchers (dialled, and their status messages checked against
its own configuration), to its own instance (status polling, INST_AUTO_RESTART) and the requests it
sends that instance. A mixin of Watcher (watcher.py), which owns the state it uses."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time

from .. import bugs, lang
from ..errors import DmError
from ..instance import is_running
from . import protocol


class WatcherLinks:
    """Peer and instance links of a Watcher, and the instance commands sent over the latter."""

    # ---- links ---------------------------------------------------------------------------
    def _on_conn(self, conn: protocol.Conn) -> None:
        conn.info["kind"] = None

    def _on_close(self, conn: protocol.Conn) -> None:
        with self._lock:
            m = self.monitors.pop(conn, None)
            if m is not None and self.cmd_owner == m["id"]:
                self.cmd_owner = None

    def _on_push(self, conn: protocol.Conn, msg: dict) -> None:
        op = msg.get("op")
        if op == "wmsg":
            self._peer_msg(msg)
        elif op == "send_failed":
            threading.Thread(target=self._handle_send_failed, args=(msg,), daemon=True).start()

    def _peer_msg(self, msg: dict) -> None:
        name = msg["name"]
        c = self.cfg
        for key, mine, theirs in (("dmmal.ini", self.mal.digest, msg.get("digest")),
                                  ("DW_TYPE", c.dw_type, msg.get("wtype")), ("DW_MODE", c.dw_mode, msg.get("dw_mode")),
                                  ("DW_ERROR_TIME", c.dw_error_time, msg.get("dw_error_time")),
                                  ("OGUID", c.inst_oguid, msg.get("oguid"))):
            if key == "DW_TYPE" and "LOCAL" in (mine, theirs):
                continue                             # an async standby's LOCAL watcher joins GLOBAL ones
            if mine != theirs:
                self.peer_bad[name] = key
                self.say_once(f"cfg-{name}-{key}", lang.msg("w_peer_cfg", peer=name, what=key,
                                                             theirs=theirs if key != "dmmal.ini" else "...",
                                                             mine=mine if key != "dmmal.ini" else "..."))
                return
        self.peer_bad.pop(name, None)
        msg["_seen"] = time.monotonic()
        self.peers[name] = msg

    def live_peers(self) -> dict[str, dict]:
        now = time.monotonic()
        return {n: p for n, p in self.peers.items() if now - p["_seen"] < self.cfg.dw_error_time}

    def _dial_peers(self) -> None:
        for m in self.mal.insts:
            if m.name.upper() == self.me.name.upper():
                continue
            c = self.peer_out.get(m.name)
            if c is not None and not c.closed:
                if c.silent_for(since=self.heard().get(m.name.upper(), 0.0)) < self.cfg.dw_error_time:
                    continue
                c.close()                            # the peer went silent: redial (its end may be gone)
            try:
                c = protocol.dial(m.host, m.dw_port, timeout=1.0, src=self.me.host, name=f"dw->{m.name}")
                c.start()
                c.send({"op": "hello", "kind": "watcher", "name": self.inst_name})
                c.send(self.wmsg())
                self.peer_out[m.name] = c
            except protocol.LinkError:
                pass

    def _inst_link(self) -> None:
        c = self.inst_conn
        if c is None or c.closed:
            if c is not None:
                self.inst_conn = None
                self.link_down_since = time.monotonic()
            if time.monotonic() - self.oguid_refused_at < 2.0:
                return
            try:
                c = protocol.dial(self.me.host, self.me.inst_dw_port, timeout=1.0, src=self.me.host,
                                  name="watcher->inst", on_push=self._on_push)
                c.start()
                st = c.request({"op": "hello"}, timeout=3.0)
            except (protocol.LinkError, DmError):
                self._maybe_restart()
                return
            if st.get("oguid") != self.cfg.inst_oguid and not bugs.active("watcher-ignores-oguid"):
                c.close()
                self.oguid_refused_at = time.monotonic()
                self.say_once(f"oguid-{st.get('oguid')}", lang.msg("w_oguid", cfg=self.cfg.inst_oguid,
                                                                   inst=st.get("oguid")))
                self.inst = {}
                return
            self._said = {k for k in self._said if not k.startswith("oguid-")}
            self.inst_conn = c
            self._take_status(st)
            return
        try:
            self._take_status(c.request({"op": "status"}, timeout=3.0))
        except protocol.LinkError:
            c.close()

    def _take_status(self, st: dict) -> None:
        st = {k: v for k, v in st.items() if k not in ("op", "rid", "ok")}
        self.inst = st
        self.inst_seen = time.monotonic()

    def _maybe_restart(self) -> None:
        if not (self.auto_restart and self.watching and not self.no_restart and self.cfg.inst_startup_cmd):
            return
        if time.monotonic() - self.link_down_since < 1.0 or time.monotonic() - self.last_restart < 5.0:
            return
        if is_running(os.path.join(self.sys_dir, "dmserver.lck")):
            return
        self.start_instance()

    def start_instance(self) -> None:
        cmd = shlex.split(self.cfg.inst_startup_cmd) + [self.cfg.inst_ini, "mount"]
        self.last_restart = time.monotonic()
        self.say(lang.msg("w_restart", name=self.inst_name, cmd=" ".join(cmd)))
        log = open(os.path.join(self.sys_dir, "dmserver_watcher.out"), "ab")
        try:
            subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, env=os.environ.copy())
        except OSError as e:
            self.say(f"{cmd[0]}: {e}")
        finally:
            log.close()

    # ---- instance commands ---------------------------------------------------------------
    def inst_req(self, msg: dict, timeout: float = 10.0) -> dict:
        c = self.inst_conn
        if c is None or c.closed:
            raise DmError(-6001, f"instance {self.inst_name} is not connected")
        r = c.request(msg, timeout=timeout)
        if not r.get("ok"):
            raise DmError(r.get("code", -1), r.get("error", "failed"))
        return r

    def exec_sql(self, sql: str) -> None:
        self.inst_req({"op": "exec", "sql": sql})
        self._inst_link()

    def set_arch(self, dest: str, status: str) -> None:
        self.inst_req({"op": "set_arch", "dest": dest, "status": status})


__all__ = ["WatcherLinks"]
