"""MAL: the instance-to-instance links of a Data Watch group (runs inside dmserver when MAL_INI=1).

Primary side: `send(rec)` is the instance's realtime_sender. It ships each RLOG_PKG to every VALID
REALTIME destination before the instance writes its own online log, and waits for the ack. On a send
failure the primary goes SUSPEND and waits until its watcher has set the archive INVALID and reopened
it (DM8: "the primary tries to enter SUSPEND ... the watcher sets the archive INVALID and reopens
the primary"). Each VALID REALTIME destination gets the package in turn; a failed one is invalidated
and the others still receive it. TIMELY destinations get it after the local flush (`send_timely`).
`resync.recover` re-sends history redo to a returning standby; ASYNC destinations are served by
`asyncarch.py` on their timer.

Standby side: each package is checked (OGUID, equal PERMANENT_MAGIC, different DB_MAGIC, OPEN
STANDBY, LSN continuity); the newest is kept in KEEP_BUF, the one before is applied, then the ack.
KEEP_BUF is applied by the next package, by SP_APPLY_KEEP_PKG(), or by the primary's idle flush
notice (DMEMU_KEEP_FLUSH_INTERVAL, default 1 s; it stands for the checkpoint redo DM8 keeps shipping).
"""

from __future__ import annotations

import collections
import os
import queue
import threading
import time

from .. import anomalies, bugs, lang
from ..api import RedoRecord
from ..errors import DmError
from . import protocol
from .config import MalConfig, MalInst

lang.register({
    "mal_oguid": ("OGUID不一致: 主库oguid({theirs}), 本地oguid({mine}), 拒绝接收日志",
                  "OGUID mismatch: primary oguid({theirs}) not equal with local oguid({mine}), redo refused"),
    "mal_pmagic": ("永久魔数不一致: 主库permanent_magic({theirs}), 本地permanent_magic({mine}), 拒绝接收日志",
                   "PERMANENT_MAGIC mismatch: primary({theirs}) local({mine}), redo refused"),
    "mal_dbmagic": ("数据库魔数相同(db_magic={mine}), 备库必须执行 RECOVER DATABASE ... UPDATE DB_MAGIC",
                    "DB_MAGIC is the same on both instances ({mine}); run RECOVER DATABASE ... UPDATE DB_MAGIC "
                    "on the standby"),
    "mal_lsn_gap": ("日志不连续: 期望LSN[{want}], 收到LSN[{got}]",
                    "Redo not consecutive: expected LSN[{want}], received LSN[{got}]"),
    "mal_not_standby": ("实例{name}不是OPEN状态的备库(模式{mode}, 状态{status}), 拒绝接收日志",
                        "Instance {name} is not an OPEN standby (mode {mode}, status {status}), redo refused"),
    "mal_ini_diff": ("实例{peer}的dmmal.ini与本地不一致, 拒绝建立MAL链路",
                     "dmmal.ini of instance {peer} differs from the local one, MAL link refused"),
    "mal_no_dest": ("MAL中找不到实例[{name}]", "Instance [{name}] not found in dmmal.ini"),
    "mal_split_sender": ("实例{peer}已被接管(分裂), 拒绝接收其日志",
                         "Instance {peer} was replaced by a takeover (split), its redo refused"),
    "mal_send_fail": ("发送归档日志到{dest}失败: {why}", "Send redo to {dest} failed: {why}"),
})

ERR_OGUID = -6110
ERR_PMAGIC = -6111
ERR_DBMAGIC = -6112
ERR_LSN_GAP = -6113
ERR_NOT_STANDBY = -6114
ERR_MAL_INI = -6115
ERR_SEND = -6116
ERR_SPLIT = -6118                  # emulator code: DM8's for a split sender is not known

SYNC_TYPES = ("REALTIME", "TIMELY")
LATE_SEND_S = 1.0                      # commit-waits-first-standby: delay before the other standbys get it
RENOTIFY_S = 1.0                       # a send failure the watcher has not acted on is told again this often
SKIP_EVERY = 3                         # standby-skips-redo: every 3rd realtime package is dropped


