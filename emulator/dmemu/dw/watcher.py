"""dmwatcher <dmwatcher.ini>: watches the local instance, talks to peer watchers and monitors.

Links (emulator/ARCHITECTURE.md): to its instance on MAL_HOST:MAL_INST_DW_PORT (agent.py), to every
peer watcher on MAL_HOST:MAL_DW_PORT, and it listens on its own MAL_DW_PORT for peers and monitors.
Every ~0.5 s it pushes its status message (the row a monitor prints) to peers and monitors.

Automatic behaviour (no monitor needed, as in DM8): open the mounted instances, primary first (only
once every peer is seen, or when it was open before and nobody replaced it); open a standby once its
primary reports its archive VALID; on a REALTIME send failure set the archive INVALID and reopen the
suspended primary (in DW_MODE AUTO only once the confirm monitor has confirmed the standby's
failure: watcher state CONFIRM, reference §3.3, §4.4); after INST_RECOVER_TIME re-synchronise a
returning standby; restart a dead instance when INST_AUTO_RESTART=1; refuse an instance whose OGUID differs from INST_OGUID; keep
dmwatcher.ctl and report SPLIT. Monitors drive switchover/takeover/open force step by step through
the primitive requests in `_on_request`.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

from .. import bugs, hostfaults, lang
from ..errors import DmError
from ..ini import load as load_ini
from ..instance import is_running
from . import protocol
from .config import WatcherConfig, build_from_argv, load_mal, load_watcher, mal_path_for
from .history import History, replaced_by, superseded

STATES = ("STARTUP", "OPEN", "RECOVERY", "SWITCHOVER", "TAKEOVER", "OPENFORCE", "FAILOVER", "CONFIRM",
          "SHUTDOWN", "ERROR")
PUSH_INTERVAL = 0.5
CONFIRM_INTERVAL = 0.5          # how often a watcher in CONFIRM asks the confirm monitor again
CONFIRM_TIMEOUT = 2.0           # a confirm monitor that has not answered by then counts as no answer
MAX_MONITORS = 10
SYNC_TYPES = ("REALTIME", "TIMELY")   # archives the primary's watcher invalidates and recovers

# dwmon return codes (behaviour reference §4.2, G2)
DWMON_NOT_LOGIN = -5
DWMON_MULTI_CONFIRM_MON = -14
DWMON_REACH_TO_MAX_CONN = -19
DWMON_CMD_RUNNING = -8
DWMON_OGUID = -9

lang.register({
    "w_oguid": ("oguid({cfg}) configured in dmwatcher.ini not equal with local dmserver's oguid({inst}), "
                "cannot build connection!",
                "oguid({cfg}) configured in dmwatcher.ini not equal with local dmserver's oguid({inst}), "
                "cannot build connection!"),
    "w_ready": ("DMWATCHER[4.0] V8\nDMWATCHER[4.0] IS READY.", "DMWATCHER[4.0] V8\nDMWATCHER[4.0] IS READY."),
    "w_switch": ("守护进程({name})状态切换 [{frm}-->{to}]", "Dmwatcher process {name} status switching [{frm}-->{to}]"),
    "w_restart": ("实例{name}不存在, 执行INST_STARTUP_CMD重新启动: {cmd}",
                  "Instance {name} is not running, restart it with INST_STARTUP_CMD: {cmd}"),
    "w_open": ("打开实例{name}({mode})", "Open instance {name}({mode})"),
    "w_arch_invalid": ("设置实例{name}到{dest}的归档为无效状态: {why}",
                       "Set archive of instance {name} to {dest} INVALID: {why}"),
    "w_recover": ("开始恢复备库{dest}", "Start to recover standby {dest}"),
    "w_recover_ok": ("恢复备库{dest}成功, LSN[{lsn}]", "Recover standby {dest} success, LSN[{lsn}]"),
    "w_recover_fail": ("恢复备库{dest}失败: {why}", "Recover standby {dest} failed: {why}"),
    "w_split": ("检测到实例{name}已被{by}接管({kind}), 本地控制文件状态为SPLIT",
                "Instance {name} was replaced by {by} ({kind}): dmwatcher.ctl status SPLIT"),
    "w_peer_cfg": ("守护进程{peer}的{what}({theirs})与本地({mine})不一致, 不能组成守护组",
                   "Dmwatcher {peer}: {what}({theirs}) differs from the local one({mine}), the group cannot form"),
    "w_stop": ("守护进程退出, 通知实例{name}退出", "Dmwatcher exits, notify instance {name} to shut down"),
    "w_mon_oguid": ("监视器的OGUID({mon})与守护进程的OGUID({mine})不一致", "Monitor OGUID({mon}) differs from "
                    "the watcher's OGUID({mine})"),
    "w_multi_confirm": ("已经存在确认监视器, 不允许再连接确认监视器", "A confirm monitor is already connected"),
    "w_max_mon": ("监视器连接数已达上限", "Too many monitors connected"),
    "w_cmd_running": ("守护进程正在执行其他监视器命令", "The watcher is executing another monitor command"),
    "w_bad_ini": ("{why}", "{why}"),
    "w_confirm_ask": ("请求确认监视器确认备库{dest}故障", "Ask the confirm monitor to confirm the failure of standby {dest}"),
    "w_confirm_none": ("没有确认监视器应答, 主库保持挂起, 等待确认备库{dest}故障",
                       "No confirm monitor answers: the primary stays suspended until the failure of standby "
                       "{dest} is confirmed"),
    "w_confirm_ok": ("确认监视器已确认备库{dest}故障", "The confirm monitor confirmed the failure of standby {dest}"),
    "w_confirm_no": ("确认监视器不确认备库{dest}故障: {why}",
                     "The confirm monitor does not confirm the failure of standby {dest}: {why}"),
})


def now_str(ts: float | None = None) -> str:
    return _dt.datetime.fromtimestamp(ts or hostfaults.now()).strftime("%Y-%m-%d %H:%M:%S")


class Watcher:
    """One dmwatcher process."""

    def __init__(self, cfg: WatcherConfig, out=None):
        self.cfg = cfg
        self.out = out or sys.stdout
        if not os.path.isfile(cfg.inst_ini):
            raise DmError(-803, f"{cfg.path}: INST_INI = {cfg.inst_ini}: file not found")
        top = load_ini(cfg.inst_ini).top
        self.inst_name = top.get("INSTANCE_NAME", "DMSERVER")
        self.sys_dir = top.get("SYSTEM_PATH") or os.path.dirname(os.path.abspath(cfg.inst_ini))
        self.mal = load_mal(mal_path_for(cfg.inst_ini))
        me = self.mal.find(self.inst_name)
        if me is None:
            raise DmError(-803, f"{self.mal.path}: no [MAL_INSTn] with MAL_INST_NAME = {self.inst_name}")
        self.me = me
        self.wstatus = "STARTUP"
        self.wctlstat = "VALID"
        self.split_by: dict | None = None
        self.inst: dict = {}
        self.inst_seen = 0.0
        self.inst_conn: protocol.Conn | None = None
        self.peer_out: dict[str, protocol.Conn] = {}
        self.peers: dict[str, dict] = {}              # name -> last wmsg (+ "_seen")
        self.peer_bad: dict[str, str] = {}
        self.monitors: dict[protocol.Conn, dict] = {}
        self.cmd_owner: str | None = None
        self.cmd_lock = threading.Lock()
        self.watching = True
        self.no_restart = False
        self.auto_restart = cfg.inst_auto_restart
        self.recover_time = cfg.inst_recover_time
        self.ctl = History(os.path.join(self.sys_dir, "dmwatcher.ctl"))
        self.oguid_refused_at = 0.0
        self.was_open = False
        self.last_restart = 0.0
        self.link_down_since = time.monotonic()
        self.recover_since: dict[str, float] = {}
        self.recovering: set[str] = set()
        self.refused: list[str] | None = None         # senders the instance was told to refuse (split ones)
        self.confirming: dict[str, dict] = {}         # DEST -> lost standby awaiting the confirm monitor
        self._confirm_thread: threading.Thread | None = None
        self.mid = ""
        self._said: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.listener = protocol.Listener(me.host, me.dw_port, self._on_conn, name=f"dw-{me.name}",
                                          on_request=self._on_request, on_push=self._on_push,
                                          on_close=self._on_close, threaded=True)

    # ---- output --------------------------------------------------------------------------
    def say(self, text: str) -> None:
        for line in text.splitlines():
            self.out.write(f"[watcher] {now_str()}: {line}\n")
        self.out.flush()

    def say_once(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.say(text)

    def set_wstatus(self, to: str) -> str:
        frm = self.wstatus
        if frm != to:
            self.wstatus = to
            self.say(lang.msg("w_switch", name=self.inst_name, frm=frm, to=to))
            self.push_all()
        return frm

    # ---- status message ------------------------------------------------------------------
    def inst_ok(self) -> str:
        fresh = self.inst and time.monotonic() - self.inst_seen < self.cfg.inst_error_time
        alive = self.inst_conn is not None and not self.inst_conn.closed
        return "OK" if fresh and (alive or time.monotonic() - self.inst_seen < 1.0) else "ERROR"

    def wmsg(self) -> dict:
        c = self.cfg
        return {"op": "wmsg", "name": self.inst_name, "group": c.group, "dw_ip": self.me.host,
                "dw_port": self.me.dw_port, "wtime": hostfaults.now(), "wtype": c.dw_type, "wstatus": self.wstatus,
                "wctlstat": self.wctlstat, "inst_ok": self.inst_ok(), "inst": dict(self.inst),
                "dw_mode": c.dw_mode, "dw_error_time": c.dw_error_time, "inst_error_time": c.inst_error_time,
                "inst_recover_time": self.recover_time, "auto_restart": self.auto_restart,
                "oguid": c.inst_oguid, "history": list(self.ctl.entries), "digest": self.mal.digest,
                "watching": self.watching, "split_by": self.split_by, "mid": self.mid,
                "config": {k: v for k, v in c.items.items()}, "inst_ini": c.inst_ini,
                "inst_host": self.me.inst_host, "inst_port": self.me.inst_port,
                "n_monitors": len(self.monitors), "peer_links": self.peer_links(),
                "monitors": [dict(m) for m in list(self.monitors.values())]}

    def peer_links(self) -> dict[str, dict]:
        """This watcher's view of each peer, for the confirm monitor (reference §3.3, §4.4): `dw_age` is
        the seconds since the peer's watcher was last heard (None: never), `mal` the state of the local
        instance's MAL link to that peer (CONNECTED/DISCONNECTED; None while the instance is not OK)."""
        now = time.monotonic()
        heard = self.heard()
        inst_links = (self.inst.get("links") or {}) if self.inst_ok() == "OK" else {}
        links = {n.upper(): st for n, st in inst_links.items()}
        out = {}
        for m in self.mal.insts:
            key = m.name.upper()
            if key == self.me.name.upper():
                continue
            seen = heard.get(key)
            out[m.name] = {"dw_age": None if seen is None else round(now - seen, 2), "mal": links.get(key)}
        return out

    def heard(self) -> dict[str, float]:
        """When each peer's watcher was last heard (monotonic), by upper-case instance name."""
        return {n.upper(): p["_seen"] for n, p in list(self.peers.items())}

    def push_all(self) -> None:
        msg = self.wmsg()
        # Best effort with a short bound: a black-holed peer or monitor must not stall a command
        # (e.g. TAKEOVER's set_arch); the link is dropped and redialled by the loop (§7.2).
        stall = min(0.5, max(0.1, self.cfg.dw_error_time / 6))
        for c in list(self.peer_out.values()) + list(self.monitors):
            try:
                c.send(msg, stall=stall)
            except protocol.LinkError:
                pass
        if self.inst_conn is not None and not self.inst_conn.closed:
            try:
                self.inst_conn.send({"op": "winfo", "group": self.cfg.group, "dw_mode": self.cfg.dw_mode,
                                     "wstatus": self.wstatus, "wctlstat": self.wctlstat,
                                     "auto_restart": self.auto_restart,
                                     "monitors": [dict(m) for m in self.monitors.values()]})
            except protocol.LinkError:
                pass

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

    def _handle_send_failed(self, msg: dict) -> None:
        """Primary could not ship redo (§5.2 step 5): the standby is lost."""
        self._lost_standby(msg["dest"], str(msg.get("error")))

    def _lost_standby(self, dest: str, why: str) -> None:
        """MANUAL: invalidate the standby's archive now. AUTO: first the confirm monitor must confirm the
        failure (reference §3.3, §4.4: protection against a network split), so go to CONFIRM and ask it
        until it does; the suspended primary stays suspended meanwhile."""
        if self.cfg.dw_mode != "AUTO":
            self._invalidate(dest, why)
            return
        with self._lock:
            if dest.upper() not in self.confirming:
                self.confirming[dest.upper()] = {"dest": dest, "why": why, "asked": False, "silent": False,
                                                 "refused": None}
            self.set_wstatus("CONFIRM")
            if self._confirm_thread is None:
                self._confirm_thread = threading.Thread(target=self._confirm_loop, name="dw-confirm", daemon=True)
                self._confirm_thread.start()

    def _invalidate(self, dest: str, why: str) -> None:
        """Set the lost standby's REALTIME archive INVALID and reopen a suspended primary."""
        with self._lock:
            try:
                self.say(lang.msg("w_arch_invalid", name=self.inst_name, dest=dest, why=why))
                self.set_arch(dest, "INVALID")
                self.recover_since.pop(dest.upper(), None)
                self._inst_link()
                self._reopen_suspended()
            except (DmError, protocol.LinkError) as e:
                self.say(str(e))

    def _reopen_suspended(self) -> None:
        if self.inst.get("status") == "SUSPEND":
            self.exec_sql("ALTER DATABASE OPEN")

    def _confirm_loop(self) -> None:
        """CONFIRM: ask a connected confirm monitor every CONFIRM_INTERVAL until each lost standby is
        confirmed (then invalidate) or no longer needs it (archive already INVALID, instance not an
        open or suspended PRIMARY any more)."""
        while not self._stop.is_set():
            with self._lock:
                if not self.confirming:
                    self._confirm_thread = None
                    return
                pending = list(self.confirming.values())
            i = self.inst
            if self.inst_ok() != "OK" or i.get("mode") != "PRIMARY" or i.get("status") not in ("OPEN", "SUSPEND"):
                with self._lock:
                    self.confirming.clear()
                continue
            for e in pending:
                arch = next((a for a in i.get("arch", []) if a["dest"].upper() == e["dest"].upper()), None)
                if arch is None or arch["status"] != "VALID":
                    with self._lock:
                        self.confirming.pop(e["dest"].upper(), None)
                        try:
                            self._reopen_suspended()
                        except (DmError, protocol.LinkError) as err:
                            self.say(str(err))
                elif self._ask_confirm(e):
                    with self._lock:
                        self.confirming.pop(e["dest"].upper(), None)
                    self._invalidate(e["dest"], e["why"])
            self._stop.wait(CONFIRM_INTERVAL)

    def _ask_confirm(self, e: dict) -> bool:
        """One round: True when a connected confirm monitor confirms the failure of standby e["dest"]."""
        if self.wctlstat == "SPLIT":
            return False
        mons = [c for c, m in list(self.monitors.items()) if m["confirm"] and not c.closed]
        answer = None
        if mons:
            if not e["asked"]:
                e["asked"] = True
                self.say(lang.msg("w_confirm_ask", dest=e["dest"]))
            try:
                answer = mons[0].request({"op": "confirm", "group": self.cfg.group, "name": self.inst_name,
                                          "dest": e["dest"]}, timeout=CONFIRM_TIMEOUT)
            except protocol.LinkError:
                answer = None
        if answer is None or not answer.get("ok"):
            if not e["silent"]:
                e["silent"] = True
                self.say(lang.msg("w_confirm_none", dest=e["dest"]))
            return False
        if answer.get("confirmed"):
            self.say(lang.msg("w_confirm_ok", dest=e["dest"]))
            return True
        if e["refused"] != answer.get("why"):
            e["refused"] = answer.get("why")
            self.say(lang.msg("w_confirm_no", dest=e["dest"], why=answer.get("why")))
        return False

    # ---- the automatic loop ----------------------------------------------------------------
    def run(self) -> None:
        self.say(lang.msg("w_ready"))
        threading.Thread(target=self._pusher, name="dw-push", daemon=True).start()
        while not self._stop.is_set():
            try:
                self._inst_link()
                self._dial_peers()
                self.step()
            except (DmError, protocol.LinkError) as e:
                self.say(str(e))
            self._stop.wait(0.2)

    def _pusher(self) -> None:
        """Status messages keep flowing even while the instance is slow to answer."""
        while not self._stop.wait(PUSH_INTERVAL):
            try:
                self.push_all()
            except Exception as e:                      # noqa: BLE001 - never stop the heartbeat
                self.say(f"push: {e}")

    def busy(self) -> bool:
        return self.cmd_owner is not None or self.wstatus in ("SWITCHOVER", "TAKEOVER", "OPENFORCE", "SHUTDOWN")

    def primary_peer(self) -> tuple[str, dict] | None:
        """The live PRIMARY OPEN peer this standby follows: never one marked SPLIT, nor one our own history
        (adopted from the primary we followed) says was replaced while it was cut off."""
        for n, p in self.live_peers().items():
            i = p.get("inst") or {}
            if i.get("mode") == "PRIMARY" and i.get("status") == "OPEN" and p.get("inst_ok") == "OK" \
                    and p.get("wctlstat") != "SPLIT" and not self._split_from_us(n, p):
                return n, p
        return None

    def _split_from_us(self, name: str, peer: dict) -> dict | None:
        return superseded(name, peer.get("history") or [], self.ctl.entries)

    def _refuse_split_senders(self) -> None:
        """Reference 3.5 (B17, B18): a split instance is not let back into the group. Tell the standby
        instance which peers our history says were replaced, so it takes no redo (real-time, recovery or
        ASYNC) from them until they are rebuilt and follow the group's history again."""
        names = sorted(n.upper() for n, p in self.live_peers().items() if self._split_from_us(n, p))
        if bugs.active("standby-takes-split-redo"):
            names = []
        if names != self.refused:
            self.inst_req({"op": "refuse_senders", "names": names})
            self.refused = names

    def step(self) -> None:
        """One pass of the watcher's automatic decisions."""
        with self._lock:
            self._check_split()
            if not self.watching or self.busy():
                return
            i = self.inst
            if not i or self.inst_ok() != "OK":
                self.refused = None                   # a restarted instance has to be told again
                if self.wstatus in ("OPEN", "RECOVERY", "CONFIRM"):
                    self.set_wstatus("STARTUP")
                return
            mode, status = i.get("mode"), i.get("status")
            if mode == "PRIMARY":
                self._step_primary(status)
            elif mode == "STANDBY":
                self._step_standby(status)
            elif status == "OPEN" and self.wstatus != "OPEN":
                self.set_wstatus("OPEN")

    def _check_split(self) -> None:
        if self.inst.get("mode") != "PRIMARY":
            if self.wctlstat == "SPLIT" and self.inst:
                self.wctlstat, self.split_by = "VALID", None
            return
        for p in self.peers.values():
            e = replaced_by(self.ctl, self.inst_name, p.get("history") or [])
            if e is not None:
                if self.wctlstat != "SPLIT":
                    self.say(lang.msg("w_split", name=self.inst_name, by=e["db_name"], kind=e["kind"]))
                self.wctlstat, self.split_by = "SPLIT", e
                return

    def _step_primary(self, status: str) -> None:
        live = self.live_peers()
        if status == "MOUNT":
            if self.wctlstat == "SPLIT" or self.primary_peer() is not None:
                return
            for p in live.values():
                if replaced_by(self.ctl, self.inst_name, p.get("history") or []):
                    return
            others = [m.name for m in self.mal.insts if m.name.upper() != self.me.name.upper()]
            if not (all(n in live for n in others) or self.was_open):
                return
            self._open_primary("OPEN" if not self.ctl.entries else None)
            return
        if self.confirming:
            if self.wstatus != "CONFIRM":
                self.set_wstatus("CONFIRM")
            return
        if status == "SUSPEND":
            return
        if status == "OPEN":
            if self.wstatus != "OPEN":
                self.set_wstatus("OPEN")
            self.was_open = True
            self._watch_standbys(live)

    def _open_primary(self, history_kind: str | None) -> None:
        """Primary first: set each REALTIME archive VALID only for a connected standby in step, then OPEN."""
        live = self.live_peers()
        for a in self.inst.get("arch", []):
            if a["type"] not in SYNC_TYPES:
                continue
            p = live.get(a["dest"]) or next((q for n, q in live.items() if n.upper() == a["dest"].upper()), None)
            ok = p is not None and (p.get("inst") or {}).get("mode") == "STANDBY" \
                and (p.get("inst") or {}).get("clsn") == self.inst.get("clsn")
            self.set_arch(a["dest"], "VALID" if ok else "INVALID")
        self.say(lang.msg("w_open", name=self.inst_name, mode="PRIMARY"))
        self.exec_sql("ALTER DATABASE OPEN")
        if history_kind:
            self.ctl.add(history_kind, self.inst_name, None, self.inst.get("dbmagic", 0))
        self.was_open = True
        self.set_wstatus("OPEN")

    def _watch_standbys(self, live: dict[str, dict]) -> None:
        """Invalidate lost standbys; recover returning ones after INST_RECOVER_TIME."""
        now = time.monotonic()
        for a in self.inst.get("arch", []):
            if a["type"] not in SYNC_TYPES:
                continue                             # ASYNC destinations follow their timer (asyncarch.py)
            dest = a["dest"].upper()
            p = next((q for n, q in live.items() if n.upper() == dest), None)
            pi = (p or {}).get("inst") or {}
            if a["status"] == "VALID":
                if p is None and not bugs.active("no-suspend-on-send-failure"):
                    self._lost_standby(a["dest"], "DW_ERROR_TIME")
                self.recover_since.pop(dest, None)
                continue
            healthy = p is not None and p.get("inst_ok") == "OK" and pi.get("mode") == "STANDBY" \
                and pi.get("status") in ("MOUNT", "OPEN") and p.get("wstatus") in ("STARTUP", "OPEN", "RECOVERY") \
                and p.get("watching", True) and int(pi.get("clsn", 0)) <= int(self.inst.get("clsn", 0))
            if not healthy:
                self.recover_since.pop(dest, None)
                continue
            since = self.recover_since.setdefault(dest, now)
            if now - since >= self.recover_time and dest not in self.recovering:
                self.recovering.add(dest)
                threading.Thread(target=self._recover, args=(a["dest"],), daemon=True).start()

    def _recover(self, dest: str) -> None:
        try:
            self.say(lang.msg("w_recover", dest=dest))
            r = self.inst_req({"op": "recover", "dest": dest}, timeout=600)
            self.say(lang.msg("w_recover_ok", dest=dest, lsn=r.get("lsn")))
        except (DmError, protocol.LinkError) as e:
            self.say(lang.msg("w_recover_fail", dest=dest, why=str(e)))
        finally:
            self.recover_since.pop(dest.upper(), None)
            self.recovering.discard(dest.upper())

    def _step_standby(self, status: str) -> None:
        self._refuse_split_senders()
        pp = self.primary_peer()
        my_rstat = None
        if pp is not None:
            for a in (pp[1].get("inst") or {}).get("arch", []):
                if a["dest"].upper() == self.inst_name.upper() and a["type"] in (*SYNC_TYPES, "ASYNC"):
                    my_rstat = a["status"]
        if status == "MOUNT":
            if my_rstat == "VALID":
                self.say(lang.msg("w_open", name=self.inst_name, mode="STANDBY"))
                self.exec_sql("ALTER DATABASE OPEN")
                self.set_wstatus("OPEN")
            elif my_rstat == "INVALID" and self.wstatus != "RECOVERY":
                self.set_wstatus("RECOVERY")
            return
        if status == "OPEN":
            if my_rstat == "VALID":
                self.ctl.adopt(pp[1].get("history") or [])
                n = (pp[1].get("inst") or {}).get("n_open")
                if n is not None and n != self.inst.get("n_open"):
                    self.inst_req({"op": "n_open", "n": n})
            want = "RECOVERY" if my_rstat == "INVALID" else "OPEN"
            if self.wstatus != want:
                self.set_wstatus(want)

    # ---- requests from monitors ----------------------------------------------------------
    def _on_request(self, conn: protocol.Conn, msg: dict) -> dict:
        op = msg.get("op")
        if op == "mon_hello":
            return self._mon_hello(conn, msg)
        mon = self.monitors.get(conn)
        if mon is None:
            return {"ok": False, "code": DWMON_NOT_LOGIN, "error": "hello first"}
        if op == "status":
            return {"ok": True, "wmsg": self.wmsg()}
        if op == "login":
            r = self.inst_req({"op": "login", "user": msg["user"], "pwd": msg["pwd"]})
            return {"ok": bool(r.get("ok"))}
        if op == "lock":
            with self._lock:
                if self.cmd_owner not in (None, mon["id"]) and not bugs.active("monitor-commands-overlap"):
                    return {"ok": False, "code": DWMON_CMD_RUNNING, "error": lang.msg("w_cmd_running")}
                self.cmd_owner = mon["id"]
            return {"ok": True}
        if op == "unlock":
            with self._lock:
                if self.cmd_owner == mon["id"]:
                    self.cmd_owner = None
            return {"ok": True}
        if op == "wstatus":
            return {"ok": True, "from": self.set_wstatus(msg["to"])}
        if op == "exec":
            self.exec_sql(msg["sql"])
            self.push_all()
            return {"ok": True}
        if op == "set_arch":
            self.set_arch(msg["dest"], msg["status"])
            self._inst_link()
            self.push_all()
            return {"ok": True}
        if op == "history_add":
            e = self.ctl.add(msg["kind"], self.inst_name, msg.get("parent"), self.inst.get("dbmagic", 0))
            self.wctlstat, self.split_by = "VALID", None
            self.was_open = True
            self.push_all()
            return {"ok": True, "entry": e}
        if op == "stop_inst":
            self.no_restart = True
            self.was_open = False
            self.set_wstatus("SHUTDOWN")
            self.inst_req({"op": "shutdown"})
            return {"ok": True}
        if op == "kill_inst":
            self.no_restart = True
            self.was_open = False
            self.set_wstatus("SHUTDOWN")
            self.inst_req({"op": "kill"})
            return {"ok": True}
        if op == "start_inst":
            self.no_restart = False
            self.watching = True
            if self.wstatus == "SHUTDOWN":
                self.set_wstatus("STARTUP")
            if not is_running(os.path.join(self.sys_dir, "dmserver.lck")):
                if not self.cfg.inst_startup_cmd:
                    return {"ok": False, "code": -27, "error": "INST_STARTUP_CMD not configured"}
                self.start_instance()
            return {"ok": True}
        if op == "watch":
            self.watching = bool(msg["on"])
            if self.watching and self.wstatus == "SHUTDOWN":
                self.set_wstatus("STARTUP")
            self.push_all()
            return {"ok": True}
        if op == "set_mid":
            self.mid = str(msg.get("mid", ""))
            return {"ok": True}
        if op == "set_para":
            return self._set_para(msg["name"], msg["value"])
        if op == "recover":
            dest = msg["dest"]
            if dest.upper() in self.recovering:
                return {"ok": False, "code": -20, "error": "recovery already running"}
            self.recover_since[dest.upper()] = time.monotonic() - self.recover_time
            return {"ok": True}
        return {"ok": False, "code": -1, "error": f"unknown op {op}"}

    def _set_para(self, name: str, value: str) -> dict:
        name = name.upper()
        if name == "INST_AUTO_RESTART":
            self.auto_restart = int(value)
        elif name == "INST_RECOVER_TIME":
            self.recover_time = int(value)
        else:
            return {"ok": False, "code": -1, "error": f"unsupported parameter {name}"}
        _rewrite_group_key(self.cfg.path, name, value)
        self.push_all()
        return {"ok": True}

    def _mon_hello(self, conn: protocol.Conn, msg: dict) -> dict:
        with self._lock:
            if int(msg.get("oguid", -1)) != self.cfg.inst_oguid:
                return {"ok": False, "code": DWMON_OGUID,
                        "error": lang.msg("w_mon_oguid", mon=msg.get("oguid"), mine=self.cfg.inst_oguid)}
            for old in [c for c, m in self.monitors.items() if m["id"] == msg.get("id")]:
                self.monitors.pop(old, None)          # the same monitor dialling again: its old link is dead
                old.close()
            if msg.get("confirm") and any(m["confirm"] for m in self.monitors.values()) \
                    and not bugs.active("second-confirm-monitor-accepted"):
                return {"ok": False, "code": DWMON_MULTI_CONFIRM_MON, "error": lang.msg("w_multi_confirm")}
            if len(self.monitors) >= MAX_MONITORS:
                return {"ok": False, "code": DWMON_REACH_TO_MAX_CONN, "error": lang.msg("w_max_mon")}
            self.monitors[conn] = {"id": msg.get("id"), "ip": conn.src, "confirm": bool(msg.get("confirm")),
                                   "since": time.time(), "mid": self.mid}
        return {"ok": True, "wmsg": self.wmsg()}

    # ---- stop ------------------------------------------------------------------------------
    def stop(self, stop_instance: bool = True) -> None:
        """Watcher exit stops its instance (seed §3: stopping the watcher also stops dmserver)."""
        self._stop.set()
        if stop_instance and self.inst_conn is not None and not self.inst_conn.closed:
            self.say(lang.msg("w_stop", name=self.inst_name))
            try:
                self.inst_conn.request({"op": "shutdown"}, timeout=5)
            except protocol.LinkError:
                pass
            lck = os.path.join(self.sys_dir, "dmserver.lck")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and is_running(lck):
                time.sleep(0.1)
        self.listener.stop()
        for c in list(self.peer_out.values()) + list(self.monitors):
            c.close()


def _rewrite_group_key(path: str, key: str, value: str) -> None:
    """Set KEY = value inside the group section of dmwatcher.ini (memory and file, as DM8 does)."""
    from ..storage import write_atomic
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out, done = [], False
    for line in lines:
        k = line.split("=", 1)[0].strip().upper() if "=" in line and not line.lstrip().startswith("#") else None
        if k == key and not done:
            out.append(f"{key} = {value}")
            done = True
        else:
            out.append(line)
    if not done:
        out.append(f"{key} = {value}")
    write_atomic(path, ("\n".join(out) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    """Console entry point: dmwatcher <dmwatcher.ini>."""
    w = build_from_argv(argv, "dmwatcher", lambda path: Watcher(load_watcher(path)))
    if w is None:
        return 1
    done = threading.Event()

    def _term(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    while not done.wait(0.5):
        pass
    w.stop(stop_instance=not bugs.active("watcher-stop-leaves-instance"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
