"""dminit: create a database directory as DM8's dminit does (KEY=VALUE arguments, `help`, `control=`).

The directory is built under a temporary name next to its final place and renamed at the end, so a
failure never leaves a half-written database behind.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys

from .. import ini as dmini
from .. import instmsg  # noqa: F401
from ..backup import new_magic
from ..errors import DmError, err
from ..instance import online_log_paths, open_database
from ..storage import ControlFile, fsync_dir

# name -> (default, validator description or allowed values)
PARAMS: dict[str, str | None] = {
    "INI_FILE": None, "PATH": None, "CTL_PATH": None, "LOG_PATH": None, "EXTENT_SIZE": "16", "PAGE_SIZE": "8",
    "LOG_SIZE": "256", "CASE_SENSITIVE": "Y", "CHARSET": "0", "UNICODE_FLAG": None, "LENGTH_IN_CHAR": "0",
    "SYSDBA_PWD": "SYSDBA", "SYSAUDITOR_PWD": "SYSAUDITOR", "DB_NAME": "DAMENG", "INSTANCE_NAME": "DMSERVER",
    "PORT_NUM": "5236", "BUFFER": "8000", "TIME_ZONE": "+08:00", "PAGE_CHECK": "3", "BLANK_PAD_MODE": "0",
    "MAL_FLAG": "0", "ARCH_FLAG": "0", "MPP_FLAG": "0", "AUTO_OVERWRITE": "0", "DPC_MODE": "0",
    "CONTROL": None, "USE_DB_NAME": "1", "HUGE_WITH_DELTA": "1", "RLOG_GEN_FOR_HUGE": "1",
    "PSEG_MGR_FLAG": "0", "CHAR_FIX_STORAGE": "0", "SQL_LOG_FORBID": "0", "ENCRYPT_NAME": None,
    "SYSSSO_PWD": None, "SYSDBO_PWD": None, "PRIV_FLAG": "0", "ELOG_PATH": None, "AP_PORT_NUM": None,
}

HELP = """initdb V8
db version: 0x7000c
格式: ./dminit     KEYWORD=value

例程: ./dminit     PATH=/public/dmdb/dmData PAGE_SIZE=16