def _err(code: int, key: str, **fmt: object) -> DmError:
    return DmError(code, lang.msg(key, **fmt))


class Pkg:
    """A received RLOG_PKG: header fields checked on arrival, the body decoded only when applied."""

    __slots__ = ("lsn_lo", "lsn_hi", "oguid", "permanent_magic", "db_magic", "blob")

    def __init__(self, hdr: tuple, blob: bytes):
        self.lsn_lo, self.lsn_hi, self.oguid, self.permanent_magic, self.db_magic = hdr
        self.blob = blob

    @staticmethod
    def header(rec: RedoRecord) -> tuple:
        return (rec.lsn_lo, rec.lsn_hi, rec.oguid, rec.permanent_magic, rec.db_magic)

    def record(self) -> RedoRecord:
        return RedoRecord.decode(self.blob)


class SendStat:
    """Per-destination numbers behind V$ARCH_SEND_INFO and the monitor's `show arch send info`."""

    def __init__(self, dest: str):
        self.dest = dest
        self.max_send_lsn = 0
        self.last_send_lsn = 0
        self.last_code = 0
        self.last_desc = "SUCCESS"
        self.last_start = 0.0
        self.last_end = 0.0
        self.last_time = 0.0
        self.max_time = 0.0
        self.n_send = 0
        self.bytes = 0
        self.total_time = 0.0
        self.recover_time = 0.0
        self.recover_code = 0


