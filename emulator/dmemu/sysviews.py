"""Dynamic views the instance owns: V$INSTANCE, V$DATABASE, V$RLOG, V$ARCH_STATUS, V$DM_INI,
V$PARAMETER, V$DM_ARCH_INI, V$TABLESPACE, V$DATAFILE, V$ARCH_FILE. Columns and values as DM8 shows them
(behaviour reference §2.3). Each provider returns (columns, rows).
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import BUILD_VERSION, SERVER_VERSION
from .api import SVR_STAT, Column

if TYPE_CHECKING:
    from .instance import Instance

BUILTIN_TS = ("SYSTEM", "ROLL", "TEMP", "MAIN", "HMAIN")
_ROLE = {"NORMAL": 0, "PRIMARY": 1, "STANDBY": 2}


def _v(name: str, n: int = 128) -> Column:
    return Column(name, "VARCHAR", n)


def _i(name: str) -> Column:
    return Column(name, "INT", 10)


def _b(name: str) -> Column:
    return Column(name, "BIGINT", 19)


def _dt_col(name: str) -> Column:
    return Column(name, "DATETIME", 26, 6)


def v_instance(inst: Instance):
    cols = [_v("NAME"), _v("INSTANCE_NAME"), _i("INSTANCE_NUMBER"), _v("HOST_NAME"), _v("SVR_VERSION"),
            _v("DB_VERSION"), _dt_col("START_TIME"), _v("STATUS$"), _v("MODE$"), _i("OGUID"),
            _i("DSC_SEQNO"), _v("DSC_ROLE"), _v("BUILD_VERSION"), _dt_col("BUILD_TIME")]
    row = (inst.name, inst.name, 1, socket.gethostname(), f"DM Database Server 64 V{SERVER_VERSION}",
           "DB Version: 0x7000c", _dt.datetime.fromtimestamp(inst.start_time).replace(microsecond=0),
           inst.status, inst.mode, inst.oguid, 0, None, BUILD_VERSION, _dt.datetime(2026, 11, 24, 0, 0, 0))
    return cols, [row]


def v_database(inst: Instance):
    cols = [_v("NAME"), _dt_col("CREATE_TIME"), _v("ARCH_MODE", 1), _b("LAST_CKPT_TIME"), _i("STATUS$"),
            _i("ROLE$"), _b("MAX_SIZE"), _b("TOTAL_SIZE"), _v("DSC_NODES"), _i("OPEN_COUNT"),
            _i("STARTUP_COUNT"), _dt_col("LAST_STARTUP_TIME")]
    created = inst.ctl["created"]
    try:
        ctime = _dt.datetime.fromisoformat(created) if created else None
    except ValueError:
        ctime = None
    total = sum(f["size_mb"] for t in inst.ctl["tablespaces"] for f in t["files"]) * 1024 // inst.ctl["page_size"]
    row = (inst.db_name, ctime, "Y" if inst.arch_mode else "N", 0, SVR_STAT.get(inst.status, 6),
           _ROLE[inst.mode], 0, total, "1", inst.n_open, inst.n_open,
           _dt.datetime.fromtimestamp(inst.start_time).replace(microsecond=0))
    return cols, [row]


def v_rlog(inst: Instance):
    cols = [_b("CKPT_LSN"), _b("FILE_LSN"), _b("FLUSH_LSN"), _b("CUR_LSN"), _b("NEXT_SEQ"), _i("N_MAGIC"),
            _i("DB_MAGIC"), _i("FLUSH_PAGES"), _i("FLUSHING_PAGES"), _i("CUR_FILE"), _i("CUR_OFFSET"),
            _i("CKPT_FILE"), _i("CKPT_OFFSET"), _b("FREE_SPACE"), _b("TOTAL_SPACE"), _i("SUSPEND_TIME"),
            _i("UPD_CTL_LSN"), _i("N_RESERVE"), _i("STATUS")]
    cur = inst.log.paths[inst.log.cur]
    off = os.path.getsize(cur) if os.path.exists(cur) else 0
    total = 2 * int(inst.ctl["log_size"]) * 1024 * 1024
    row = (inst.file_lsn, inst.file_lsn, inst.file_lsn, inst.cur_lsn, inst._seq + 1, 0, inst.db_magic, 0, 0,
           inst.log.cur, off, inst.log.cur, off, total - off, total, 0, 0, 0, 0)
    return cols, [row]


def v_arch_status(inst: Instance):
    cols = [_v("ARCH_NAME"), _v("ARCH_TYPE"), _v("ARCH_DEST"), _v("ARCH_SRC"), _v("ARCH_STATUS")]
    rows = [(a["name"], a["type"], a["dest"], inst.name, a["status"]) for a in inst.arch]
    return cols, rows


def v_dm_arch_ini(inst: Instance):
    cols = [_v("ARCH_NAME"), _v("ARCH_TYPE"), _v("ARCH_DEST"), _i("ARCH_FILE_SIZE"), _i("ARCH_SPACE_LIMIT"),
            _v("ARCH_HANG_FLAG"), _i("ARCH_FLUSH_BUF_SIZE"), _v("ARCH_TIMER_NAME"), _i("ARCH_IS_VALID")]
    rows = [(a["name"], a["type"], a["dest"], a["file_size"], a["space_limit"], "1", 0, None,
             1 if a["status"] == "VALID" else 0) for a in inst.arch]
    return cols, rows


def v_arch_file(inst: Instance):
    cols = [_v("PATH", 512), _v("SEQ"), _b("LEN"), _b("FREE"), _b("ARCH_LSN"), _b("CLSN"), _v("STATUS")]
    rows = []
    for a in inst._archives:
        for p in a.files():
            try:
                rows.append((p, "0", os.path.getsize(p), 0, 0, 0, "ACTIVE"))
            except FileNotFoundError:            # deleted meanwhile by ARCH_SPACE_LIMIT
                pass
    return cols, rows


# Parameters DM8 always has; dm.ini values override. (name -> default, type)
INI_DEFAULTS: dict[str, str] = {
    "INSTANCE_NAME": "DMSERVER", "PORT_NUM": "5236", "MAX_SESSIONS": "1000", "ALTER_MODE_STATUS": "1",
    "ENABLE_OFFLINE_TS": "1", "MAL_INI": "0", "ARCH_INI": "0", "DW_INACTIVE_INTERVAL": "60",
    "PAGE_CHECK": "3", "COMPATIBLE_MODE": "0", "CASE_SENSITIVE": "1", "LANGUAGE": "0", "TIME_ZONE": "+08:00",
    "BUFFER": "1000", "MEMORY_POOL": "200", "DW_PORT": "0", "MAL_CHECK_INTERVAL": "30",
    "PWD_POLICY": "2", "CALC_AS_DECIMAL": "0", "RLOG_SEND_APPLY_MON": "64", "ARCH_WAIT_APPLY": "1",
    "MPP_INI": "0", "DSC_N_POOLS": "2", "ENABLE_ENCRYPT": "0", "SVR_LOG": "0", "BAK_USE_AP": "1",
    "CLT_CONST_TO_PARAM": "0", "PK_WITH_CLUSTER": "0", "LENGTH_IN_CHAR": "0", "BLANK_PAD_MODE": "0",
    "NLS_DATE_FORMAT": "", "NLS_TIMESTAMP_FORMAT": "", "GLOBAL_STR_CASE_SENSITIVE": "1",
}


def _params(inst: Instance) -> list[tuple[str, str]]:
    vals = dict(INI_DEFAULTS)
    vals["CASE_SENSITIVE"] = str(int(bool(inst.ctl["case_sensitive"])))
    vals["LENGTH_IN_CHAR"] = str(inst.ctl["length_in_char"])
    vals["BLANK_PAD_MODE"] = str(inst.ctl["blank_pad_mode"])
    vals.update(inst.ini)
    return sorted(vals.items())


def v_dm_ini(inst: Instance):
    cols = [_v("PARA_NAME"), _v("PARA_VALUE", 256), _v("MIN_VALUE"), _v("MAX_VALUE"), _v("DEFAULT_VALUE"),
            _v("MPP_CHK", 1), _v("SESS_VALUE", 256), _v("FILE_VALUE", 256), _v("DESCRIPTION", 256),
            _v("PARA_TYPE")]
    rows = [(k, v, None, None, INI_DEFAULTS.get(k, v), "N", v, v, None, "SYS") for k, v in _params(inst)]
    return cols, rows


def v_parameter(inst: Instance):
    cols = [_i("ID"), _v("NAME"), _v("TYPE"), _v("VALUE", 256), _v("SYS_VALUE", 256), _v("FILE_VALUE", 256),
            _v("DESCRIPTION", 256), _v("DEFAULT_VALUE")]
    rows = [(i, k, "SYS", v, v, v, None, INI_DEFAULTS.get(k, v)) for i, (k, v) in enumerate(_params(inst))]
    return cols, rows


def _all_ts(inst: Instance) -> list[dict]:
    base = [{"name": n, "id": i, "files": [{"path": os.path.join(inst.path, f"{n}.DBF"), "size_mb": 64}]}
            for i, n in enumerate(("SYSTEM", "ROLL", "TEMP", "MAIN"))]
    base.append({"name": "HMAIN", "id": 4, "files": []})
    return base + list(inst.ctl["tablespaces"])


def v_tablespace(inst: Instance):
    cols = [_i("ID"), _v("NAME"), _i("CACHE"), _i("TYPE$"), _i("STATUS$"), _i("MAX_SIZE"), _b("TOTAL_SIZE"),
            _i("FILE_NUM"), _i("ENCRYPT_NAME"), _v("ENCRYPTED_KEY"), _i("COPY_NUM"), _i("SIZE_MODE"),
            _i("OPT_NODE"), _i("USED_SIZE")]
    rows = []
    page = int(inst.ctl["page_size"])
    for t in _all_ts(inst):
        pages = sum(f["size_mb"] for f in t["files"]) * 1024 // page
        rows.append((t["id"], t["name"], 0, 2 if t["name"] == "TEMP" else 1, 0, 0, pages, len(t["files"]),
                     0, None, 0, 0, 0, 0))
    return cols, rows


def v_datafile(inst: Instance):
    cols = [_i("GROUP_ID"), _i("ID"), _v("PATH", 512), _dt_col("CREATE_TIME"), _i("STATUS$"), _v("RW_STATUS$"),
            _b("LAST_CKPT_TIME"), _i("MODIFY_TIME"), _i("MODIFY_TRX"), _b("TOTAL_SIZE"), _b("FREE_SIZE"),
            _b("FREE_PAGE_NO"), _i("PAGES_READ"), _i("PAGES_WRITE"), _i("PAGE_SIZE"), _v("AUTO_EXTEND", 1)]
    page = int(inst.ctl["page_size"])
    rows = []
    for t in _all_ts(inst):
        for i, f in enumerate(t["files"]):
            pages = f["size_mb"] * 1024 // page
            rows.append((t["id"], i, f["path"], None, 1, "READ WRITE", 0, 0, 0, pages, pages, 0, 0, 0,
                         page * 1024, "Y"))
    return cols, rows


PROVIDERS: dict[str, Callable[[Instance], tuple[list[Column], list[tuple]]]] = {
    "V$INSTANCE": v_instance, "V$DATABASE": v_database, "V$RLOG": v_rlog, "V$ARCH_STATUS": v_arch_status,
    "V$DM_ARCH_INI": v_dm_arch_ini, "V$ARCH_FILE": v_arch_file, "V$DM_INI": v_dm_ini,
    "V$PARAMETER": v_parameter, "V$TABLESPACE": v_tablespace, "V$DATAFILE": v_datafile,
}
