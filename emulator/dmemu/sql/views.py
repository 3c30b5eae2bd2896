"""Built-in dictionary views the engine answers itself: SYSOBJECTS, ALL_/DBA_/USER_ views.

Each provider returns (columns, rows) from a Catalog snapshot; the engine loads them into a session's
TEMP table when a statement names them, so they take full SQL. V$ views come from hooks.system_view.
"""

from __future__ import annotations

from collections.abc import Callable

from ..api import Column
from .catalog import SYSTEM_USERS, Catalog

_SYS_TABLES = (
    "SYSOBJECTS SYSINDEXES SYSCOLUMNS SYSCONS SYSTEXTS SYSGRANTS SYSAUDIT SYSAUDITRULES SYSSTATS "
    "SYSHPARTTABLEINFO SYSDUAL SYSCOLCYT SYSACCHISTORIES SYSPWDCHGS SYSCONTEXTINDEXES SYSTABLECOMMENTS "
    "SYSCOLUMNCOMMENTS SYSUSERS SYSOBJINFOS SYSRESOURCES SYSDEPENDENCIES SYSMSTATS SYSINJECTHINT "
    "SYSCHECKS SYSTRIGGERS SYSPROFILES SYSUSERINI SYSCOLINFOS SYSPACKAGES SYSTYPES SYSLOBINFO "
    "SYSDISTABLEINFO SYSCLASSINFO SYSMODULES SYSDBLINKS SYSDIRECTORIES SYSJOBS SYSJOBSTEPS SYSJOBSCHEDULES "
    "SYSMAILINFO SYSALERTS SYSALERTNOTIFICATIONS SYSOPERATORS SYSJOBHISTORIES SYSJOBHISTORIES2 "
    "SYSSTEPHISTORIES SYSSTEPHISTORIES2 SYSEXECUTEHISTORIES SYSSTEPEXECUTEHISTORIES SYSPLANHINT "
    "SYSRECYCLEBIN SYSSNAPSHOTS SYSSNAPSHOT_DEPS SYSUSER_POLICY SYSOBJ_POLICY SYSCIPHERS SYSENCCOLUMNS "
    "SYSTSCHECKS SYSCONTEXTS SYSPOLICIES SYSPOLICYGROUPS SYSPOLICYCONTEXTS SYSMACPLYS SYSMACLVLS "
    "SYSMACCOMPS SYSMACGRPS SYSMACUSRS SYSMACOBJ SYSMACTABPLY SYSSECURITYCATALOG SYSDEFAULTS"
).split()
_SYS_VIEWS = (
    "ALL_USERS DBA_USERS USER_USERS ALL_TABLES DBA_TABLES USER_TABLES ALL_TAB_COLUMNS DBA_TAB_COLUMNS "
    "USER_TAB_COLUMNS ALL_OBJECTS DBA_OBJECTS USER_OBJECTS ALL_INDEXES DBA_INDEXES USER_INDEXES "
    "ALL_IND_COLUMNS DBA_IND_COLUMNS USER_IND_COLUMNS ALL_SEQUENCES DBA_SEQUENCES USER_SEQUENCES ALL_VIEWS "
    "DBA_VIEWS USER_VIEWS ALL_CONSTRAINTS DBA_CONSTRAINTS USER_CONSTRAINTS ALL_CONS_COLUMNS "
    "DBA_CONS_COLUMNS USER_CONS_COLUMNS ALL_SYNONYMS DBA_SYNONYMS USER_SYNONYMS ALL_TRIGGERS DBA_TRIGGERS "
    "USER_TRIGGERS ALL_SOURCE DBA_SOURCE USER_SOURCE ALL_TAB_COMMENTS DBA_TAB_COMMENTS USER_TAB_COMMENTS "
    "ALL_COL_COMMENTS DBA_COL_COMMENTS USER_COL_COMMENTS DBA_TABLESPACES USER_TABLESPACES DBA_DATA_FILES "
    "DBA_FREE_SPACE DBA_SEGMENTS USER_SEGMENTS DBA_EXTENTS DBA_ROLES DBA_ROLE_PRIVS USER_ROLE_PRIVS "
    "DBA_SYS_PRIVS USER_SYS_PRIVS DBA_TAB_PRIVS USER_TAB_PRIVS ALL_TAB_PRIVS DBA_PROFILES DBA_JOBS "
    "USER_JOBS ALL_DIRECTORIES DBA_DIRECTORIES ALL_DB_LINKS DBA_DB_LINKS ALL_PROCEDURES DBA_PROCEDURES "
    "USER_PROCEDURES ALL_ARGUMENTS USER_ARGUMENTS ALL_DEPENDENCIES DBA_DEPENDENCIES USER_DEPENDENCIES "
    "ALL_TAB_PARTITIONS DBA_TAB_PARTITIONS USER_TAB_PARTITIONS ALL_PART_TABLES DBA_PART_TABLES "
    "USER_PART_TABLES DBA_RECYCLEBIN USER_RECYCLEBIN DICTIONARY DICT"
).split()
_DYN_VIEWS = (
    "INSTANCE DATABASE RLOG RLOGFILE ARCH_STATUS ARCH_FILE ARCH_SEND_INFO ARCH_APPLY_INFO RAPPLY_SYS "
    "RAPPLY_STAT DM_INI DM_ARCH_INI DM_MAL_INI MAL_LINK_STATUS MAL_SYS DMWATCHER DMMONITOR UTSK_INFO "
    "UTSK_SYS2 TABLESPACE DATAFILE SESSIONS PARAMETER VERSION LICENSE BUFFERPOOL CKPT LOCK TRX TRXWAIT "
    "SQL_HISTORY SYSSTAT SYSTEM MEM_POOL PURGE RLOG_PKG DEADLOCK_HISTORY LONG_EXEC_SQLS SESSION_HISTORY "
    "THREADS TASK_QUEUE WTHRD_HISTORY PROCESS IID RUNTIME_ERR_HISTORY DB_CACHE DB_OBJECT_CACHE SQL_STAT "
    "SESSION_STAT SQLTEXT CACHEITEM CACHESQL CACHEPLN RLOG_RAFT_INFO ARCH_QUEUE ARCH_SEND_DETAIL_INFO "
    "LATCHES RESERVED_WORDS NLS_PARAMETERS CIPHERS ERR_INFO PSEG_SYS PSEG_ITEMS DYNAMIC_TABLES "
    "DYNAMIC_TABLE_COLUMNS SEGMENT_INFOS TABLESPACE_QUOTA AUDITRECORDS DM_MONITOR_INI DM_WATCHER_INI"
).split()
_PACKAGES = ("DBMS_RANDOM DBMS_OUTPUT DBMS_LOB DBMS_SQL DBMS_JOB DBMS_STATS DBMS_METADATA DBMS_UTILITY "
             "DBMS_LOCK DBMS_ALERT DBMS_PIPE DBMS_XMLGEN DBMS_SESSION DBMS_SPACE UTL_FILE UTL_RAW UTL_MAIL "
             "UTL_ENCODE DBMS_CRYPTO DBMS_REDEFINITION DBMS_SCHEDULER DBMS_TRANSACTION").split()
