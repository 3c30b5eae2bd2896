"""Instance: one DM8 database instance (implements api.Server and the SQL engine's hooks).

State as DM8 keeps it (ARCHITECTURE.md "Instance contract"): identity and mode in the control file,
status in memory, LSNs from the engine plus the online redo log. Every commit becomes a RedoRecord:
LSNs assigned, handed to the REALTIME sender (dw) first, then written to the online log (fsync) and
the local archives, then the engine commits. Start-up replays online-log records the engine has not
committed yet, so a kill -9 loses no acknowledged commit.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from . import SERVER_VERSION, anomalies, bugs, hostfaults, instmsg, statements, sysviews  # noqa: F401 - instmsg registers messages
from . import ini as dmini
from .api import SVR_MODE, SVR_STAT, Column, RedoRecord, Result
from .errors import DmError, err
from .storage import ArchiveDest, ControlFile, LocalArchive, OnlineLog, encode_frame

STANDBY_FLUSH_S = 0.05                  # a standby fsyncs the redo it logged at most this long after
LAZY_COMMIT_S = 1.0                     # commit-not-durable: how long acknowledged work stays uncommitted
CHUNK_ROWS = 50_000                     # rows per RedoRecord chunk of a large transaction
INST_OP = "DMEMU_INST"                  # first element of instance-level redo ops (tablespaces, N_OPEN)
STATUSES = ("STARTUP", "AFTER REDO", "MOUNT", "OPEN", "SUSPEND", "SHUTDOWN")
MODES = ("NORMAL", "PRIMARY", "STANDBY")
_LEGAL = {("STARTUP", "MOUNT"), ("MOUNT", "OPEN"), ("OPEN", "MOUNT"), ("OPEN", "SUSPEND"),
          ("SUSPEND", "OPEN"), ("SUSPEND", "MOUNT")}
_MOUNT_OK = re.compile(r"^\s*SELECT\b", re.I)
_FROM_TARGETS = re.compile(r"\b(?:FROM|JOIN)\s+([\w$.\"]+)", re.I)

# Bytes of the newest redo kept in memory for re-sending to a returning standby (DMEMU_REDO_TAIL_MB).
REDO_TAIL_BYTES = int(float(os.environ.get("DMEMU_REDO_TAIL_MB", "64")) * 1024 * 1024)


def _op_rows(op: object) -> int:
    """Rows an engine redo op carries (for chunking): I and D ops carry row lists."""
    if isinstance(op, tuple) and len(op) >= 3:
        if op[0] == "I" and len(op) >= 4:
            return len(op[3])
        if op[0] == "D":
            return len(op[2])
    return 1


def open_database(path: str, case_sensitive: bool, hooks: object | None, synchronous: str = "FULL"):
    """Open the SQL engine's Database (imported lazily: sql/ is another layer)."""
    from .sql.engine import Database
    return Database(path, case_sensitive=case_sensitive, hooks=hooks, synchronous=synchronous)


def db_paths(ini_path: str) -> dict[str, str]:
    """Where the files of the database of `ini_path` live (dm.ini keys, DM8 defaults)."""
    ini_path = os.path.abspath(ini_path)
    top = dmini.load(ini_path).top
    base = os.path.dirname(ini_path)
    system = top.get("SYSTEM_PATH") or base
    return {
        "ini": ini_path,
        "dir": system,
        "ctl": top.get("CTL_PATH") or os.path.join(system, "dm.ctl"),
        "config": top.get("CONFIG_PATH") or base,
        "bak": top.get("BAK_PATH") or os.path.join(system, "bak"),
        "system_dbf": os.path.join(system, "SYSTEM.DBF"),
        "lock": os.path.join(system, "dmserver.lck"),
    }


def online_log_paths(dirpath: str, db_name: str) -> list[str]:
    return [os.path.join(dirpath, f"{db_name}0{i}.log") for i in (1, 2)]


