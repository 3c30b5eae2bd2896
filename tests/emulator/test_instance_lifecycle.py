"""dminit + dmserver + disql through the seed's steps 四..九: state machine, archiving, OGUID, modes."""

from __future__ import annotations

import json
import re

import pytest
from emu_helpers import PWD, dminit, run

SEED_ARCH = """alter database mount;
alter database add archivelog 'DEST={arch},TYPE=local,FILE_SIZE=128,space_limit=0';
alter database archivelog;
alter database open;
select arch_mode from v$database;
"""


def ctl(db) -> dict:
    return json.loads((db.dir / "dm.ctl").read_text())


def test_dminit_creates_the_database_directory(new_db):
    names = sorted(p.name for p in new_db.dir.iterdir())
    for must in ("dm.ini", "dm.ctl", "SYSTEM.DBF", "MAIN.DBF", "ROLL.DBF", "TEMP.DBF", "memadb01.log",
                 "memadb02.log", "sqllog.ini"):
        assert must in names
    ini = (new_db.dir / "dm.ini").read_text()
    assert re.search(r"INSTANCE_NAME\s+= mema1\s", ini) and re.search(rf"PORT_NUM\s+= {new_db.port}\s", ini)
    c = ctl(new_db)
    assert c["permanent_magic"] and c["db_magic"] and c["permanent_magic"] != c["db_magic"]
    assert (c["mode"], c["oguid"], c["first_start_done"], c["page_size"], c["case_sensitive"]) == \
        ("NORMAL", 0, False, 32, 0)


def test_dminit_refuses_an_existing_database(new_db):
    before = (new_db.dir / "dm.ctl").read_text()
    r = run(new_db.root, "dminit", f"PATH={new_db.dir.parent}", "DB_NAME=memadb", f"SYSDBA_PWD={PWD}")
    assert r.returncode != 0 and "已存在" in r.stderr
    assert (new_db.dir / "dm.ctl").read_text() == before
    assert not [p for p in new_db.dir.parent.iterdir() if p.name.startswith(".")]


def test_first_start_must_not_be_mount(new_db):
    r = run(new_db.root, "dmserver", str(new_db.ini), "mount", timeout=30)
    assert r.returncode != 0 and "MOUNT" in r.stderr
    assert ctl(new_db)["first_start_done"] is False


def test_seed_archive_mode_then_primary_in_mount(running_db):
    db = running_db
    arch = db.dir / "arch"
    out = db.disql(SEED_ARCH.format(arch=arch)).stdout
    assert f"服务器[127.0.0.1:{db.port}]:处于普通打开状态" in out
    assert re.search(r"行号\s+ARCH_MODE\n-+ -+\n1\s+Y\n", out), out
    assert "已用时间" in out and "执行号" in out
    assert "ARCH_INI" in (db.dir / "dm.ini").read_text() and "[ARCHIVE_LOCAL1]" in (db.dir / "dmarch.ini").read_text()
    db.stop_all()
    srv = db.server(mount=True)
    assert "SYSTEM IS READY." in srv.output()
    logs = list((db.dir / "log").glob("dm_mema1_*.log"))
    assert logs and "SYSTEM IS READY." in logs[0].read_text()
    out = db.disql("sp_set_oguid(453331);\nalter database primary;\n"
                   "select NAME, INSTANCE_NAME, STATUS$, MODE$, OGUID from v$instance;\n").stdout
    assert "处于普通配置状态" in out
    assert re.search(r"1\s+mema1\s+mema1\s+MOUNT\s+PRIMARY\s+453331", out), out
    db.stop_all()
    db.server()                                      # a PRIMARY always comes up in MOUNT
    out = db.disql("select status$, mode$ from v$instance;\nalter database open;\n").stdout
    assert "处于主库配置状态" in out and re.search(r"1\s+MOUNT\s+PRIMARY", out)
    out = db.disql("select status$, role$ from v$database;\n").stdout
    assert "处于主库打开状态" in out and re.search(r"1\s+4\s+1\n", out)
    c = ctl(db)
    assert (c["mode"], c["oguid"]) == ("PRIMARY", 453331) and c["n_open"] >= 2


def test_mode_changes_need_mount_and_data_needs_open(running_db):
    out = running_db.disql("alter database standby;\nsp_set_oguid(1);\nalter database mount;\n"
                           "select count(*) from sysobjects;\nselect count(*) from v$instance;\n"
                           "alter database suspend;\nalter database open;\nalter database suspend;\n"
                           "select status$ from v$instance;\nalter database open;\n").stdout
    assert out.count("只能在MOUNT状态下修改数据库模式") == 2
    assert "数据库处于MOUNT状态" in out                     # table access refused in MOUNT
    assert re.search(r"COUNT\(\*\)\n-+ -+\n1\s+1\n", out)  # dynamic views still answer
    assert "非法的数据库状态转换[MOUNT->SUSPEND]" in out
    assert re.search(r"1\s+SUSPEND\n", out)
    assert ctl(running_db)["mode"] == "NORMAL"


