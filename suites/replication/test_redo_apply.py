"""Replication: what the primary commits appears on the standby, nothing else does, and the standby
refuses writes (seed 十二.1 and 附录; reference 2.1, 5.2, 5.4).

Objects are created on the current primary through dmPython and read back on the standby after
`dw.wait_replicated()` (the standby's v$rlog CUR_LSN reaching the primary's). In a group with several
standbys every check runs on each of them (`dw.standbys()`: the real-time ones and, once their timer
fired, the ASYNC ones).
"""

from __future__ import annotations

import re

import pytest

from harness.replication import (
    DATAFILES,
    STUDENT,
    TS,
    USER,
    ensure_ts_mema,
    ensure_user_mema,
    error_of,
    fingerprint,
    seed_bulk_insert,
    unique_name,
)
from harness.report import Meter

pytestmark = [pytest.mark.replication, pytest.mark.signoff("replication")]

STANDBY_DML = -2018  # STANDBY模式下不支持对非临时表...进行增删改操作 / not supported in STANDBY mode
STANDBY_DDL = -710  # 试图在STANDBY模式下,修改用户库 / try to modify the user database in STANDBY mode


def test_seed_t_objects_counts_equal(dw, sql) -> None:
    """Seed 十二.1: `create table t_objects as select * from sysobjects` on the primary; `select count(*)
    from t_objects` gives the same number on the standby."""
    p = dw.primary
    table = unique_name("T_OBJECTS")
    sql.execute(p.name, f"create table {table} as select * from sysobjects")
    n = sql.scalar(p.name, f"select count(*) from {table}")
    assert n > 0
    dw.wait_replicated()
    for s in dw.standbys():
        assert sql.scalar(s.name, f"select count(*) from {table}") == n, s.name


def test_ddl_replicates(dw, sql) -> None:
    """Reference 5.2 (every change outside temp tablespaces generates redo): a table, an index, a view and
    a sequence created on the primary, a column added, then a table and a view dropped, read the same
    from the standby's dictionary (ALL_TABLES, ALL_INDEXES, ALL_VIEWS, ALL_SEQUENCES, ALL_TAB_COLUMNS)."""
    p = dw.primary
    t, keep, idx, view, seq = (unique_name(x) for x in ("R_DDL", "R_KEEP", "R_IDX", "R_VIEW", "R_SEQ"))
    for stmt in (f"create table {t} (id int primary key, name varchar(50))",
                 f"create table {keep} (id int)",
                 f"create index {idx} on {t}(name)",
                 f"create view {view} as select id, name from {t}",
                 f"create sequence {seq} start with 10 increment by 5",
                 f"alter table {t} add column score int",
                 f"insert into {t} values (1, 'one', 7)",
                 f"drop view {view}",
                 f"drop table {keep}"):
        sql.execute(p.name, stmt)
    dw.wait_replicated()

    def dictionary(node: str) -> dict[str, object]:
        one = lambda q: sql.scalar(node, q)  # noqa: E731
        return {
            "table": one(f"select count(*) from all_tables where TABLE_NAME = '{t}'"),
            "dropped table": one(f"select count(*) from all_tables where TABLE_NAME = '{keep}'"),
            "index": one(f"select count(*) from all_indexes where INDEX_NAME = '{idx}'"),
            "dropped view": one(f"select count(*) from all_views where VIEW_NAME = '{view}'"),
            "sequence": one(f"select count(*) from all_sequences where SEQUENCE_NAME = '{seq}'"),
            "columns": sorted(str(r[0]).upper() for r in sql.query(
                node, f"select COLUMN_NAME from all_tab_columns where TABLE_NAME = '{t}'")),
            "row": sql.query(node, f"select id, name, score from {t}"),
        }

    want = {"table": 1, "dropped table": 0, "index": 1, "dropped view": 0, "sequence": 1,
            "columns": ["ID", "NAME", "SCORE"], "row": [(1, "one", 7)]}
    assert dictionary(p.name) == want
    for s in dw.standbys():
        assert dictionary(s.name) == want, s.name


