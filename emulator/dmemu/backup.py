"""Backup sets, restore, recover, UPDATE DB_MAGIC and archive repair (dmrman and BACKUP DATABASE).

A backup set is a directory `<dir>/` holding `<basename>.bak` (a consistent SQLite copy of SYSTEM.DBF,
taken with SQLite's online backup API) and `<basename>.meta` (JSON: permanent magic, DB magic, LSN,
tablespaces, creation parameters). Restore keeps the target's own OGUID and mode; it takes the data,
the magics and the tablespaces from the set, and leaves the database needing RECOVER before it starts.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import shutil
import sqlite3
import time

from . import instmsg  # noqa: F401 - registers messages
from .archconfig import load_arch
from .errors import err
from .instance import Instance, db_paths, is_running, online_log_paths, open_database
from .storage import ArchiveDest, ControlFile, LocalArchive, OnlineLog, fsync_dir, write_atomic

META_KEYS = ("permanent_magic", "db_magic", "db_name", "page_size", "extent_size", "charset", "case_sensitive",
             "length_in_char", "blank_pad_mode", "log_size", "tablespaces")


def new_magic(old: int = 0) -> int:
    """A random positive 31-bit magic different from `old`."""
    while True:
        m = random.SystemRandom().randint(0x10000000, 0x7FFFFFFF)
        if m != old:
            return m


def _sqlite_copy(src: str, dst: str) -> None:
    tmp = dst + ".part"
    if os.path.exists(tmp):
        os.remove(tmp)
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(tmp)
    try:
        s.backup(d)
        d.execute("PRAGMA journal_mode=DELETE")
    finally:
        d.close()
        s.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    fsync_dir(os.path.dirname(os.path.abspath(dst)))


def _set_files(setdir: str) -> tuple[str, str]:
    base = os.path.basename(os.path.normpath(setdir))
    return os.path.join(setdir, base + ".bak"), os.path.join(setdir, base + ".meta")


def _prepare_dir(setdir: str) -> None:
    if os.path.isdir(setdir) and os.listdir(setdir):
        raise err(-8513, "backupset_exists", path=setdir)
    os.makedirs(setdir, exist_ok=True)


def _lsn_of(copy_path: str, fallback: int) -> int:
    try:
        db = open_database(copy_path, False, None)
        try:
            return int(db.cur_lsn)
        finally:
            close = getattr(db, "close", None)
            if callable(close):
                close()
    except Exception:                          # noqa: BLE001 - engine absent or copy unreadable
        return fallback


def _write_set(setdir: str, src_dbf: str, ctl: dict, lsn: int, kind: str) -> str:
    _prepare_dir(setdir)
    bak, meta = _set_files(setdir)
    try:
        _sqlite_copy(src_dbf, bak)
        lsn = _lsn_of(bak, lsn)
        info = {k: ctl[k] for k in META_KEYS}
        info.update(lsn=lsn, type="FULL", kind=kind, created=_dt.datetime.now().isoformat(timespec="seconds"))
        write_atomic(meta, json.dumps(info, indent=1).encode())
    except BaseException:
        shutil.rmtree(setdir, ignore_errors=True)
        raise
    return setdir


def default_set_name(db_name: str) -> str:
    """DM8's default backup set name: DB_<db>_FULL_YYYYMMDD_HHMMSS_ffffff."""
    return f"DB_{db_name}_FULL_{_dt.datetime.now():%Y%m%d_%H%M%S_%f}"


def backup_online(inst: Instance, setdir: str | None) -> str:
    """BACKUP DATABASE FULL BACKUPSET ['dir'] from a session; needs archive mode (DM8 rule)."""
    if not inst.arch_mode:
        raise err(-8514, "arch_mode_off")
    bak_root = inst.paths["bak"]
    if not setdir:
        setdir = os.path.join(bak_root, default_set_name(inst.db_name))
    elif not os.path.isabs(setdir):
        setdir = os.path.join(bak_root, setdir)
    with inst._redo_lock:
        return _write_set(setdir, inst.paths["system_dbf"], inst.ctl.data, inst.cur_lsn, "online")


def _offline_checks(ini_path: str) -> dict[str, str]:
    if not os.path.isfile(ini_path):
        raise err(-803, "ini_not_found", path=ini_path)
    p = db_paths(ini_path)
    if is_running(p["lock"]):
        raise err(-8515, "db_running", path=p["dir"])
    return p


