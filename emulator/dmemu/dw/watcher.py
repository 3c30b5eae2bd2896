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

Here: the watcher's state, console output, status message, loops and stop. Its links and instance
commands are in watchlinks.py, the automatic state machine in watchsteps.py, the lost-standby and
confirm-monitor decisions in confirm.py, the monitors' requests in watchrequests.py (mixins of Watcher).
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import sys
import threading
import time

from .. import bugs, hostfaults, lang
from ..errors import DmError
from ..ini import load as load_ini
from ..instance import is_running
from . import protocol
from .config import WatcherConfig, build_from_argv, load_mal, load_watcher, mal_path_for
from .confirm import WatcherConfirm
from .history import History
from .watchlinks import WatcherLinks
from .watchrequests import WatcherRequests
from .watchsteps import WatcherSteps

STATES = ("STARTUP", "OPEN", "RECOVERY", "SWITCHOVER", "TAKEOVER", "OPENFORCE", "FAILOVER", "CONFIRM",
          "SHUTDOWN", "ERROR")
PUSH_INTERVAL = 0.5

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


class Watcher(WatcherLinks, WatcherConfirm, WatcherSteps, WatcherRequests):
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