def test_tablespace_ts_mema_on_the_standby(dw, sql, hosts, topology) -> None:
    """Seed 附录: `CREATE TABLESPACE TS_MEMA DATAFILE 'tsmema01.dbf' SIZE 128, 'tsmema02.dbf' SIZE 128` on
    host1; on host2 `select name from v$tablespace` lists TS_MEMA and `host ls /opt/dm8/data/memadb` shows
    both datafiles."""
    p = dw.primary
    ensure_ts_mema(sql, p.name)
    dw.wait_replicated()
    for s in dw.standbys():
        names = {str(r[0]).upper() for r in sql.query(s.name, "select name from v$tablespace")}
        assert TS in names, (s.name, names)
        h = hosts[dw.spec(s).name]
        listing = h.run(f"ls {h.path(topology.db_dir)}").stdout.split()
        assert set(DATAFILES) <= {f.lower() for f in listing}, (s.name, listing)


def test_user_mema_and_grants_on_the_standby(dw, sql, topology) -> None:
    """Seed 附录: `CREATE USER MEMA IDENTIFIED BY Mema_1234 DEFAULT TABLESPACE TS_MEMA; grant resource to
    mema;` on the primary; on the standby `select username from all_users` lists MEMA, its default
    tablespace is TS_MEMA, and MEMA can log in there with the seed's password."""
    p = dw.primary
    ensure_user_mema(sql, p.name, topology.password)
    dw.wait_replicated()
    for s in dw.standbys():
        users = {str(r[0]).upper() for r in sql.query(s.name, "select username from all_users")}
        assert USER in users, (s.name, users)
        ts = sql.scalar(s.name, f"select DEFAULT_TABLESPACE from dba_users where USERNAME = '{USER}'")
        assert str(ts).upper() == TS, (s.name, ts)
        with sql.connection(s.name, user=USER, password=topology.password) as conn:
            cur = conn.cursor()
            cur.execute("select USER from dual")
            assert str(cur.fetchone()[0]).upper() == USER, s.name


def test_grant_resource_visible_on_the_standby(dw, sql, topology) -> None:
    """Seed 附录: `grant resource to mema` on the primary is visible on the standby: DBA_ROLE_PRIVS there
    lists RESOURCE for MEMA (as on the primary)."""
    p = dw.primary
    ensure_user_mema(sql, p.name, topology.password)
    dw.wait_replicated()
    q = f"select GRANTED_ROLE from dba_role_privs where GRANTEE = '{USER}'"
    on_primary = {str(r[0]).upper() for r in sql.query(p.name, q)}
    assert "RESOURCE" in on_primary, on_primary
    for s in dw.standbys():
        assert {str(r[0]).upper() for r in sql.query(s.name, q)} == on_primary, s.name


def test_committed_work_replicates_rolled_back_never_appears(dw, sql) -> None:
    """Reference 5.2: only committed transactions reach the standby. Many small commits, updates and
    deletes arrive in order (count and checksum equal); rows of an open transaction are invisible on the
    standby, and once rolled back they never appear there."""
    p = dw.primary
    t = unique_name("R_TXN")
    sql.execute(p.name, f"create table {t} (id int primary key, v int, who varchar(20))")
    with sql.connection(p.name) as conn:
        cur = conn.cursor()
        for i in range(1, 201):
            cur.execute(f"insert into {t} values ({i}, {i * 3}, 'commit')")
        cur.execute(f"update {t} set v = v + 1 where mod(id, 3) = 0")
        cur.execute(f"delete from {t} where mod(id, 10) = 0")
        cur.close()
    dw.wait_replicated()
    with sql.connection(p.name, autocommit=False) as tx:
        c = tx.cursor()
        for i in range(1001, 1051):
            c.execute(f"insert into {t} values ({i}, 0, 'rolledback')")
        c.execute(f"delete from {t} where id <= 50")
        for s in dw.standbys():
            assert sql.scalar(s.name, f"select count(*) from {t} where who = 'rolledback'") == 0, s.name
            assert sql.scalar(s.name, f"select count(*) from {t} where id <= 50") == 45, s.name
        tx.rollback()
        c.execute(f"insert into {t} values (2000, 1, 'second')")
        tx.commit()
    dw.wait_replicated()
    cols = "id * 31 + v * 7"
    want = fingerprint(sql, p.name, t, cols)
    assert want[0] == 200 - 20 + 1
    for s in dw.standbys():
        assert fingerprint(sql, s.name, t, cols) == want, s.name
        assert sql.scalar(s.name, f"select count(*) from {t} where who = 'rolledback' or id <= 50") == 45, s.name