class Mal:
    """The MAL endpoint of one instance (see module docstring)."""

    def __init__(self, inst, cfg: MalConfig, me: MalInst):
        self.inst = inst
        self.cfg = cfg
        self.me = me
        self.links: dict[str, protocol.Conn] = {}
        self.link_lock = threading.Lock()
        self.link_up: dict[str, float] = {}
        self.send_lock = threading.Lock()
        self.stats: dict[str, SendStat] = {}
        self.keep: Pkg | None = None
        self.apply_q: queue.Queue = queue.Queue()
        self.recv_hi = -1                  # highest LSN received (kept or applied); -1 = take cur_lsn
        self.synced = False                # a recovery caught us up: accept redo in MOUNT until opened
        self.n_recv = 0
        self.apply_lock = threading.RLock()
        self.applied_pkgs = 0
        self.last_apply = 0.0
        self.dw_status = 0                 # SP_SET_GLOBAL_DW_STATUS value (6 switchover, 7 takeover)
        self.notify = None                 # agent callback(msg) towards the watcher
        self.refused: set[str] = set()     # senders our watcher says were replaced (split): no redo from them
        self._unflushed: dict[str, int] = {}
        self._last_send = 0.0
        self._stop = threading.Event()
        self.flush_interval = float(os.environ.get("DMEMU_KEEP_FLUSH_INTERVAL", "1.0"))
        self._async_q: queue.Queue | None = None
        self.recent = collections.deque(maxlen=64)
        self.discard = False               # takeover-lost-update: the apply queue is being thrown away
        self.release = False               # takeover-lost-update: apply everything held (queue drained)
        self.listener = protocol.Listener(me.host, me.port, self._on_conn, name=f"mal-{me.name}",
                                          on_request=self._on_request, on_push=self._on_push)
        threading.Thread(target=self._checker, name="mal-check", daemon=True).start()
        threading.Thread(target=self._applier, name="mal-apply", daemon=True).start()
        self.shipper = None                # asyncarch.AsyncShipper: the ASYNC timer task (set by agent.start)
        self._late_q: queue.Queue = queue.Queue()
        if bugs.active("commit-waits-first-standby"):
            threading.Thread(target=self._late_sender, name="mal-late", daemon=True).start()
        if bugs.active("commit-before-send"):
            self._async_q = queue.Queue()
            threading.Thread(target=self._async_sender, name="mal-async", daemon=True).start()

    # ---- links ---------------------------------------------------------------------------
    def _on_conn(self, conn: protocol.Conn) -> None:
        conn.info["peer"] = None

    def link(self, name: str, timeout: float | None = None) -> protocol.Conn:
        """The outgoing link to instance `name`, dialled (and checked by a hello) when needed."""
        with self.link_lock:
            c = self.links.get(name.upper())
            if c is not None and not c.closed:
                return c
            peer = self.cfg.find(name)
            if peer is None:
                raise _err(ERR_SEND, "mal_no_dest", name=name)
            t = timeout or float(self.cfg.conn_fail_interval)
            key = name.upper()
            c = protocol.dial(peer.host, peer.port, timeout=t, src=self.me.host, name=f"mal->{name}",
                              on_close=lambda _c: self.link_up.pop(key, None))
            c.start()
            try:
                r = c.request({"op": "hello", "name": self.me.name, "digest": self.cfg.digest,
                               "magic": self.me.link_magic}, timeout=t)
            except protocol.LinkError:
                c.close()
                raise
            if not r.get("ok"):
                c.close()
                raise DmError(r.get("code", ERR_MAL_INI), r.get("error", "refused"))
            self.links[name.upper()] = c
            self.link_up[name.upper()] = time.time()
            return c

    def link_status(self) -> dict[str, str]:
        out = {}
        for m in self.cfg.insts:
            if m.name.upper() == self.me.name.upper():
                continue
            c = self.links.get(m.name.upper())
            out[m.name] = "CONNECTED" if c is not None and not c.closed else "DISCONNECTED"
        return out

    def _checker(self) -> None:
        """Every MAL_CHECK_INTERVAL (quicker while a link is down) keep the links to the peers up;
        send the idle KEEP_BUF flush notice."""
        next_check = 0.0
        while not self._stop.wait(0.1):
            now = time.monotonic()
            if now >= next_check:
                down = False
                for m in self.cfg.insts:
                    if m.name.upper() == self.me.name.upper():
                        continue
                    try:
                        c = self.link(m.name, timeout=min(2.0, float(self.cfg.conn_fail_interval)))
                        c.send({"op": "ping"})
                    except (protocol.LinkError, DmError):
                        down = True
                next_check = now + (min(1.0, self.cfg.check_interval) if down else self.cfg.check_interval)
            if self._unflushed and time.time() - self._last_send >= self.flush_interval \
                    and self.inst.status == "OPEN" and self.dw_status == 0:
                with self.send_lock:
                    durable = int(getattr(self.inst, "file_lsn", 0))
                    for dest, lsn in list(self._unflushed.items()):
                        if lsn > durable:
                            continue                 # not in our own log yet: a crash now must not keep it
                        try:
                            self.links[dest.upper()].send({"op": "flush", "lsn": lsn})
                        except (KeyError, protocol.LinkError):
                            pass
                        self._unflushed.pop(dest, None)

    def stop(self) -> None:
        self._stop.set()
        if self.shipper is not None:
            self.shipper.stop()
        self.listener.stop()
        for c in list(self.links.values()):
            c.close()

    # ---- primary: realtime send ----------------------------------------------------------
    def realtime_dests(self, types: tuple[str, ...] = SYNC_TYPES) -> list[dict]:
        """The synchronous destinations (REALTIME and TIMELY; `types` narrows them)."""
        return [a for a in self.inst.arch if a["type"] in types]

    def send(self, rec: RedoRecord) -> None:
        """inst.realtime_sender: ship before the local flush to every VALID REALTIME destination and wait
        for each ack (see module doc); a failed one is invalidated while the others keep receiving."""
        self._send_to(rec, ("REALTIME",))

    def send_timely(self, rec: RedoRecord) -> None:
        """inst.timely_sender: TIMELY destinations get the package after the local flush (reference §5.1)."""
        self._send_to(rec, ("TIMELY",))

    def _send_to(self, rec: RedoRecord, types: tuple[str, ...]) -> None:
        if self.inst.mode != "PRIMARY":
            return                                   # a STANDBY forces REALTIME/TIMELY off (reference §5.1)
        if self._async_q is not None:               # seeded defect commit-before-send
            self._async_q.put(rec)
            return
        first_done = False
        for a in self.realtime_dests(types):
            if a["status"] != "VALID":
                continue
            if first_done and bugs.active("commit-waits-first-standby"):
                self._late_q.put((a, rec))           # seeded defect: the others get it after the ack
                continue
            try:
                self._send_one(a["dest"], rec)
                first_done = True
            except (protocol.LinkError, DmError) as e:
                self._send_failed(a, e)

    def _late_sender(self) -> None:
        """commit-waits-first-standby: ship to the other real-time standbys LATE_SEND_S after the ack."""
        while not self._stop.is_set():
            a, rec = self._late_q.get()
            time.sleep(max(0.0, rec.ts + LATE_SEND_S - time.time()))
            if a["status"] == "VALID":
                try:
                    self._send_one(a["dest"], rec)
                except (protocol.LinkError, DmError) as e:
                    self._record_fail(a["dest"], e)

    def _async_sender(self) -> None:
        while not self._stop.is_set():
            rec = self._async_q.get()
            time.sleep(0.05)
            for a in self.realtime_dests():
                if a["status"] == "VALID":
                    try:
                        self._send_one(a["dest"], rec)
                    except (protocol.LinkError, DmError) as e:
                        self._record_fail(a["dest"], e)
                        a["status"] = "INVALID"

    def _stat(self, dest: str) -> SendStat:
        return self.stats.setdefault(dest.upper(), SendStat(dest))

    def _send_one(self, dest: str, rec: RedoRecord) -> None:
        st = self._stat(dest)
        enc = getattr(self.inst, "encoded", None)      # the instance encoded it once for its own log
        blob = enc(rec) if enc is not None else rec.encode()
        with self.send_lock:
            c = self.link(dest)
            t0 = time.time()
            r = c.request({"op": "rlog", "hdr": Pkg.header(rec), "blob": blob},
                          timeout=max(1.0, float(self.cfg.conn_fail_interval)))
            self._unflushed[dest] = rec.lsn_hi
            self._last_send = time.time()
        if not r.get("ok"):
            raise DmError(r.get("code", ERR_SEND), r.get("error", "refused"))
        t1 = time.time()
        st.max_send_lsn = max(st.max_send_lsn, rec.lsn_hi)
        st.last_send_lsn = rec.lsn_hi
        st.last_code, st.last_desc = 0, "SUCCESS"
        st.last_start, st.last_end = t0, t1
        st.last_time = t1 - t0
        st.max_time = max(st.max_time, st.last_time)
        st.n_send += 1
        st.bytes += len(blob)
        st.total_time += st.last_time

    def _record_fail(self, dest: str, e: Exception) -> None:
        st = self._stat(dest)
        st.last_code = getattr(e, "code", ERR_SEND)
        st.last_desc = getattr(e, "message", str(e))
        st.last_start = st.last_end = time.time()
        self.recent.append(lang.msg("mal_send_fail", dest=dest, why=st.last_desc))

    def _send_failed(self, a: dict, e: Exception) -> None:
        """Send failure: SUSPEND and wait for the watcher to invalidate the archive and reopen us."""
        self._record_fail(a["dest"], e)
        if bugs.active("no-suspend-on-send-failure"):
            return
        inst = self.inst
        try:
            if inst.status == "OPEN":
                inst.set_status("SUSPEND")
        except DmError:
            pass
        told = 0.0
        while a["status"] == "VALID" or inst.status == "SUSPEND":
            if inst.status in ("SHUTDOWN", "MOUNT"):
                raise DmError(-6117, lang.msg("db_not_open", status=inst.status))
            if self.notify and a["status"] == "VALID" and time.monotonic() - told >= RENOTIFY_S:
                # told again while nothing happens: the watcher may have missed it (its link to us was
                # down, e.g. after a SIGSTOP of this process) or failed to act on it (we were unreachable)
                self.notify({"op": "send_failed", "dest": a["dest"], "code": getattr(e, "code", ERR_SEND),
                             "error": getattr(e, "message", str(e))})
                told = time.monotonic()
            time.sleep(0.05)

    # ---- standby: receive ------------------------------------------------------------------
    def _on_push(self, conn: protocol.Conn, msg: dict) -> None:
        if msg.get("op") == "flush":
            with self.apply_lock:
                if self.keep is not None and self.keep.lsn_hi <= int(msg["lsn"]):
                    self.apply_keep()

    def _on_request(self, conn: protocol.Conn, msg: dict) -> dict:
        op = msg.get("op")
        inst = self.inst
        if op == "hello":
            if msg.get("digest") != self.cfg.digest:
                return {"ok": False, "code": ERR_MAL_INI, "error": lang.msg("mal_ini_diff", peer=msg.get("name"))}
            conn.info["peer"] = msg.get("name")
            return {"ok": True, "name": self.me.name}
        if conn.info.get("peer") is None:
            return {"ok": False, "code": ERR_MAL_INI, "error": "hello first"}
        if str(conn.info["peer"]).upper() in self.refused and op in ("rlog", "lsn", "async_lsn", "recover"):
            return {"ok": False, "code": ERR_SPLIT, "error": lang.msg("mal_split_sender", peer=conn.info["peer"])}
        if op == "rlog":
            return self._receive(Pkg(msg["hdr"], msg["blob"]))
        if op == "lsn":
            # start of a recovery: KEEP_BUF is the one package the primary may never have logged (it
            # died between our ack and its own flush); drop it, the primary re-sends it if it has it
            with self.apply_lock:
                self.synced = False
                self.apply_keep(drop=True)
                self.recv_hi = -1
            return {"ok": True, "lsn": inst.cur_lsn}
        if op == "async_lsn":                        # an ASYNC sender asks where to start (no KEEP_BUF)
            return {"ok": True, "lsn": inst.cur_lsn}
        if op == "recover":
            with self.apply_lock:
                self._drain()
                return self._recover_batch(msg["blobs"])
        if op == "recovered":
            self.synced = True                       # in step: accept realtime redo even before OPEN
            n = int(msg.get("n_open", 0))
            if n and hasattr(inst, "ctl"):
                inst.ctl.update(n_open=n)
            return {"ok": True}
        return {"ok": False, "code": -1, "error": f"unknown MAL op {op}"}

    def _recover_batch(self, blobs: list[bytes]) -> dict:
        """Apply a batch of re-sent redo in one go (inst.apply_redo_batch): the records up to the first
        one that fails the identity or LSN-continuity check, then that check's error, if any."""
        inst = self.inst
        recs: list[RedoRecord] = []
        hi = inst.cur_lsn
        out: dict | None = None
        for blob in blobs:
            rec = RedoRecord.decode(blob)
            out = self._check_identity(rec)
            if out:
                break
            if rec.lsn_hi <= hi:
                continue
            if rec.lsn_lo != hi + 1:
                out = {"ok": False, "code": ERR_LSN_GAP,
                       "error": lang.msg("mal_lsn_gap", want=hi + 1, got=rec.lsn_lo)}
                break
            recs.append(rec)
            hi = rec.lsn_hi
        if recs:
            inst.apply_redo_batch(recs)
            self._count_applied(len(recs))
        if out:
            return out
        self.recv_hi = -1
        return {"ok": True, "lsn": inst.cur_lsn}

    def _check_identity(self, rec: RedoRecord | Pkg) -> dict | None:
        inst = self.inst
        if rec.oguid != inst.oguid:
            return {"ok": False, "code": ERR_OGUID, "error": lang.msg("mal_oguid", theirs=rec.oguid, mine=inst.oguid)}
        if rec.permanent_magic != inst.permanent_magic:
            return {"ok": False, "code": ERR_PMAGIC,
                    "error": lang.msg("mal_pmagic", theirs=rec.permanent_magic, mine=inst.permanent_magic)}
        if rec.db_magic == inst.db_magic:
            return {"ok": False, "code": ERR_DBMAGIC, "error": lang.msg("mal_dbmagic", mine=inst.db_magic)}
        return None

    def _receive(self, rec: Pkg) -> dict:
        inst = self.inst
        err = self._check_identity(rec)
        if err:
            self.recent.append(err["error"])
            return err
        if inst.mode != "STANDBY" or not (inst.status == "OPEN" or (inst.status == "MOUNT" and self.synced)):
            return {"ok": False, "code": ERR_NOT_STANDBY,
                    "error": lang.msg("mal_not_standby", name=inst.name, mode=inst.mode, status=inst.status)}
        with self.apply_lock:
            hi = self.recv_hi if self.recv_hi >= 0 else inst.cur_lsn
            if self.keep is not None:
                hi = max(hi, self.keep.lsn_hi)
            if self.keep is not None and rec.lsn_lo == self.keep.lsn_lo:
                # the primary restarted without the kept package in its log (killed between our
                # ack and its flush) and reuses those LSNs: its package replaces KEEP_BUF (DM8)
                self.keep = None
                hi = rec.lsn_lo - 1
            if rec.lsn_lo != hi + 1:
                msg = lang.msg("mal_lsn_gap", want=hi + 1, got=rec.lsn_lo)
                self.recent.append(msg)
                return {"ok": False, "code": ERR_LSN_GAP, "error": msg}
            self.n_recv += 1
            self.recv_hi = rec.lsn_hi
            if bugs.active("standby-skips-redo") and self.n_recv % SKIP_EVERY == 0:
                return {"ok": True}                  # seeded defect: acked, never applied
            if self.keep is not None:
                self.apply_q.put(self.keep)          # the previous KEEP_BUF goes to the apply queue
            self.keep = rec
        return {"ok": True}

    def _applier(self) -> None:
        """The apply task: replays queued packages in order (DM8's redo apply thread)."""
        while not self._stop.is_set():
            try:
                pkg = self.apply_q.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                while anomalies.holds(self.apply_q.qsize()) and not (self.discard or self.release
                                                                      or self._stop.is_set()):
                    time.sleep(0.02)
                if not self.discard:
                    self._apply(pkg.record())
            except Exception as e:                    # noqa: BLE001 - reported in the views, never fatal
                self.recent.append(f"apply LSN[{pkg.lsn_lo}-{pkg.lsn_hi}] failed: {e}")
            finally:
                self.apply_q.task_done()

    def _apply(self, rec: RedoRecord) -> None:
        self.inst.apply_redo(rec)
        self._count_applied(1)

    def _count_applied(self, n: int) -> None:
        self.applied_pkgs += n
        self.last_apply = time.time()

    def apply_keep(self, drop: bool = False) -> None:
        """SP_APPLY_KEEP_PKG(): apply (or, for the switchover-drops-keepbuf defect, drop) KEEP_BUF."""
        with self.apply_lock:
            if self.keep is not None:
                if not drop:
                    self.apply_q.put(self.keep)
                else:
                    self.recv_hi = -1
                self.keep = None
            self._drain(discard=drop and self.dw_status == 7 and bugs.active("takeover-lost-update"))

    def _drain(self, discard: bool = False) -> None:
        """Wait until the apply queue is empty: everything applied (held packages released), or, for
        takeover-lost-update at a takeover, thrown away."""
        self.discard, self.release = discard, not discard
        try:
            self.apply_q.join()
        finally:
            self.discard = self.release = False