def test_alter_mode_status_variants(running_db):
    db = running_db
    db.disql("sp_set_para_value(2, 'ALTER_MODE_STATUS', 0);\n")
    assert re.search(r"ALTER_MODE_STATUS\s*=\s*0", (db.dir / "dm.ini").read_text())
    db.stop_all()
    db.server(mount=True)
    # the seed: ALTER_MODE_STATUS=0 and no watcher yet -> allowed; the reference's variant too
    out = db.disql("SP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 1);\nSP_SET_OGUID(453331);\n"
                   "ALTER DATABASE STANDBY;\nSP_SET_PARA_VALUE(1, 'ALTER_MODE_STATUS', 0);\n"
                   "select para_value from v$dm_ini where para_name = 'ALTER_MODE_STATUS';\n"
                   "select mode$, oguid from v$instance;\n").stdout
    assert "错误" not in out, out
    assert re.search(r"1\s+STANDBY\s+453331", out)
    assert re.search(r"PARA_VALUE\n-+ -+\n1\s+0\n", out)
    out = db.disql("ALTER SYSTEM SET 'DW_INACTIVE_INTERVAL'=90 BOTH;\n"
                   "select sf_get_para_value(1, 'DW_INACTIVE_INTERVAL');\n").stdout
    assert re.search(r"\n1\s+90\n", out), out
    assert re.search(r"DW_INACTIVE_INTERVAL\s*=\s*90", (db.dir / "dm.ini").read_text())


def test_create_tablespace_files_appear(running_db):
    db = running_db
    out = db.disql("CREATE TABLESPACE TS_MEMA\nDATAFILE 'tsmema01.dbf' SIZE 128, 'tsmema02.dbf' SIZE 128;\n"
                   "select name from v$tablespace;\nselect path from v$datafile;\n"
                   f"host ls {db.dir}\n"
                   "CREATE TABLESPACE TS_MEMA DATAFILE 'x.dbf' SIZE 32;\n").stdout
    for f in ("tsmema01.dbf", "tsmema02.dbf"):
        assert (db.dir / f).stat().st_size == 128 * 1024 * 1024
        assert f in out
    assert "TS_MEMA" in out and "[-3401]:表空间[TS_MEMA]已存在" in out
    db.stop_all()
    db.server()
    assert "TS_MEMA" in db.disql("select name from v$tablespace;\n").stdout


def test_wrong_password_and_port_in_use(running_db):
    db = running_db
    r = db.disql("exit\n", login=f"SYSDBA/wrong_pwd1@127.0.0.1:{db.port}")
    assert r.returncode != 0 and "[-2501]" in r.stdout
    other = dminit(db.root, name="other", instance="other", port=db.port)
    r = run(db.root, "dmserver", str(other.ini), timeout=30)
    assert r.returncode != 0 and f"端口[{db.port}]已被占用" in r.stderr
    r = run(db.root, "dmserver", str(db.ini), timeout=30)     # the same database twice
    assert r.returncode != 0


def test_english_banner_and_grid(running_db):
    out = running_db.disql("select status$ from v$instance;\n", LANGUAGE="en").stdout
    assert f"Server[127.0.0.1:{running_db.port}]:mode is normal, state is open" in out
    assert "LINEID" in out and "used time:" in out


@pytest.mark.parametrize("driver", ["dmPython", "dmpy"])
def test_seed_sql_through_drivers(running_db, driver):
    db = running_db
    if driver == "dmPython":
        import dmPython
        conn = dmPython.connect(user="SYSDBA", password=PWD, server="127.0.0.1", port=db.port, autoCommit=True)
    else:
        import dmpy
        conn = dmpy.connect(host="127.0.0.1", port=db.port, user="SYSDBA", password=PWD)
        conn.autocommit = True
    cur = conn.cursor()
    cur.execute("alter database mount")
    cur.execute(f"alter database add archivelog 'DEST={db.dir / 'arch'},TYPE=local,FILE_SIZE=128,space_limit=0'")
    cur.execute("alter database archivelog")
    cur.execute("alter database open")
    cur.execute("select arch_mode from v$database")
    assert cur.fetchone()[0] == "Y"
    cur.execute("select permanent_magic")
    assert cur.fetchone()[0] == ctl(db)["permanent_magic"]
    cur.execute("select NAME, INSTANCE_NAME, STATUS$, MODE$, OGUID, SVR_VERSION, BUILD_VERSION from v$instance")
    row = cur.fetchone()
    assert tuple(row[:5]) == ("mema1", "mema1", "OPEN", "NORMAL", 0) and row[5].startswith("DM Database Server")
    cur.execute("select db_magic, file_lsn, cur_lsn from v$rlog")
    assert cur.fetchone()[0] == ctl(db)["db_magic"]
    conn.close()


def test_sigterm_with_open_sessions_stops_promptly(new_db):
    """Shutdown closes sessions while their wire threads close them too: no deadlock, clean exit."""
    for _ in range(3):
        srv = new_db.server()
        conns = [new_db.connect() for _ in range(6)]
        for c in conns:
            c.cursor().execute("select count(*) from v$instance")
        srv.proc.send_signal(15)
        assert srv.proc.wait(15) == 0
        assert "shutdown successfully" in srv.output()
        for c in conns:
            try:
                c.close()
            except Exception:                      # noqa: BLE001 - the server is gone
                pass
    assert json.loads((new_db.dir / "dm.ctl").read_text())["clean_shutdown"] is True