_PROCS = ("SP_SET_OGUID SP_SET_PARA_VALUE SP_SET_PARA_DOUBLE_VALUE SP_SET_PARA_STRING_VALUE SP_APPLY_KEEP_PKG "
          "SP_SET_GLOBAL_DW_STATUS SP_DB_STAT_INIT SP_CREATE_SYSTEM_PACKAGES SP_INIT_JOB_SYS SP_TAB_INDEX_STAT_INIT "
          "SP_CREATE_AUDIT_VIEWS SP_ARCH_SYNC_STATUS SP_SET_SESSION_READONLY SP_CLOSE_SESSION SP_CANCEL_SESSION_OPERATION "
          "SP_RECLAIM_TS_FREE_EXTENTS SP_TRUNC_TS_FILE SP_CHECK_IDX SP_REBUILD_INDEX SP_CREATE_DBLINK "
          "SF_GET_PARA_VALUE SF_GET_SESSION_PARA_VALUE SF_GET_SYSTEM_PATH SF_GET_SGUID SF_GET_EP_SEQNO "
          "SF_CHECK_USER_TABLE_PRIV SF_GET_INDEX_KEY_SEQ SF_DM_MAL_INI_GET SF_MAL_CONFIG SF_MAL_INST_ADD "
          "SF_MAL_CONFIG_APPLY SF_ARCHIVELOG_DELETE_BEFORE_TIME SF_ARCHIVELOG_DELETE_BEFORE_LSN "
          "SP_SET_DB_MAGIC SP_DW_SWITCH SP_GET_WATCHER_STATUS").split()