关键字                     说明（默认值）
--------------------------------------------------------------------------------
INI_FILE                   初始化文件dm.ini存放的路径
PATH                       初始数据库存放的路径
CTL_PATH                   初始控制文件存放的路径
LOG_PATH                   初始日志文件存放的路径
EXTENT_SIZE                指定数据文件使用的簇大小(16)，可选值：16, 32, 64，单位：页
PAGE_SIZE                  数据页大小(8)，可选值：4, 8, 16, 32，单位：K
LOG_SIZE                   日志文件大小(256)，单位为：M，范围为：64M ~ 2G
CASE_SENSITIVE             大小敏感(Y)，可选值：Y/N，1/0
CHARSET/UNICODE_FLAG       字符集(0)，可选值：0[GB18030]，1[UTF-8]，2[EUC-KR]
LENGTH_IN_CHAR             VARCHAR类型长度是否以字符为单位(N)，可选值：Y/N，1/0
SYSDBA_PWD                 设置SYSDBA密码(SYSDBA)
SYSAUDITOR_PWD             设置SYSAUDITOR密码(SYSAUDITOR)
DB_NAME                    数据库名(DAMENG)
INSTANCE_NAME              实例名(DMSERVER)
PORT_NUM                   监听端口号(5236)
BUFFER                     系统缓存大小(8000)，单位M
TIME_ZONE                  设置时区(+08:00)
PAGE_CHECK                 页检查模式(3)，可选值：0/1/2/3
BLANK_PAD_MODE             设置空格填充模式(0)，可选值：0/1
MAL_FLAG                   初始化时设置dm.ini中的MAL_INI(0)
ARCH_FLAG                  初始化时设置dm.ini中的ARCH_INI(0)
AUTO_OVERWRITE             是否覆盖所有同名文件(0) 0:不覆盖 1:部分覆盖 2:完全覆盖
CONTROL                    初始化配置文件（配置文件格式见系统管理员手册）
HELP                       打印帮助信息
"""


def _bool(name: str, v: str) -> int:
    u = v.upper()
    if u in ("Y", "1"):
        return 1
    if u in ("N", "0"):
        return 0
    raise err(-803, "bad_init_param", name=name, value=v, hint=" (Y/N, 1/0)")


def _int(name: str, v: str, allowed: tuple[int, ...] | None = None, lo: int | None = None,
         hi: int | None = None) -> int:
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or (allowed and n not in allowed) or (lo is not None and n < lo) or (hi is not None and n > hi):
        hint = f" ({'/'.join(map(str, allowed))})" if allowed else f" ({lo}~{hi})"
        raise err(-803, "bad_init_param", name=name, value=v, hint=hint)
    return n


def parse_args(argv: list[str]) -> dict[str, str]:
    """KEY=VALUE arguments (keys case-insensitive), `control=<file>` merged first; unknown keys are errors."""
    given: dict[str, str] = {}
    for a in argv:
        if "=" not in a:
            raise err(-803, "unknown_init_param", name=a)
        k, v = a.split("=", 1)
        k = k.strip().upper()
        if k not in PARAMS:
            raise err(-803, "unknown_init_param", name=k)
        given[k] = v.strip().strip('"').strip("'")
    if "CONTROL" in given:
        path = given.pop("CONTROL")
        sec = dmini.load(path).top
        for k, v in sec.items:
            if k not in PARAMS:
                raise err(-803, "unknown_init_param", name=k)
            given.setdefault(k, v)
    return given


def validate(given: dict[str, str]) -> dict:
    """Check every value like DM8's dminit and return the effective settings."""
    p = {k: v for k, v in PARAMS.items() if v is not None}
    p.update(given)
    if "UNICODE_FLAG" in given and "CHARSET" not in given:
        p["CHARSET"] = given["UNICODE_FLAG"]
    if not p.get("PATH"):
        raise err(-803, "bad_init_param", name="PATH", value="", hint=" (PATH=<directory> is required)")
    cfg = {
        "path": os.path.abspath(p["PATH"]),
        "page_size": _int("PAGE_SIZE", p["PAGE_SIZE"], (4, 8, 16, 32)),
        "extent_size": _int("EXTENT_SIZE", p["EXTENT_SIZE"], (16, 32, 64)),
        "log_size": _int("LOG_SIZE", p["LOG_SIZE"], lo=1, hi=2048),
        "charset": _int("CHARSET", p["CHARSET"], (0, 1, 2)),
        "case_sensitive": _bool("CASE_SENSITIVE", p["CASE_SENSITIVE"]),
        "length_in_char": _bool("LENGTH_IN_CHAR", p["LENGTH_IN_CHAR"]),
        "blank_pad_mode": _int("BLANK_PAD_MODE", p["BLANK_PAD_MODE"], (0, 1)),
        "port": _int("PORT_NUM", p["PORT_NUM"], lo=1024, hi=65534),
        "page_check": _int("PAGE_CHECK", p["PAGE_CHECK"], (0, 1, 2, 3)),
        "mal_flag": _int("MAL_FLAG", p["MAL_FLAG"], (0, 1)),
        "arch_flag": _int("ARCH_FLAG", p["ARCH_FLAG"], (0, 1)),
        "auto_overwrite": _int("AUTO_OVERWRITE", p["AUTO_OVERWRITE"], (0, 1, 2)),
    }
    for key in ("DB_NAME", "INSTANCE_NAME"):
        v = p[key]
        if not v or len(v) > 128 or not all(c.isalnum() or c == "_" for c in v) or v[0].isdigit():
            raise err(-803, "bad_init_param", name=key, value=v, hint=" (letters, digits, _; <=128)")
    for key in ("SYSDBA_PWD", "SYSAUDITOR_PWD"):
        if key in given and not 9 <= len(given[key]) <= 48:
            raise err(-803, "bad_init_param", name=key, value="******", hint=" (9~48 characters)")
    cfg.update(db_name=p["DB_NAME"], instance=p["INSTANCE_NAME"], sysdba_pwd=p["SYSDBA_PWD"],
               sysauditor_pwd=p["SYSAUDITOR_PWD"], time_zone=p["TIME_ZONE"])
    return cfg


def dm_ini_text(cfg: dict, dbdir: str) -> str:
    """dm.ini of a new database, DM8's layout (tab-indented KEY = value #comment)."""
    rows = [
        ("#file location of dm.ctl", None),
        ("CTL_PATH", os.path.join(dbdir, "dm.ctl"), "ctl file path"),
        ("CTL_BAK_PATH", os.path.join(dbdir, "ctl_bak"), "dm.ctl backup path"),
        ("CTL_BAK_NUM", 10, "backup number of dm.ctl"),
        ("SYSTEM_PATH", dbdir, "system path"),
        ("CONFIG_PATH", dbdir, "config path"),
        ("TEMP_PATH", dbdir, "temporary file path"),
        ("BAK_PATH", os.path.join(dbdir, "bak"), "backup file path"),
        ("#instance name", None),
        ("INSTANCE_NAME", cfg["instance"], "Instance name"),
        ("#port", None),
        ("PORT_NUM", cfg["port"], "Port number on which the database server will listen"),
        ("#memory pool and buffer", None),
        ("MEMORY_POOL", 200, "Memory Pool Size In Megabyte"),
        ("BUFFER", 1000, "Initial System Buffer Size In Megabytes"),
        ("#system parameters", None),
        ("MAX_SESSIONS", 1000, "Maximum number of concurrent sessions"),
        ("TIME_ZONE", cfg["time_zone"], "Time zone"),
        ("PAGE_CHECK", cfg["page_check"], "page check mode"),
        ("PWD_POLICY", 2, "password policy"),
        ("#redo log and archive", None),
        ("RLOG_SEND_APPLY_MON", 64, "monitor send/apply of last n rlog packages"),
        ("ARCH_INI", cfg["arch_flag"], "dmarch.ini"),
        ("#data watch", None),
        ("MAL_INI", cfg["mal_flag"], "dmmal.ini"),
        ("ALTER_MODE_STATUS", 1, "allow manual change of mode/status/oguid"),
        ("ENABLE_OFFLINE_TS", 1, "allow tablespace offline"),
        ("DW_INACTIVE_INTERVAL", 60, "time out for dmwatcher"),
        ("#log", None),
        ("SVR_LOG", 0, "sql log"),
    ]
    out = ["#DaMeng Database Server Configuration file", "#this is comments", ""]
    for r in rows:
        if r[1] is None:
            out.append(r[0])
        else:
            out.append(f"\t\t{r[0]:<32}= {str(r[1]):<24} #{r[2]}")
    return "\n".join(out) + "\n"