def backup_offline(ini_path: str, setdir: str) -> str:
    """dmrman BACKUP DATABASE '<ini>' FULL BACKUPSET '<dir>' (the database must be stopped)."""
    p = _offline_checks(ini_path)
    ctl = ControlFile.load(p["ctl"])
    if not ctl["clean_shutdown"]:
        raise err(-8516, "not_clean", path=p["dir"])
    if not os.path.isabs(setdir):
        setdir = os.path.join(p["bak"], setdir)
    return _write_set(setdir, p["system_dbf"], ctl.data, 0, "offline")


def read_meta(setdir: str) -> dict:
    bak, meta = _set_files(setdir)
    try:
        with open(meta, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        raise err(-8517, "bad_backupset", path=setdir) from None
    if not os.path.isfile(bak):
        raise err(-8517, "bad_backupset", path=setdir)
    return info


def restore(ini_path: str, setdir: str) -> None:
    """RESTORE DATABASE '<ini>' FROM BACKUPSET '<dir>': data, magics and tablespaces from the set."""
    p = _offline_checks(ini_path)
    info = read_meta(setdir)
    bak, _ = _set_files(setdir)
    ctl = ControlFile.load(p["ctl"])
    for suffix in ("-wal", "-shm"):
        if os.path.exists(p["system_dbf"] + suffix):
            os.remove(p["system_dbf"] + suffix)
    _sqlite_copy(bak, p["system_dbf"])
    tablespaces = []
    for ts in info["tablespaces"]:
        files = []
        for f in ts["files"]:
            path = os.path.join(p["dir"], os.path.basename(f["path"]))
            with open(path, "ab") as fh:
                fh.truncate(max(os.path.getsize(path), int(f["size_mb"]) * 1024 * 1024))
            files.append({"path": path, "size_mb": f["size_mb"]})
        tablespaces.append({**ts, "files": files})
    OnlineLog(online_log_paths(p["dir"], info["db_name"]), int(info["log_size"])).reset()
    values = {k: info[k] for k in META_KEYS if k != "tablespaces"}
    values.update(tablespaces=tablespaces, restore_pending="RECOVER", first_start_done=True,
                  clean_shutdown=True, restored_from=os.path.abspath(setdir))
    ctl.update(**values)


def recover_from_backupset(ini_path: str, setdir: str) -> None:
    """RECOVER DATABASE '<ini>' FROM BACKUPSET '<dir>': the restored data is consistent at the set's LSN."""
    p = _offline_checks(ini_path)
    info = read_meta(setdir)
    ctl = ControlFile.load(p["ctl"])
    if int(info["permanent_magic"]) != int(ctl["permanent_magic"]):
        raise err(-8518, "magic_mismatch")
    ctl.update(restore_pending="UPDATE_DB_MAGIC" if ctl["restore_pending"] else "")


def update_db_magic(ini_path: str) -> int:
    """RECOVER DATABASE '<ini>' UPDATE DB_MAGIC: a new DB magic (a restored copy must differ from its source)."""
    p = _offline_checks(ini_path)
    ctl = ControlFile.load(p["ctl"])
    if ctl["restore_pending"] == "RECOVER":
        raise err(-8519, "recover_first")
    magic = new_magic(int(ctl["db_magic"]))
    ctl.update(db_magic=magic, restore_pending="")
    return magic


def repair_archivelog(ini_path: str) -> tuple[int, int, int]:
    """REPAIR ARCHIVELOG DATABASE '<ini>': cut torn tails of archive and online files.

    Returns (files fixed, cur_lsn, file_lsn)."""
    p = _offline_checks(ini_path)
    ctl = ControlFile.load(p["ctl"])
    top = {k.upper(): v for k, v in _ini_top(p["ini"]).items()}
    fixed = 0
    for a in load_arch(p["config"], top.get("ARCH_INI", "0") == "1"):
        if a["type"] == "LOCAL":
            fixed += LocalArchive(ArchiveDest(a["name"], a["dest"], int(a["file_size"]))).repair()[0]
    log = OnlineLog(online_log_paths(p["dir"], ctl["db_name"]), int(ctl["log_size"]))
    log.cut_torn_tails()
    lsn = log.last_lsn()
    return fixed, lsn, lsn


def _ini_top(path: str) -> dict[str, str]:
    from . import ini as dmini
    return dmini.load(path).top.as_dict()


def elapsed(t0: float) -> str:
    """dmrman's `time used` figure."""
    return f"{(time.time() - t0) * 1000:.3f}(ms)"