_ROLES = "DBA RESOURCE PUBLIC SOI SVI VTI DB_AUDIT_ADMIN DB_AUDIT_OPER DB_AUDIT_PUBLIC DB_AUDIT_SOI " \
         "DB_AUDIT_SVI DB_AUDIT_VTI DB_POLICY_ADMIN DB_POLICY_OPER DB_POLICY_PUBLIC".split()

SCH_BASE = 150994944
USER_BASE = 50331648
ROLE_BASE = 67108864
IDX_BASE = 33554432


def _c(name: str, t: str = "VARCHAR", p: int = 128, s: int = 0) -> Column:
    return Column(name, t, p, s)


SYSOBJECTS_COLS = [_c("NAME"), _c("ID", "INT", 10), _c("SCHID", "INT", 10), _c("TYPE$", p=10),
                   _c("SUBTYPE$", p=10), _c("PID", "INT", 10), _c("VERSION", "INT", 10),
                   _c("CRTDATE", "DATETIME", 26, 6), _c("INFO1", "INT", 10), _c("INFO2", "INT", 10),
                   _c("INFO3", "BIGINT", 19), _c("INFO4", "BIGINT", 19), _c("VALID", "CHAR", 1)]


def _system_objects(created: str) -> list[tuple]:
    rows: list[tuple] = []
    sys_sch = SCH_BASE

    def add(name, oid, schid, typ, sub, pid=-1, info1=0):
        rows.append((name, oid, schid, typ, sub, pid, 0, created, info1, 0, 0, 0, "Y"))

    for i, u in enumerate(SYSTEM_USERS):
        add(u, USER_BASE + i, 0, "UR", "USER")
        add(u, SCH_BASE + i, 0, "SCH", None, USER_BASE + i)
    for i, r in enumerate(_ROLES):
        add(r, ROLE_BASE + i, 0, "UR", "ROLE")
    for i, t in enumerate(_SYS_TABLES):
        add(t, i + 1, sys_sch, "SCHOBJ", "STAB", info1=4)
        add(f"INDEX{IDX_BASE + i}", IDX_BASE + i, sys_sch, "TABOBJ", "INDEX", pid=i + 1)
    nid = 1000000
    for v in _SYS_VIEWS + ["V$" + d for d in _DYN_VIEWS]:
        add(v, nid, sys_sch, "SCHOBJ", "VIEW")
        add(v, nid + 1, SCH_BASE, "DSYNOM", "SYNOM")
        nid += 2
    for p in _PACKAGES:
        add(p, nid, sys_sch, "SCHOBJ", "PKG")
        nid += 1
    for p in _PROCS:
        add(p, nid, sys_sch, "SCHOBJ", "PROC")
        nid += 1
    return rows


_SYS_CACHE: dict[str, list[tuple]] = {}


def sysobjects(cat: Catalog, user: str) -> tuple[list[Column], list[tuple]]:
    if cat.created not in _SYS_CACHE:
        _SYS_CACHE[cat.created] = _system_objects(cat.created)
    rows = list(_SYS_CACHE[cat.created])
    sch_ids = _schema_ids(cat)
    for u in cat.users.values():
        if u.name not in SYSTEM_USERS:
            rows.append((u.name, u.id, 0, "UR", "USER", -1, 0, u.created, 0, 0, 0, 0, "Y"))
            rows.append((u.name, sch_ids[u.name], 0, "SCH", None, u.id, 0, u.created, 0, 0, 0, 0, "Y"))
    for o in cat.objs.values():
        typ, sub = {"TABLE": ("SCHOBJ", "UTAB"), "VIEW": ("SCHOBJ", "VIEW"), "SEQUENCE": ("SCHOBJ", "SEQ"),
                    "INDEX": ("TABOBJ", "INDEX"), "SCHEMA": ("SCH", None)}.get(o.type, ("SCHOBJ", o.type[:4]))
        pid = o.parent if o.parent is not None else -1
        rows.append((o.name, o.id, sch_ids.get(o.schema, 0), typ, sub, pid, 0, o.created, 0, 0, 0, 0, "Y"))
    return SYSOBJECTS_COLS, rows