def create(cfg: dict, out=sys.stdout) -> str:
    """Create the database directory; returns its path."""
    dbdir = os.path.join(cfg["path"], cfg["db_name"])
    if os.path.exists(dbdir) and (not os.path.isdir(dbdir) or os.listdir(dbdir)):
        if cfg["auto_overwrite"] == 0:
            raise err(-803, "db_exists", path=dbdir)
        shutil.rmtree(dbdir)
    made_parent = not os.path.isdir(cfg["path"])
    os.makedirs(cfg["path"], exist_ok=True)
    tmp = os.path.join(cfg["path"], f".{cfg['db_name']}.dminit-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(os.path.join(tmp, "bak"))
        os.makedirs(os.path.join(tmp, "ctl_bak"))
        with open(os.path.join(tmp, "dm.ini"), "w", encoding="utf-8") as f:
            f.write(dm_ini_text(cfg, dbdir))
        with open(os.path.join(tmp, "sqllog.ini"), "w", encoding="utf-8") as f:
            f.write("BUF_TOTAL_SIZE = 10240\nBUF_SIZE = 1024\nBUF_KEEP_CNT = 6\n")
        for name in ("MAIN.DBF", "ROLL.DBF", "TEMP.DBF"):
            with open(os.path.join(tmp, name), "wb") as f:
                f.truncate(32 * 1024 * 1024 if name != "TEMP.DBF" else 10 * 1024 * 1024)
        for p in online_log_paths(tmp, cfg["db_name"]):
            open(p, "wb").close()
        db = open_database(os.path.join(tmp, "SYSTEM.DBF"), bool(cfg["case_sensitive"]), None)
        try:
            _init_users(db, cfg)
        finally:
            close = getattr(db, "close", None)
            if callable(close):
                close()
        pm = new_magic()
        ControlFile.create(os.path.join(tmp, "dm.ctl"), {
            "db_name": cfg["db_name"], "permanent_magic": pm, "db_magic": new_magic(pm),
            "page_size": cfg["page_size"], "extent_size": cfg["extent_size"], "charset": cfg["charset"],
            "case_sensitive": cfg["case_sensitive"], "length_in_char": cfg["length_in_char"],
            "blank_pad_mode": cfg["blank_pad_mode"], "log_size": cfg["log_size"],
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
        })
        if os.path.isdir(dbdir):
            os.rmdir(dbdir)
        os.rename(tmp, dbdir)
        fsync_dir(cfg["path"])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_parent:
            shutil.rmtree(cfg["path"], ignore_errors=True)
        raise
    return dbdir


def _init_users(db, cfg: dict) -> None:
    """SYSDBA / SYSAUDITOR with the requested passwords (the engine creates its catalog)."""
    for user, pwd in (("SYSDBA", cfg["sysdba_pwd"]), ("SYSAUDITOR", cfg["sysauditor_pwd"])):
        db.create_user(user, pwd, "MAIN")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].lower() in ("help", "-h", "--help", "-help"):
        print(HELP)
        return 0 if argv else 1
    try:
        cfg = validate(parse_args(argv))
        print("initdb V8")
        print("db version: 0x7000c")
        print("file dm.key not found, use default license!")
        print(f"License will expire on {(_dt.date.today() + _dt.timedelta(days=365)):%Y-%m-%d}")
        for pool in ("FAST", "DEFAULT", "RECYCLE", "KEEP", "ROLL"):
            print(f"Normal of {pool}")
        dbdir = create(cfg)
        for p in online_log_paths(dbdir, cfg["db_name"]):
            print(f"\n log file path: {p}\n")
        print(f"write to dir [{dbdir}].")
        print(f"create dm database success. {_dt.datetime.now():%Y-%m-%d %H:%M:%S}")
        return 0
    except DmError as e:
        print(f"[{e.code}]:{e.message}" if e.code != -803 else e.message, file=sys.stderr)
        print("fail to init db.", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{e.strerror}: {e.filename}", file=sys.stderr)
        print("fail to init db.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
