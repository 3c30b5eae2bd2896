"""The seed's whole story on local processes: build, replicate, switchover and back, isolate the primary
and take over, heal and see the split, rebuild the split node online (seed §2.4), stop and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dmPython
import pytest
from dwlab import OGUID, PWD, count_and_sum, wait_for


def test_group_is_built_by_the_seed_procedure(lab):
    n1, n2 = lab.n1, lab.n2
    assert n1.state() == ("PRIMARY", "OPEN")
    assert n2.state() == ("STANDBY", "OPEN")
    assert n1.one("select permanent_magic") == n2.one("select permanent_magic")
    assert n1.one("select db_magic from v$rlog") != n2.one("select db_magic from v$rlog")
    assert n1.one("select oguid from v$instance") == OGUID == n2.one("select oguid from v$instance")
    assert n1.sql("select arch_type, arch_dest, arch_status from v$arch_status where arch_type='REALTIME'") == \
        [("REALTIME", "mema2", "VALID")]
    mal = n1.sql("select mal_inst_name, mal_host, mal_port, mal_dw_port, mal_inst_dw_port from v$dm_mal_ini "
                 "order by mal_inst_name")
    assert mal == [("mema1", n1.host, n1.mal_port, n1.dw_port, n1.inst_dw_port),
                   ("mema2", n2.host, n2.mal_port, n2.dw_port, n2.inst_dw_port)]
    wait_for(lambda: n1.sql("select remote_inst_name, ctl_link_status, data_link_status from v$mal_link_status")
             == [("mema2", "CONNECTED", "CONNECTED")], 10, "MAL link CONNECTED")
    assert n1.sql("select group_name, inst_name, dw_mode, dw_status from v$dmwatcher") == \
        [("GRP1", "mema1", "MANUAL", "OPEN")]
    assert n2.sql("select dw_status, dw_ctl_status from v$dmwatcher") == [("OPEN", "VALID")]
    assert n1.one("select status$ from v$database") == 4 and n1.one("select role$ from v$database") == 1
    assert n2.one("select role$ from v$database") == 2
    assert os.path.exists(os.path.join(n1.dir, "dmwatcher.ctl"))


def test_t_objects_is_replicated_and_standby_is_read_only(lab):
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_objects as select * from sysobjects")
    cnt = n1.one("select count(*) from t_objects")
    assert cnt > 0
    wait_for(lambda: n2.one("select count(*) from t_objects") == cnt, 10, "t_objects on the standby")
    with pytest.raises(dmPython.Error, match="-2018"):
        n2.sql("insert into t_objects select * from t_objects")
    with pytest.raises(dmPython.Error, match="-710"):
        n2.sql("create table t_on_standby(id int)")
    n1.sql("CREATE TABLESPACE TS_MEMA DATAFILE 'tsmema01.dbf' SIZE 32, 'tsmema02.dbf' SIZE 32")
    n1.sql(f"CREATE USER MEMA IDENTIFIED BY {PWD} DEFAULT TABLESPACE TS_MEMA")
    wait_for(lambda: os.path.exists(os.path.join(n2.dir, "tsmema02.dbf")), 10, "datafiles in the standby's dir")
    wait_for(lambda: ("TS_MEMA",) in n2.sql("select name from v$tablespace"), 10, "TS_MEMA on the standby")
    wait_for(lambda: ("MEMA",) in n2.sql("select username from all_users"), 10, "user MEMA on the standby")
    st = n1.sql("select arch_dest, last_send_code from v$arch_send_info")
    assert st[0][0] == "mema2" and st[0][1] == 0
    assert n2.sql("select applying from v$rapply_sys")[0][0] in ("Y", "N")


def test_standby_allows_temp_table_dml(lab):
    """Reference §3: a STANDBY refuses DML (-2018) and DDL (-710) but allows DML on temporary tables
    (created on the primary, the definition replicates); the rows stay private to the session."""
    lab.n1.sql("create global temporary table tmp_s(id int) on commit preserve rows")
    wait_for(lambda: lab.n2.sql("select count(*) from tmp_s") == [(0,)], 10, "tmp_s on the standby")
    with pytest.raises(dmPython.Error, match="-710"):
        lab.n2.sql("create global temporary table tmp_on_standby(id int)")
    c = lab.n2.connect()
    try:
        cur = c.cursor()
        cur.execute("insert into tmp_s values(1)")
        cur.execute("insert into tmp_s values(2)")
        cur.execute("select count(*) from tmp_s")
        assert cur.fetchone()[0] == 2
        assert lab.n2.sql("select count(*) from tmp_s") == [(0,)]      # another session sees none
    finally:
        c.close()
    assert lab.n1.sql("select count(*) from tmp_s") == [(0,)]          # nothing shipped or written back


def test_monitor_show_tip_and_login_gate(lab):
    m = lab.monitor()
    rows = m.show()
    assert rows["mema1"]["WSTATUS"] == "OPEN" and rows["mema1"]["IMODE"] == "PRIMARY"
    assert rows["mema2"]["IMODE"] == "STANDBY" and rows["mema2"]["RSTAT"] == "VALID"
    assert rows["mema1"]["WCTLSTAT"] == "VALID"

    def n_open() -> list[int]:                                      # equal OPEN_COUNT = consistent
        return [int(n.sql("select OPEN_COUNT from v$database")[0][0]) for n in lab.nodes.values()]
    wait_for(lambda: len(set(n_open())) == 1 and len(n_open()) == 2, 10, "equal N_OPEN", n_open)
    assert "守护系统运行正常" in m.cmd("tip")
    out = m.cmd("choose switchover")
    assert out.rstrip().endswith(": 未登录监视器或服务器公钥发生变化，请重新登录!")        # as the capture: no code
    assert "请重新登录!" in m.cmd("switchover mema2")
    out = m.login("SYSDBA", "wrong_pwd")
    assert "登录监视器失败" in out and "-2501" in out
    assert "登录监视器成功!" in m.login()
    assert m.cmd("choose takeover").strip().endswith("没有满足条件的实例")


def test_switchover_to_mema2_and_back(lab):
    m = lab.monitor()
    m.login()
    assert m.names("choose switchover GRP1") == ["mema2"]
    t0 = time.monotonic()
    out = m.cmd("switchover GRP1.mema2", ["YES"])
    lab.wait_open("mema2")
    took = time.monotonic() - t0
    for line in ("开始切换实例mema2", "通知守护进程mema1切换SWITCHOVER状态", "守护进程(mema1)状态切换 [OPEN-->SWITCHOVER]",
                 "实例mema1开始执行SP_SET_GLOBAL_DW_STATUS(0, 6)语句", "实例mema1执行ALTER DATABASE MOUNT语句成功",
                 "实例mema2开始执行SP_APPLY_KEEP_PKG()语句", "实例mema1开始执行ALTER DATABASE STANDBY语句",
                 "实例mema2开始执行ALTER DATABASE PRIMARY语句", "通知实例mema2修改所有归档状态无效",
                 "实例mema2切换成功", "通知组(GRP1)的守护进程执行清理操作"):
        assert line in out, line
    assert took <= 5, f"switchover took {took:.2f}s"
    n1, n2 = lab.n1, lab.n2
    assert n1.state() == ("STANDBY", "OPEN") and n2.state() == ("PRIMARY", "OPEN")
    n2.sql("create table t_after_sw(id int)")
    n2.sql("insert into t_after_sw select level from dual connect by level <= 100")
    wait_for(lambda: count_and_sum(n1, "t_after_sw") == (100, 5050), 10, "rows on the new standby")
    out = m.cmd("switchover mema1", ["N"])
    assert "开始切换" not in out and n2.state() == ("PRIMARY", "OPEN")
    m.cmd("switchover mema1", ["Y"])
    lab.wait_open("mema1")
    assert m.show()["mema1"]["IMODE"] == "PRIMARY"


LOGIN_CODE = r'''
import dmPython, sys
out = []
for mode in range(5):
    try:
        c = dmPython.connect(user="SYSDBA", password=sys.argv[1], server=f"DW{mode}")
        cur = c.cursor(); cur.execute("select instance_name from v$instance")
        out.append(cur.fetchone()[0]); c.close()
    except dmPython.Error as e:
        out.append("ERR")
print(",".join(out))
'''


def _login_modes(lab, tmp_path) -> list[str]:
    eps = f"{lab.n1.ext}:{lab.n1.port},{lab.n2.ext}:{lab.n2.port}"
    text = "".join(f"DW{m}=({eps})\n" for m in range(5))
    text += "".join(f"[DW{m}]\nLOGIN_MODE=({m})\nSWITCH_TIME=(2)\nSWITCH_INTERVAL=(100)\n" for m in range(5))
    (tmp_path / "dm_svc.conf").write_text(text)
    env = dict(os.environ, DM_SVC_PATH=str(tmp_path))
    p = subprocess.run([sys.executable, "-c", LOGIN_CODE, PWD], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().split(",")


def test_login_mode_follows_the_roles_before_and_after_switchover(lab, tmp_path):
    # 0 primary first, 1 primary only, 2 standby only, 3 standby first, 4 normal first (then primary)
    assert _login_modes(lab, tmp_path) == ["mema1", "mema1", "mema2", "mema2", "mema1"]
    m = lab.monitor()
    m.login()
    m.cmd("switchover mema2", ["Y"])
    lab.wait_open("mema2")
    assert _login_modes(lab, tmp_path) == ["mema2", "mema2", "mema1", "mema1", "mema2"]
    m.cmd("switchover mema1", ["Y"])
    lab.wait_open("mema1")


def test_isolate_primary_host_and_takeover(lab):
    n1, n2 = lab.n1, lab.n2
    n1.sql("create table t_story(id int)")
    n1.sql("insert into t_story select level from dual connect by level <= 10")
    wait_for(lambda: count_and_sum(n2, "t_story") == (10, 55), 10, "t_story on the standby")
    m = lab.monitor()
    m.login()
    assert m.cmd("choose takeover").strip().endswith("没有满足条件的实例")
    lab.isolate(n1)
    m.expect(r"Received message timeout from\(mema1\)", timeout=15)
    assert m.show()["mema1"]["WSTATUS"] == "ERROR"
    assert m.names("choose takeover") == ["mema2"]
    t0 = time.monotonic()
    out = m.cmd("takeover mema2", ["Y"])
    took = time.monotonic() - t0
    for line in ("开始使用实例mema2接管", "守护进程(mema2)状态切换 [OPEN-->TAKEOVER]",
                 "实例mema2执行SP_APPLY_KEEP_PKG()语句成功", "实例mema2执行ALTER DATABASE PRIMARY语句成功",
                 "实例mema2接管成功"):
        assert line in out, line
    assert took <= 3, f"takeover took {took:.2f}s"
    assert n2.state() == ("PRIMARY", "OPEN")
    assert count_and_sum(n2, "t_story") == (10, 55)
    n2.sql("insert into t_story values(11)")


def test_heal_reports_split(lab):
    lab.heal()
    m = lab.monitor()
    wait_for(lambda: m.show()["mema1"]["WCTLSTAT"] == "SPLIT", 15, "mema1 SPLIT in show")
    rows = m.show()
    assert rows["mema2"]["WCTLSTAT"] == "VALID" and rows["mema2"]["IMODE"] == "PRIMARY"
    assert rows["mema1"]["IMODE"] == "PRIMARY"
    tip = m.cmd("tip")
    assert "实例mema1的控制文件状态为SPLIT" in tip and "code = -11" in tip
    assert "分裂" in m.cmd("show database mema1")


def test_rebuild_split_node_by_online_backup(lab):
    """Seed §2.4: exit the monitor, stop mema1's watcher (and instance), remove dmwatcher.ctl, online
    backup of mema2, restore + recover + UPDATE DB_MAGIC on mema1, standby mode, start the watcher."""
    n1, n2 = lab.n1, lab.n2
    for mon in lab.monitors:
        mon.close()
    lab.monitors.clear()
    n1.stop_watcher()
    wait_for(lambda: not n1.server_alive(), 20, "mema1 dmserver stopped with its watcher")
    os.remove(os.path.join(n1.dir, "dmwatcher.ctl"))
    bak = os.path.join(n2.dir, "bak", "rebuild_full")
    n2.sql(f"backup database full backupset '{bak}'")
    n2.sql("insert into t_story values(12)")            # written after the backup: must come by recovery
    lab.dmrman(f"RESTORE DATABASE '{n1.ini}' FROM BACKUPSET '{bak}'")
    lab.dmrman(f"RECOVER DATABASE '{n1.ini}' FROM BACKUPSET '{bak}'")
    lab.dmrman(f"RECOVER DATABASE '{n1.ini}' UPDATE DB_MAGIC")
    n1.start_server(mount=True)
    c = n1.connect()
    cur = c.cursor()
    for s in ("SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 1)", f"SP_SET_OGUID({OGUID})", "ALTER DATABASE STANDBY",
              "SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 0)"):
        cur.execute(s)
    c.close()
    n1.start_watcher()
    lab.wait_open("mema2")
    wait_for(lambda: count_and_sum(n1, "t_story") == (12, 78), 15, "rebuilt standby caught up")
    m = lab.monitor()
    rows = m.show()
    assert rows["mema1"]["WCTLSTAT"] == "VALID" and rows["mema1"]["RSTAT"] == "VALID"
    assert "守护系统运行正常" in m.cmd("tip")


def test_stop_group_and_startup_group(lab):
    m = lab.monitor()
    m.login()
    out = m.cmd("stop group GRP1", timeout=90)
    assert "关闭守护组(GRP1)成功" in out
    assert not lab.n1.server_alive() and not lab.n2.server_alive()
    rows = m.show()
    assert rows["mema1"]["WSTATUS"] == "SHUTDOWN" and rows["mema2"]["WSTATUS"] == "SHUTDOWN"
    out = m.cmd("startup group GRP1", timeout=90)
    assert "启动守护组(GRP1)成功" in out
    lab.wait_open("mema2")


def test_stop_in_seed_order_and_restart(lab):
    """Seed §3: exit the monitor, stop the primary's watcher, then the standby's (each stops its
    instance); restart the watchers (they start the instances) and the monitor."""
    n1, n2 = lab.n1, lab.n2
    before = count_and_sum(n2, "t_story")
    for mon in lab.monitors:
        mon.close()
    lab.monitors.clear()
    n2.stop_watcher()
    wait_for(lambda: not n2.server_alive(), 20, "primary instance stopped with its watcher")
    n1.stop_watcher()
    wait_for(lambda: not n1.server_alive(), 20, "standby instance stopped with its watcher")
    n2.start_watcher()
    n1.start_watcher()
    lab.wait_open("mema2", timeout=60)
    assert count_and_sum(n1, "t_story") == before == count_and_sum(n2, "t_story")
    m = lab.monitor()
    assert "守护系统运行正常" in m.cmd("tip")