def _schema_ids(cat: Catalog) -> dict[str, int]:
    out = {u: SCH_BASE + i for i, u in enumerate(SYSTEM_USERS)}
    for u in cat.users.values():
        out.setdefault(u.name, SCH_BASE + (u.id - USER_BASE))
    for o in cat.objs.values():
        if o.type == "SCHEMA":
            out.setdefault(o.name, SCH_BASE + o.id)
    return out


def _users(cat: Catalog, user: str, dba: bool) -> tuple[list[Column], list[tuple]]:
    us = sorted(cat.users.values(), key=lambda u: u.id)
    if not dba:
        return ([_c("USERNAME"), _c("USER_ID", "INT", 10), _c("CREATED", "DATETIME", 26, 6)],
                [(u.name, u.id, u.created) for u in us])
    cols = [_c("USERNAME"), _c("USER_ID", "INT", 10), _c("PASSWORD"), _c("ACCOUNT_STATUS", p=32),
            _c("LOCK_DATE", "DATETIME", 26, 6), _c("EXPIRY_DATE", "DATETIME", 26, 6),
            _c("DEFAULT_TABLESPACE"), _c("TEMPORARY_TABLESPACE"), _c("CREATED", "DATETIME", 26, 6),
            _c("PROFILE"), _c("INITIAL_RSRC_CONSUMER_GROUP"), _c("EXTERNAL_NAME")]
    return cols, [(u.name, u.id, None, "LOCKED" if u.locked else "OPEN", None, None, u.ts, "TEMP",
                   u.created, "DEFAULT", None, None) for u in us]


def _tables(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("OWNER"), _c("TABLE_NAME"), _c("TABLESPACE_NAME"), _c("STATUS", p=8),
            _c("TEMPORARY", "CHAR", 1), _c("NUM_ROWS", "BIGINT", 19), _c("PARTITIONED", p=3)]
    rows = [(o.schema, o.name, o.info.get("ts", "MAIN"), "VALID", "N", None, "NO")
            for o in cat.objs.values() if o.type == "TABLE" and (scope != "USER" or o.schema == user)]
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


def _objects(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("OWNER"), _c("OBJECT_NAME"), _c("SUBOBJECT_NAME"), _c("OBJECT_ID", "INT", 10),
            _c("DATA_OBJECT_ID", "INT", 10), _c("OBJECT_TYPE", p=32), _c("CREATED", "DATETIME", 26, 6),
            _c("LAST_DDL_TIME", "DATETIME", 26, 6), _c("STATUS", p=8), _c("TEMPORARY", "CHAR", 1)]
    rows = [(o.schema, o.name, None, o.id, o.id, o.type, o.created, o.created, "VALID", "N")
            for o in cat.objs.values() if o.type in ("TABLE", "VIEW", "INDEX", "SEQUENCE")
            and (scope != "USER" or o.schema == user)]
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


def _tab_columns(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("OWNER"), _c("TABLE_NAME"), _c("COLUMN_NAME"), _c("DATA_TYPE"), _c("DATA_LENGTH", "INT", 10),
            _c("DATA_PRECISION", "INT", 10), _c("DATA_SCALE", "INT", 10), _c("NULLABLE", "CHAR", 1),
            _c("COLUMN_ID", "INT", 10), _c("DATA_DEFAULT")]
    rows = []
    for o in cat.objs.values():
        if o.type != "TABLE" or (scope == "USER" and o.schema != user):
            continue
        for i, c in enumerate(o.columns, 1):
            rows.append((o.schema, o.name, c.name, c.type.decl.split("(")[0], c.type.precision,
                         c.type.precision, max(c.type.scale, 0), "Y" if c.nullable else "N", i, c.default))
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


