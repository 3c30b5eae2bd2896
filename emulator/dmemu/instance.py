"""Instance: one DM8 database instance (implements api.Server and the SQL engine's hooks).

State as DM8 keeps it (ARCHITECTURE.md "Instance contract"): identity and mode in the control file,
status in memory, LSNs from the engine plus the online redo log. Every commit becomes a RedoRecord:
LSNs assigned, handed to the REALTIME sender (dw) first, then written to the online log (fsync) and
the local archives, then the engine commits. Start-up replays online-log records the engine has not
committed yet, so a kill -9 loses no acknowledged commit.

Here: identity, lifecycle (start, recovery order, shutdown), status/mode changes, tablespaces and the
api.Server face. Redo writing, shipping and apply live in redo.py, archive configuration in
archconfig.py (both mixins of Instance), client sessions in session.py.
"""

from __future__ import annotations

import collections
import fcntl
import os
import random
import re
import threading
import time
from collections.abc import Callable

from . import SERVER_VERSION, anomalies, bugs, instmsg, statements, sysviews  # noqa: F401 - instmsg registers messages
from . import ini as dmini
from .api import SVR_MODE, SVR_STAT, Column, RedoRecord, Result
from .archconfig import InstanceArchives
from .errors import DmError, err
from .redo import INST_OP, InstanceRedo
from .session import InstSession
from .storage import ControlFile, LocalArchive, OnlineLog

STATUSES = ("STARTUP", "AFTER REDO", "MOUNT", "OPEN", "SUSPEND", "SHUTDOWN")
MODES = ("NORMAL", "PRIMARY", "STANDBY")
_LEGAL = {("STARTUP", "MOUNT"), ("MOUNT", "OPEN"), ("OPEN", "MOUNT"), ("OPEN", "SUSPEND"),
          ("SUSPEND", "OPEN"), ("SUSPEND", "MOUNT")}
_MOUNT_OK = re.compile(r"^\s*SELECT\b", re.I)
_FROM_TARGETS = re.compile(r"\b(?:FROM|JOIN)\s+([\w$.\"]+)", re.I)


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


class Instance(InstanceRedo, InstanceArchives):
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

    # ---- parameters ------------------------------------------------------------------------
    def set_para(self, name: str, value: str, scope: int = 1) -> None:
        """SP_SET_PARA_VALUE / ALTER SYSTEM SET: scope 0 = memory, 1 = memory and dm.ini, 2 = dm.ini only."""
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise err(-8507, "bad_para", name=name)
        if scope != 0:
            dmini.set_keys(self.ini_path, {name: value})
        if scope != 2:
            self.ini[name] = value

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