def test_standby_rejects_dml_and_ddl(dw, sql) -> None:
    """Reference 5.4 / 10.12: on the standby, DML on a normal table fails with -2018 (STANDBY模式下不支持
    ... 增删改操作) and DDL with -710 (试图在STANDBY模式下,修改用户库); nothing changes on either side."""
    p = dw.primary
    t = unique_name("R_RO")
    sql.execute(p.name, f"create table {t} (id int)")
    sql.execute(p.name, f"insert into {t} values (1)")
    dw.wait_replicated()
    attempts = {
        "insert": (f"insert into {t} values (2)", STANDBY_DML),
        "update": (f"update {t} set id = 3", STANDBY_DML),
        "delete": (f"delete from {t}", STANDBY_DML),
        "create table": (f"create table {t}_X (id int)", STANDBY_DDL),
        "drop table": (f"drop table {t}", STANDBY_DDL),
    }
    for s in dw.standbys():
        got = {what: error_of(lambda q=q, s=s: sql.execute(s.name, q))[0] for what, (q, _) in attempts.items()}
        assert got == {what: code for what, (_, code) in attempts.items()}, s.name
        code, msg = error_of(lambda s=s: sql.execute(s.name, f"insert into {t} values (2)"))
        assert re.search(r"STANDBY", msg, re.I), (s.name, msg)  # both languages name the mode
        assert sql.query(s.name, f"select id from {t}") == [(1,)], s.name
    assert sql.query(p.name, f"select id from {t}") == [(1,)]


def _bulk(dw, sql, topology, report, rows: int) -> None:
    """Seed 附录: as MEMA on the primary, create `student` and run the seed's `insert ... connect by level
    <= N` then commit; the standby's count(*) and a SQL checksum equal the primary's; the apply lag
    (LSNs and the standby's row count over time) and the load and apply times go to the report."""
    p = dw.primary
    with Meter("bulk insert (seed 附录)", total=rows, unit="rows") as meter:
        run = seed_bulk_insert(dw, sql, rows, topology.password)
        meter.update(rows)
    report.apply_lag(run.samples, title=f"apply lag, seed bulk insert of {rows:,} rows")
    report.measure("bulk insert commit", run.load_seconds, "s", note=f"{rows:,} rows on the primary")
    report.measure("bulk insert applied", run.applied_seconds, "s", note="until the standby's CUR_LSN caught up")
    report.measure("max apply lag", run.max_lag, "LSN")
    cols = "id * 7 + math * 11 + english * 13 + science * 17 + length(name) * 19"
    want = fingerprint(sql, p.name, f"{USER}.{STUDENT}", cols)
    assert want[0] == rows
    for s in dw.standbys():
        assert fingerprint(sql, s.name, f"{USER}.{STUDENT}", cols) == want, s.name
    assert run.samples, "no apply-lag sample was taken"


def test_seed_bulk_insert_small(dw, sql, topology, report) -> None:
    """Seed 附录 (CI size, 100,000 rows): the bulk insert path with count and checksum equal on both sides."""
    _bulk(dw, sql, topology, report, 100_000)


@pytest.mark.slow
def test_seed_bulk_insert(dw, sql, topology, report, bulk_rows) -> None:
    """Seed 附录: the seed's 10,000,000-row bulk insert (--bulk-rows), count and checksum equal on both sides,
    apply lag recorded ("估计执行时间5分钟" on the seed's VMs)."""
    _bulk(dw, sql, topology, report, bulk_rows)


def test_archive_files_on_both_hosts(dw, sql, hosts, topology) -> None:
    """Seed 附录 ("host1和host2上产生的归档日志"): `ls /opt/dm8/data/memadb/arch/` shows archive files on both
    hosts, and v$arch_file on each instance lists files in that directory."""
    p = dw.primary
    t = unique_name("R_ARCH")
    sql.execute(p.name, f"create table {t} as select * from sysobjects")
    dw.wait_replicated()
    for node in dw.nodes.values():
        h = hosts[node.host_name]
        arch = h.path(topology.paths.arch_dir)
        files = [f for f in h.run(f"ls -1 {arch}").stdout.split() if f]
        assert files, f"no archive files in {node.host_name}:{topology.paths.arch_dir}"
        listed = [str(r[0]) for r in sql.query(node.name, "select PATH from v$arch_file")]
        assert listed and all(f.startswith(arch) for f in listed), (node.name, listed[:3])
        assert {f.rsplit("/", 1)[-1] for f in listed} <= set(files), (node.name, listed[:3], files[:3])