def _indexes(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("OWNER"), _c("INDEX_NAME"), _c("INDEX_TYPE", p=32), _c("TABLE_OWNER"), _c("TABLE_NAME"),
            _c("UNIQUENESS", p=10), _c("STATUS", p=8)]
    rows = []
    for o in cat.objs.values():
        if o.type == "INDEX" and (scope != "USER" or o.schema == user):
            t = cat.objs.get(o.parent or -1)
            rows.append((o.schema, o.name, "NORMAL", t.schema if t else None, t.name if t else None,
                         "UNIQUE" if o.info.get("unique") else "NONUNIQUE", "VALID"))
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


def _sequences(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("SEQUENCE_OWNER"), _c("SEQUENCE_NAME"), _c("MIN_VALUE", "BIGINT", 19),
            _c("MAX_VALUE", "BIGINT", 19), _c("INCREMENT_BY", "BIGINT", 19), _c("CYCLE_FLAG", "CHAR", 1),
            _c("CACHE_SIZE", "BIGINT", 19), _c("LAST_NUMBER", "BIGINT", 19)]
    rows = [(o.schema, o.name, o.info["min"], o.info["max"], o.info["inc"], "Y" if o.info["cycle"] else "N",
             o.info.get("cache", 20), o.info.get("last", o.info["start"]))
            for o in cat.objs.values() if o.type == "SEQUENCE" and (scope != "USER" or o.schema == user)]
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


def _views(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    cols = [_c("OWNER"), _c("VIEW_NAME"), _c("TEXT_LENGTH", "INT", 10), _c("TEXT", "CLOB", 2147483647)]
    rows = [(o.schema, o.name, len(o.info["sql"]), o.info["sql"]) for o in cat.objs.values()
            if o.type == "VIEW" and (scope != "USER" or o.schema == user)]
    if scope == "USER":
        return cols[1:], [r[1:] for r in rows]
    return cols, rows


# built-in role grants DM8 shows for its system users (the catalog only records user-issued GRANTs)
_BUILTIN_ROLE_GRANTS = (("SYSDBA", "DBA"), ("SYSAUDITOR", "DB_AUDIT_ADMIN"), ("SYSSSO", "DB_POLICY_ADMIN"))


def _role_privs(cat: Catalog, user: str, scope: str) -> tuple[list[Column], list[tuple]]:
    """DBA_ROLE_PRIVS / USER_ROLE_PRIVS: roles granted to users (GRANT <role> TO <user>, from DM$PRIV)."""
    cols = [_c("GRANTEE"), _c("GRANTED_ROLE"), _c("ADMIN_OPTION", p=1), _c("DEFAULT_ROLE", p=1)]
    seen: dict[tuple[str, str], tuple] = {}
    for g, role in _BUILTIN_ROLE_GRANTS:
        seen[(g, role)] = (g, role, "Y", "Y")
    for g, priv, obj in cat.privs:
        if not obj and priv in _ROLES:
            seen.setdefault((g, priv), (g, priv, "N", "Y"))
    return cols, [r for r in seen.values() if scope != "USER" or r[0] == user]


Provider = Callable[[Catalog, str], tuple[list[Column], list[tuple]]]


def _scoped(fn, scope: str) -> Provider:
    return lambda cat, user: fn(cat, user, scope)


PROVIDERS: dict[str, Provider] = {
    "SYSOBJECTS": sysobjects,
    "ALL_USERS": lambda cat, user: _users(cat, user, False),
    "DBA_USERS": lambda cat, user: _users(cat, user, True),
    "DBA_ROLE_PRIVS": _scoped(_role_privs, "DBA"),
    "USER_ROLE_PRIVS": _scoped(_role_privs, "USER"),
}
for _scope in ("ALL", "DBA", "USER"):
    PROVIDERS[f"{_scope}_TABLES"] = _scoped(_tables, _scope)
    PROVIDERS[f"{_scope}_OBJECTS"] = _scoped(_objects, _scope)
    PROVIDERS[f"{_scope}_TAB_COLUMNS"] = _scoped(_tab_columns, _scope)
    PROVIDERS[f"{_scope}_INDEXES"] = _scoped(_indexes, _scope)
    PROVIDERS[f"{_scope}_SEQUENCES"] = _scoped(_sequences, _scope)
    PROVIDERS[f"{_scope}_VIEWS"] = _scoped(_views, _scope)