def is_running(lock_path: str) -> bool:
    """True when a dmserver holds the database lock (used by dmrman to refuse offline work)."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def load_arch(config_dir: str, arch_ini: bool) -> list[dict]:
    """Archive destinations from dmarch.ini (only when ARCH_INI=1)."""
    path = os.path.join(config_dir, "dmarch.ini")
    if not arch_ini or not os.path.exists(path):
        return []
    out = []
    for sec in dmini.load(path).named():
        typ = (sec.get("ARCH_TYPE") or "LOCAL").upper()
        out.append({
            "name": sec.name.upper(), "type": typ, "dest": sec.get("ARCH_DEST") or "",
            "status": "VALID", "file_size": sec.int("ARCH_FILE_SIZE", 1024),
            "space_limit": sec.int("ARCH_SPACE_LIMIT", 0), "items": sec.as_dict(),
        })
    return out


class _EngineBatch:
    """Engine ops of consecutive complete transactions, applied as one engine transaction (db.apply is
    atomic and records the last transaction's lsn_hi); bounded to about CHUNK_ROWS rows."""

    __slots__ = ("db", "ops", "lsn_hi", "rows")

    def __init__(self, db):
        self.db = db
        self.ops: list = []
        self.lsn_hi = 0
        self.rows = 0

    def add(self, ops: list, lsn_hi: int) -> None:
        """Queue one transaction's ops; one the engine already holds (lsn_hi <= its cur_lsn) is skipped."""
        if not ops or lsn_hi <= int(self.db.cur_lsn):
            return
        self.ops.extend(ops)
        self.lsn_hi = lsn_hi
        self.rows += sum(_op_rows(op) for op in ops)
        if self.rows >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.ops:
            ops, self.ops, self.rows = self.ops, [], 0
            self.db.apply(ops, self.lsn_hi)


class InstSession:
    """A client session: the engine's SqlSession plus MOUNT checks and the commit-not-durable defect."""

    def __init__(self, inst: Instance, sql_session, user: str):
        self.inst = inst
        self.user = user
        self._s = sql_session
        self._auto = True
        self._lazy = bugs.active("commit-not-durable")
        self._pending = 0.0                  # defect: monotonic time of the oldest acknowledged, uncommitted work
        self._op_lock = threading.RLock()    # defect: the instance's lazy committer commits from its own thread
        self._close_lock = threading.Lock()
        self._closed = False
        self._finished = False
        self._s.autocommit = not self._lazy

    @property
    def autocommit(self) -> bool:
        return self._auto

    @property
    def in_transaction(self) -> bool:
        """True while the session holds uncommitted writes (the wire reports it as TrxStatus)."""
        return bool(self._s.in_txn)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if bool(value) == self._auto:
            return                           # the wire layer sets it on every execute
        with self._op_lock:
            self._flush()
            self._auto = bool(value)
            if not self._lazy:
                self._s.autocommit = self._auto

    def _flush(self, force: bool = True) -> None:
        """commit-not-durable: commit acknowledged work only LAZY_COMMIT_S after it was acknowledged."""
        if self._pending and (force or time.monotonic() - self._pending >= LAZY_COMMIT_S):
            self._pending = 0.0
            self._s.commit()

    def _defer(self) -> None:
        if not self._pending:
            self._pending = time.monotonic()

    def lazy_tick(self) -> None:
        """commit-not-durable: called by the instance's lazy committer; commits work acknowledged at
        least LAZY_COMMIT_S ago (also for sessions the client already closed), then finishes a close."""
        if not self._op_lock.acquire(blocking=False):
            return
        try:
            try:
                self._flush(force=False)
            except DmError:
                self._pending = 0.0          # the instance left OPEN: that work is gone
            if self._closed and not self._pending:
                self._finish()
        finally:
            self._op_lock.release()

    def execute(self, sql: str, params: Sequence | None = None) -> Result:
        with self._op_lock:
            self._flush(force=False)
            self.inst.check_data_access(sql)
            r = self.inst.stale.read(self.inst.mode, sql, params, lambda: self._s.execute(sql, params))
            if self._lazy and self._auto and r.kind in ("dml", "ddl"):
                self._defer()                # defect: acknowledged now, committed later
            return r

    def describe(self, sql: str):
        cols = statements.describe(self.inst, sql)
        return ([], cols) if cols is not None else self._s.describe(sql)

    def commit(self) -> None:
        if self._lazy:
            self._defer()
            return
        self._s.commit()

    def rollback(self) -> None:
        with self._op_lock:
            self._pending = 0.0
            self._s.rollback()

    def close(self) -> None:
        """Idempotent; the wire thread and Instance.shutdown may both call it (one engine close)."""
        with self._close_lock:
            if self._finished:
                return
            self._closed = True
            with self._op_lock:
                if self._pending and self.inst.status != "SHUTDOWN":
                    return                   # defect: the lazy committer commits it later, then closes
                try:
                    self._flush()
                except DmError:
                    pass
                finally:
                    self._finish()

    def _finish(self) -> None:
        """Close the engine session (once) and leave the instance's session set."""
        if self._finished:
            return
        self._finished = True
        try:
            self._s.close()
        finally:                             # only now: shutdown() waits on _close_lock for sessions it sees
            self.inst._sessions.discard(self)


class Instance:
    """A DM8 instance built from its dm.ini (see module docstring and ARCHITECTURE.md)."""

    server_version = SERVER_VERSION

    def __init__(self, ini_path: str):
        if not os.path.isfile(ini_path):
            raise err(-803, "ini_not_found", path=ini_path)
        self.paths = db_paths(ini_path)
        self.ini_path = self.paths["ini"]
        self.ini: dict[str, str] = dmini.load(self.ini_path).top.as_dict()
        self.path = self.paths["dir"]
        if not os.path.isfile(self.paths["ctl"]):
            raise err(-803, "ini_not_found", path=self.paths["ctl"])
        self.ctl = ControlFile.load(self.paths["ctl"])
        self.name = self.ini.get("INSTANCE_NAME", "DMSERVER")
        self.instance_name = self.name
        self.db_name = self.ctl["db_name"]
        self.status = "SHUTDOWN"
        self.db = None
        self.start_time = time.time()
        self.view_providers: dict[str, Callable[[], tuple[list[Column], list[tuple]]]] = {}
        self.statement_handlers: list[Callable[[str, object], Result | None]] = []
        self.listeners: list[object] = []
        self.realtime_sender: Callable[[RedoRecord], None] | None = None
        self.timely_sender: Callable[[RedoRecord], None] | None = None     # TIMELY: after the local flush
        self.rw_standbys: Callable[[], list[tuple[str, int]]] | None = None   # dw/agent: read targets
        self.watcher_active = False          # dw/agent sets it while its watcher is past STARTUP
        self.on_shutdown_request: Callable[[], None] | None = None
        self.arch: list[dict] = []
        self._archives: list[LocalArchive] = []
        self._tail: collections.deque[tuple[RedoRecord, bytes]] = collections.deque()  # newest redo, encoded
        self._tail_bytes = 0
        self._sessions: set[InstSession] = set()
        self._redo_lock = threading.RLock()
        self.demotion = anomalies.Demotion()        # seeded defect demoted-primary-acks
        self.stale = anomalies.StaleReads()         # seeded defect standby-stale-read
        self._state = threading.Condition()
        self._sys_lock = threading.Lock()
        self._sys_session = None
        self._lock_fd: int | None = None
        self._lsn = 0
        self._flushed = 0
        self._seq = 0
        self._apply_buf: list[RedoRecord] = []
        self._encoded: tuple[RedoRecord, bytes] | None = None
        self._standby_dirty = threading.Event()     # apply_redo logged records not fsynced yet
        self._flusher: threading.Thread | None = None
        self._lazy_committer: threading.Thread | None = None
        self._n_open_unshipped = False              # a PRIMARY's N_OPEN not carried by a redo record yet
        self.log = OnlineLog(online_log_paths(self.path, self.db_name), int(self.ctl["log_size"]),
                             on_switch=self._sync_before_log_switch)

    # ---- identity ------------------------------------------------------------------------
    mode = property(lambda self: self.ctl["mode"])
    oguid = property(lambda self: int(self.ctl["oguid"]))
    permanent_magic = property(lambda self: int(self.ctl["permanent_magic"]))
    db_magic = property(lambda self: int(self.ctl["db_magic"]))
    n_open = property(lambda self: int(self.ctl["n_open"]))
    cur_lsn = property(lambda self: self._lsn)
    file_lsn = property(lambda self: self._flushed)

    @property
    def arch_mode(self) -> bool:
        return self.ini.get("ARCH_INI", "0") == "1" and any(a["type"] == "LOCAL" for a in self.arch)

    # ---- start / stop ----------------------------------------------------------------------
    def start(self, mount: bool) -> None:
        """Recovery from the online log, then STARTUP -> MOUNT [-> OPEN] (PRIMARY/STANDBY stop at MOUNT)."""
        if self.ctl["restore_pending"] == "RECOVER":
            raise err(-8500, "restore_pending")
        if mount and not self.ctl["first_start_done"]:
            raise err(-8501, "first_start_mount")
        if self.mode != "NORMAL":
            mount = True
        self._take_lock()
        try:
            self.status = "STARTUP"
            self.start_time = time.time()
            # synchronous=NORMAL: the online log (fsynced before every COMMIT) is the durability point;
            # _recover replays what SQLite lost, _sync_before_log_switch guards the log switch
            self.db = open_database(self.paths["system_dbf"], bool(self.ctl["case_sensitive"]), self, "NORMAL")
            self._recover()
            self._reload_arch()
            self._catch_up_archives()
            self.ctl.update(clean_shutdown=False)
            self._set("MOUNT")
            if not mount:
                self.set_status("OPEN")
        except BaseException:
            self._close_db()
            self._release_lock()
            self.status = "SHUTDOWN"
            raise

    def _take_lock(self) -> None:
        fd = os.open(self.paths["lock"], os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise err(-8502, "db_locked", path=self.path) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _recover(self) -> None:
        """Replay online-log transactions the engine has not committed (crash between redo fsync and commit).

        Chunks of one transaction share `seq`; only groups ending in a `last` chunk are replayed."""
        self.log.cut_torn_tails()
        base = int(self.db.cur_lsn)
        last = max(base, self.log.last_lsn())
        self._seq = max(self._seq, self.log.last_seq())
        held, self._apply_buf = self._apply_buf, []
        batch = _EngineBatch(self.db)
        for rec in self.log.records(after_lsn=base):
            self._gather(rec, batch)
        batch.flush()
        self._apply_buf = held                       # a transaction the log does not finish is dropped
        self._lsn = self._flushed = last

    def _gather(self, rec: RedoRecord, batch: _EngineBatch, split: bool = False) -> None:
        """Add `rec` to its transaction (chunks share `seq`; a new seq means the primary aborted the
        buffered one); a complete transaction's instance ops are applied at once, after the engine
        ops `batch` holds, and its engine ops join `batch`."""
        if self._apply_buf and self._apply_buf[0].seq != rec.seq:
            self._apply_buf = []
        self._apply_buf.append(rec)
        if not rec.last:
            return
        group, self._apply_buf = self._apply_buf, []
        db_ops = []
        for r in group:
            for op in r.ops:
                if isinstance(op, tuple) and op and op[0] == INST_OP:
                    batch.flush()
                    self._apply_inst_op(op)
                else:
                    db_ops.append(op)
        if split and bugs.active("standby-partial-apply") and len(db_ops) > 1:
            batch.flush()
            if anomalies.split_apply(self.db.apply, db_ops, group[0].lsn_lo, group[-1].lsn_hi):
                return
        batch.add(db_ops, group[-1].lsn_hi)

    def request_shutdown(self) -> None:
        """SQL SHUTDOWN: ask the hosting process (dmserver) to stop; falls back to stopping here."""
        cb = self.on_shutdown_request
        if cb:
            cb()
        else:
            threading.Thread(target=self.shutdown, daemon=True).start()

    def shutdown(self, normal: bool = True) -> None:
        """Stop listeners and sessions, close the engine, mark the control file, release the lock."""
        if self.status == "SHUTDOWN":
            return
        for lst in list(self.listeners):
            for meth in ("stop", "shutdown", "close"):
                fn = getattr(lst, meth, None)
                if callable(fn):
                    try:
                        fn()
                    except Exception:          # noqa: BLE001 - keep stopping the rest
                        pass
                    break
        self.listeners.clear()
        with self._state:
            self.status = "SHUTDOWN"
            self._state.notify_all()
        for s in list(self._sessions):         # waits for closes already under way in wire threads
            try:
                s.close()
            except Exception:                  # noqa: BLE001
                pass
        self._sessions.clear()
        if self._standby_dirty.is_set():
            with self._redo_lock:
                self._standby_dirty.clear()
                self.log.sync()
                for a in self._archives:
                    a.sync()
        self._close_db()
        if normal:
            self.ctl.update(clean_shutdown=True)
        self._release_lock()

    def _close_db(self) -> None:
        if self._sys_session is not None:
            try:
                self._sys_session.close()
            except Exception:                  # noqa: BLE001
                pass
            self._sys_session = None
        if self.db is not None:
            close = getattr(self.db, "close", None)
            if callable(close):
                close()
            self.db = None

    # ---- state machine ---------------------------------------------------------------------
    def _set(self, status: str) -> None:
        with self._state:
            self.status = status
            self._state.notify_all()

    def set_status(self, status: str) -> None:
        """Change status along DM's legal transitions (OPEN<->MOUNT, OPEN<->SUSPEND)."""
        status = status.upper()
        if status == self.status:
            return
        if status == "SHUTDOWN":
            self.shutdown()
            return
        if (self.status, status) not in _LEGAL:
            raise err(-8503, "bad_status_change", frm=self.status, to=status)
        if status == "OPEN" and self.status == "MOUNT":
            self._count_open()
        self._set(status)

    def _count_open(self) -> None:
        """N_OPEN (reference 4.3): the primary (or a single instance) counts its opens and ships the new
        value as redo with the next record it emits; a standby never counts, it applies its primary's."""
        if self.mode == "STANDBY":
            self.ctl.update(first_start_done=True)
            return
        self.ctl.update(n_open=self.n_open + 1, first_start_done=True)
        self._n_open_unshipped = self.mode == "PRIMARY"

    def set_mode(self, mode: str) -> None:
        """Change the mode; only in MOUNT (callers at SQL level also check ALTER_MODE_STATUS)."""
        mode = mode.upper()
        if mode not in MODES:
            raise err(-8504, "bad_mode_change", frm=self.mode, to=mode)
        if self.status != "MOUNT":
            raise err(-8505, "mode_needs_mount")
        self.demotion.mode_changed(self.mode, mode)
        self.ctl.update(mode=mode)

    def set_oguid(self, oguid: int) -> None:
        if self.status != "MOUNT":
            raise err(-8505, "mode_needs_mount")
        self.ctl.update(oguid=int(oguid))

    def check_alter_mode_allowed(self) -> None:
        """ALTER_MODE_STATUS=0 blocks manual mode/OGUID changes while a watcher is active (DM -720)."""
        if self.ini.get("ALTER_MODE_STATUS", "1") == "0" and self.watcher_active:
            raise err(-720)

    def check_data_access(self, sql: str) -> None:
        """In MOUNT/STARTUP only dynamic views and instance statements are reachable."""
        if self.status in ("OPEN", "SUSPEND"):
            return
        if not _MOUNT_OK.match(sql):
            return                                   # DML/DDL go through write_guard, the rest through hooks
        for t in _FROM_TARGETS.findall(sql):
            name = t.replace('"', "").upper().split(".")[-1]
            if not (name.startswith("V$") or name == "DUAL"):
                raise err(-8506, "db_not_open", status=self.status)

    # ---- parameters and archive configuration ---------------------------------------------
    def set_para(self, name: str, value: str, scope: int = 1) -> None:
        """SP_SET_PARA_VALUE / ALTER SYSTEM SET: scope 0 = memory, 1 = memory and dm.ini, 2 = dm.ini only."""
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise err(-8507, "bad_para", name=name)
        if scope != 0:
            dmini.set_keys(self.ini_path, {name: value})
        if scope != 2:
            self.ini[name] = value

    def set_archivelog(self, on: bool) -> None:
        if self.status != "MOUNT":
            raise err(-8508, "arch_needs_mount")
        if on and not any(a["type"] == "LOCAL" for a in load_arch(self.paths["config"], True)):
            raise err(-8509, "no_local_arch")
        self.set_para("ARCH_INI", "1" if on else "0", 1)
        self._reload_arch()

    def change_archive(self, op: str, spec: str) -> None:
        """ALTER DATABASE ADD|DELETE|MODIFY ARCHIVELOG 'DEST=...,TYPE=...,FILE_SIZE=..,SPACE_LIMIT=..'."""
        if self.status != "MOUNT":
            raise err(-8508, "arch_needs_mount")
        kv = {}
        for part in spec.split(","):
            if "=" not in part:
                raise err(-8510, "bad_arch_spec", spec=spec)
            k, v = (x.strip() for x in part.split("=", 1))
            kv[k.upper()] = v
        if "DEST" not in kv:
            raise err(-8510, "bad_arch_spec", spec=spec)
        typ = kv.get("TYPE", "LOCAL").upper()
        if typ not in ("LOCAL", "REALTIME", "TIMELY", "ASYNC", "REMOTE", "SYNC"):
            raise err(-8510, "bad_arch_spec", spec=spec)
        path = os.path.join(self.paths["config"], "dmarch.ini")
        existing = dmini.load(path).named() if os.path.exists(path) else []
        sections = [(s.name, s.items) for s in existing]
        same = [i for i, (_, items) in enumerate(sections) if dict(items).get("ARCH_DEST") == kv["DEST"]]
        if op == "ADD":
            if same:
                raise err(-8511, "arch_exists", dest=kv["DEST"])
            n = 1 + sum(1 for name, _ in sections if dict(_).get("ARCH_TYPE", "").upper() == typ)
            name = f"ARCHIVE_{typ}{n}" if typ == "LOCAL" else f"ARCHIVE_{typ}{'' if n == 1 else n}"
            items = [("ARCH_TYPE", typ), ("ARCH_DEST", kv["DEST"])]
            if typ == "LOCAL":
                items += [("ARCH_FILE_SIZE", kv.get("FILE_SIZE", "1024")),
                          ("ARCH_SPACE_LIMIT", kv.get("SPACE_LIMIT", "0"))]
            sections.append((name, items))
        elif op == "DELETE":
            if not same:
                raise err(-8510, "bad_arch_spec", spec=spec)
            sections = [s for i, s in enumerate(sections) if i not in same]
        else:
            if not same:
                raise err(-8510, "bad_arch_spec", spec=spec)
            name, items = sections[same[0]]
            d = dict(items)
            if "FILE_SIZE" in kv:
                d["ARCH_FILE_SIZE"] = kv["FILE_SIZE"]
            if "SPACE_LIMIT" in kv:
                d["ARCH_SPACE_LIMIT"] = kv["SPACE_LIMIT"]
            sections[same[0]] = (name, list(d.items()))
        text = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in items) + "\n"
                       for name, items in sections)
        from .storage import write_atomic
        write_atomic(path, text.encode())
        self._reload_arch()

    def _reload_arch(self) -> None:
        old = {a["name"]: a for a in self.arch}
        self.arch = load_arch(self.paths["config"], self.ini.get("ARCH_INI", "0") == "1")
        for a in self.arch:                         # keep runtime status set by dw
            if a["name"] in old:
                a["status"] = old[a["name"]]["status"]
        durable = not bugs.active("commit-not-durable")
        self._archives = [LocalArchive(ArchiveDest(a["name"], a["dest"], int(a["file_size"]),
                                                   int(a["space_limit"])), durable)
                          for a in self.arch if a["type"] == "LOCAL"]

    def _catch_up_archives(self) -> None:
        """After a crash: cut torn archive tails and archive what reached the online log only."""
        for a in self._archives:
            a.cut_torn_tail()
            last = a.last_lsn()
            if last:
                for rec in self.log.records(after_lsn=last):
                    a.append(rec, self.db_magic)

    # ---- tablespaces -----------------------------------------------------------------------
    def create_tablespace(self, name: str, files: list[dict]) -> None:
        """CREATE TABLESPACE: files appear in the database directory; replicated as an instance redo op."""
        self.write_guard("ddl", name)
        if any(t["name"] == name for t in self.ctl["tablespaces"]) or name in sysviews.BUILTIN_TS:
            raise err(-3401, "ts_exists", name=name)
        for f in files:
            p = self._datafile_path(f["path"])
            if os.path.exists(p):
                raise err(-3405, "file_exists", path=p)
        op = (INST_OP, "CREATE_TABLESPACE", {"name": name, "files": files})
        with self._redo_lock:
            self._emit([op], self._seq + 1, last=True)
            self._apply_inst_op(op)

    def _datafile_path(self, p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(self.path, p)

    def _apply_inst_op(self, op: tuple) -> None:
        if op[1] == "CREATE_TABLESPACE":
            spec = op[2]
            if any(t["name"] == spec["name"] for t in self.ctl["tablespaces"]):
                return
            files = []
            for f in spec["files"]:
                p = self._datafile_path(f["path"])
                if not os.path.isabs(f["path"]) or os.path.isdir(os.path.dirname(p)):
                    with open(p, "ab") as fh:
                        fh.truncate(max(os.path.getsize(p), int(f["size_mb"]) * 1024 * 1024))
                files.append({"path": p, "size_mb": int(f["size_mb"])})
            ts = list(self.ctl["tablespaces"])
            ts.append({"name": spec["name"], "id": 100 + len(ts), "files": files})
            self.ctl.update(tablespaces=ts)
        elif op[1] == "N_OPEN":
            n = int(op[2])
            if self.mode == "STANDBY" or n > self.n_open:     # own crash recovery never lowers it
                self.ctl.update(n_open=n)

    # ---- redo ------------------------------------------------------------------------------
    def _new_record(self, ops: list, seq: int | None = None, last: bool = True) -> RedoRecord:
        lo = self._lsn + 1
        return RedoRecord(lsn_lo=lo, lsn_hi=lo + max(1, len(ops)) - 1, ops=ops, db_magic=self.db_magic,
                          permanent_magic=self.permanent_magic, oguid=self.oguid,
                          seq=self._seq + 1 if seq is None else seq, ts=hostfaults.now(), last=last)

    def _ship_and_log(self, rec: RedoRecord) -> None:
        blob = rec.encode()
        self._encoded = (rec, blob)             # the REALTIME sender reuses it (encoded())
        try:
            if self.realtime_sender is not None:
                self.realtime_sender(rec)       # REALTIME: before the local flush; may block or raise
            self._write_redo(rec, blob=blob)
            if self.timely_sender is not None:
                self.timely_sender(rec)         # TIMELY: after the local flush, before the commit returns
        finally:
            self._encoded = None

    def encoded(self, rec: RedoRecord) -> bytes:
        """rec.encode(), reusing the encoding of the record being committed (one encoding per commit)."""
        cur = self._encoded
        return cur[1] if cur is not None and cur[0] is rec else rec.encode()

    def _sync_before_log_switch(self) -> None:
        """The online log is about to empty its other file: make what it covered durable in SQLite
        and the archives first (both skip per-commit fsyncs and rely on the online log until then)."""
        if self.db is not None:
            self.db.sync()
        for a in self._archives:
            a.sync()
        self.log.sync()

    def _flush_standby_redo(self) -> None:
        """Standby log flush task: fsync the redo apply_redo logged, STANDBY_FLUSH_S after it was written.

        A standby acknowledges a package on receipt (KEEP_BUF), so its own log's fsync is not part
        of the primary's commit; flushing here keeps it off the apply path (one fsync per batch)."""
        while self.status != "SHUTDOWN":
            if not self._standby_dirty.wait(0.5):
                continue
            time.sleep(STANDBY_FLUSH_S)               # gather what arrives meanwhile into one fsync
            with self._redo_lock:
                self._standby_dirty.clear()
                if self.status == "SHUTDOWN":
                    return
                try:
                    self.log.sync()
                    for a in self._archives:
                        a.sync()
                except OSError:
                    self._standby_dirty.set()

    def _write_redo(self, rec: RedoRecord, durable: bool = True, blob: bytes | None = None) -> None:
        durable = durable and not bugs.active("commit-not-durable")
        blob = rec.encode() if blob is None else blob
        frame = encode_frame(rec, blob)
        self._until_written(lambda: self.log.append_frame(frame, durable=durable))
        for a in self._archives:
            self._until_written(lambda a=a: a.append_frame(frame, self.db_magic))
        self._tail.append((rec, blob))
        self._tail_bytes += len(blob)
        while self._tail_bytes > REDO_TAIL_BYTES and len(self._tail) > 1:
            self._tail_bytes -= len(self._tail.popleft()[1])

    def _until_written(self, write: Callable[[], object]) -> None:
        """ARCH_HANG_FLAG=1 (DM8's default, reference §1): a redo or archive write that finds no space
        left hangs the commit (and every commit behind it) until space returns, instead of failing it."""
        while True:
            try:
                write()
                return
            except OSError as e:
                if e.errno != errno.ENOSPC or self.status == "SHUTDOWN":
                    raise
                time.sleep(0.2)

    def redo_since(self, lsn: int) -> Iterator[tuple[RedoRecord, bytes]]:
        """(record, encoding) with lsn_hi > lsn in LSN order: from the in-memory tail of the newest redo this
        process wrote when it reaches back far enough (a standby returning after a short fault), else from
        the local archives, then the online log (a scan of the files from their start)."""
        tail = list(self._tail)
        if tail and tail[0][0].lsn_lo <= lsn + 1:
            yield from ((rec, blob) for rec, blob in tail if rec.lsn_hi > lsn)
            return
        seen = lsn
        sources: list[Iterator[RedoRecord]] = [a.records(lsn) for a in self._archives]
        sources.append(self.log.records(lsn))
        for src in sources:
            for rec in src:
                if rec.lsn_hi > seen:
                    seen = rec.lsn_hi
                    yield rec, rec.encode()

    def apply_redo(self, record: RedoRecord) -> None:
        """Standby apply of one realtime package (see apply_redo_batch)."""
        self.apply_redo_batch([record])

    def apply_redo_batch(self, records: Sequence[RedoRecord]) -> None:
        """Standby apply of consecutive records of the primary: log each locally (online log + archives),
        apply a transaction once its last chunk arrived. The engine ops of successive transactions
        share one engine transaction (recovery re-sends thousands of small commits per batch); the
        LSNs advance once they are applied, so a caught-up cur_lsn means the data is there."""
        if not records:
            return
        with self._redo_lock:
            batch = _EngineBatch(self.db)
            try:
                for rec in records:
                    self._write_redo(rec, durable=False)     # fsynced by _flush_standby_redo
                    self._gather(rec, batch, split=True)
                batch.flush()
            finally:
                self._standby_dirty.set()
                if self._flusher is None or not self._flusher.is_alive():
                    self._flusher = threading.Thread(target=self._flush_standby_redo, name="redo-flush",
                                                     daemon=True)
                    self._flusher.start()
            self._lsn = max(self._lsn, max(r.lsn_hi for r in records))
            self._flushed = self._lsn
            self._seq = max(self._seq, max(r.seq for r in records))

    # ---- engine hooks ----------------------------------------------------------------------
    def before_commit(self, ops: list) -> int:
        with self._state:
            while self.status == "SUSPEND":
                self._state.wait(0.5)
            if self.status not in ("OPEN",):          # OPEN->MOUNT rolls back what was still open
                raise err(-8506, "db_not_open", status=self.status)
        if self.mode == "STANDBY" and not bugs.active("standby-accepts-dml"):
            if self.demotion.acks():
                return self._lsn                    # seeded defect: acknowledged, never logged nor shipped
            raise err(-2018)
        with self._redo_lock:
            seq = self._seq + 1
            chunk: list = []
            rows = 0
            prev: list | None = None
            for op in ops:                          # ops may be a lazy sequence: stream it in chunks
                chunk.append(op)
                rows += _op_rows(op)
                if rows >= CHUNK_ROWS:
                    if prev is not None:
                        self._emit(prev, seq, last=False)
                    prev, chunk, rows = chunk, [], 0
            if prev is not None and chunk:
                self._emit(prev, seq, last=False)
                prev = chunk
            elif prev is None:
                prev = chunk
            rec = self._emit(prev, seq, last=True)
            return rec.lsn_hi

    def _emit(self, ops: list, seq: int, last: bool) -> RedoRecord:
        carry = self._n_open_unshipped and self.mode == "PRIMARY"
        if carry:
            ops = [(INST_OP, "N_OPEN", self.n_open), *ops]
        rec = self._new_record(ops, seq, last)
        self._ship_and_log(rec)
        if carry:
            self._n_open_unshipped = False
        self._lsn = rec.lsn_hi
        self._flushed = rec.lsn_hi
        self._seq = seq
        return rec

    def after_commit(self, lsn_hi: int) -> None:
        self._flushed = max(self._flushed, int(lsn_hi))

    def write_guard(self, kind: str, table: str) -> None:
        """Engine hook before DML ("dml"), DDL ("ddl") or DML on a global temporary table ("temp"):
        a STANDBY is read-only (-2018 / -710) except for temporary tables (reference §3)."""
        if self.status not in ("OPEN", "SUSPEND"):
            raise err(-8506, "db_not_open", status=self.status)
        if kind == "temp":
            return
        if self.mode == "STANDBY" and not bugs.active("standby-accepts-dml") and not self.demotion.acks():
            raise err(-2018) if kind == "dml" else err(-710)

    def system_view(self, name: str):
        name = name.upper()
        fn = self.view_providers.get(name) or sysviews.PROVIDERS.get(name)
        if fn is None:
            return None
        return fn() if name in self.view_providers else fn(self)

    def statement(self, sql: str, session: object) -> Result | None:
        r = statements.handle(self, sql)
        if r is not None:
            return r
        for h in self.statement_handlers:
            r = h(sql, session)
            if r is not None:
                return r
        return None

    # ---- api.Server ------------------------------------------------------------------------
    def login(self, user: str, password: str, client: dict) -> InstSession:
        if self.status not in ("MOUNT", "OPEN", "SUSPEND") or self.db is None:
            raise err(-8512, "server_starting")
        if not self.db.check_password(user.upper(), password):
            raise err(-2501)
        s = InstSession(self, self.db.session(user=user.upper()), user.upper())
        self._sessions.add(s)
        if s._lazy and (self._lazy_committer is None or not self._lazy_committer.is_alive()):
            self._lazy_committer = threading.Thread(target=self._commit_lazily, name="lazy-commit", daemon=True)
            self._lazy_committer.start()
        return s

    def _commit_lazily(self) -> None:
        """commit-not-durable: commit sessions' acknowledged work LAZY_COMMIT_S after the acknowledgement."""
        while self.status != "SHUTDOWN":
            time.sleep(0.1)
            for s in list(self._sessions):
                s.lazy_tick()

    def wire_status(self) -> tuple[int, int]:
        mode = "PRIMARY" if self.demotion.acks() else self.mode
        if bugs.active("wrong-svrmode"):
            mode = {"PRIMARY": "STANDBY", "STANDBY": "PRIMARY"}.get(mode, mode)
        return SVR_MODE[mode], SVR_STAT.get(self.status, 6)

    def standby_info(self) -> tuple[str, int, int] | None:
        """(host, port, count) of the standby a read/write-separating client is sent to, for the login
        reply; None unless this is an OPEN primary with at least one standby fit for reads."""
        if self.mode != "PRIMARY" or self.status != "OPEN" or self.rw_standbys is None:
            return None
        targets = self.rw_standbys()
        if not targets:
            return None
        host, port = random.choice(targets)
        return host, port, len(targets)

    def execute_sys(self, sql: str) -> Result:
        """Run SQL as SYSDBA inside the server (autocommit; rows materialised)."""
        with self._sys_lock:
            if self.db is None:
                raise err(-8512, "server_starting")
            if self._sys_session is None:
                self._sys_session = self.db.session(user="SYSDBA")
                self._sys_session.autocommit = True
            r = self._sys_session.execute(sql)
            r.rows = list(r.rows)
            return r


__all__ = ["Instance", "InstSession", "DmError", "db_paths", "is_running", "open_database"]
