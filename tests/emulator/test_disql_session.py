"""disql against a running dmserver: login forms, dm_svc.conf service names, the backtick script, conn,
host, set options, -e, the seed's 附录 (tablespace, user, conn as the user, bulk insert)."""

from __future__ import annotations

import re

from emu_helpers import PWD, dminit, run

APPENDIX = """CREATE TABLESPACE TS_MEMA
DATAFILE 'tsmema01.dbf' SIZE 128, 'tsmema02.dbf' SIZE 128;
CREATE USER MEMA
IDENTIFIED BY Mema_1234
DEFAULT TABLESPACE TS_MEMA;
grant resource to mema;
select username from all_users;
host ls {dir}
conn mema/Mema_1234@127.0.0.1:{port}
CREATE TABLE student (
id int, name varchar(20), math int, english int,
science int
);
insert into student select rownum as id,
dbms_random.string('1',trunc(dbms_random.value(3,8))),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100))
from dual connect by level <=1000;
commit;
select count(*) from student
"""


def test_seed_appendix_as_backtick_script_via_service_name(running_db):
    db = running_db
    (db.root / "etc/dm_svc.conf").write_text(f"TIME_ZONE=(480)\nmemadb=(127.0.0.1:{db.port})\nLOGIN_MODE=(0)\n")
    script = db.root / "appendix.sql"
    script.write_text(APPENDIX.format(dir=db.dir, port=db.port))
    r = run(db.root, "disql", f"SYSDBA/{PWD}@memadb", f"`{script}", input="")
    out = r.stdout
    assert r.returncode == 0
    assert out.count("处于普通打开状态") == 2                        # login + conn
    assert "tsmema01.dbf" in out and "MEMA" in out
    assert "影响行数 1000" in out
    assert re.search(r"COUNT\(\*\)\s*\n-+ -+\n1\s+1000\n", out), out
    assert "错误" not in out, out


def test_password_prompt_default_server_and_e_option(running_db):
    db = running_db
    r = run(db.root, "disql", "sysdba", "-e", "select 1 from dual", input=f"{PWD}\n",
            DMEMU_DEFAULT_SERVER=f"127.0.0.1:{db.port}")
    assert r.returncode == 0 and r.stdout.startswith("密码:") and re.search(r"\n1\s+1\n", r.stdout), r.stdout
    r = run(db.root, "disql", f"SYSDBA@127.0.0.1:{db.port}", input=f"{PWD}\nselect 7 from dual;\nexit\n")
    assert re.search(r"\n1\s+7\n", r.stdout), r.stdout


def test_set_options_shape_the_output(running_db):
    out = running_db.disql("set lineshow off\nset timing off\nset colsep |\n"
                           "select name, instance_name from v$instance;\n"
                           "set heading off\nselect 5 from dual;\nset feedback off\n"
                           "create table fb(id int);\ninsert into fb values(1);\n").stdout
    assert re.search(r"NAME \|INSTANCE_NAME\n-----\|-------------\nmema1\|mema1\n", out), out
    assert "已用时间" not in out and "行号" not in out
    assert re.search(r"\n5\n", out) and "影响行数" not in out and "操作已执行" not in out


def test_autocommit_off_by_default_and_exit_commits(running_db):
    db = running_db
    db.disql("create table ac(id int);\ninsert into ac values(1);\nexit\n")
    db.disql("insert into ac values(2);\nrollback;\nexit\n")
    out = db.disql("select count(*) from ac;\n").stdout
    assert re.search(r"\n1\s+1\n", out), out


def test_errors_are_dm_style(running_db):
    out = running_db.disql("select * from no_such_table;\nselect 1 frm dual;\n").stdout
    assert "第1 行附近出现错误[-2106]:无效的表或视图名[NO_SUCH_TABLE]" in out
    assert out.count("行附近出现错误") == 2


def test_service_name_login_mode_picks_the_primary(dm_root, running_db):
    """dm_svc.conf with a NORMAL and a PRIMARY endpoint: LOGIN_MODE=(1) lands on the primary,
    LOGIN_MODE=(4) on the normal instance."""
    normal = running_db
    prim = dminit(dm_root, name="primdb", instance="mema9")
    try:
        prim.server()
        prim.disql("alter database mount;\nsp_set_oguid(453331);\nalter database primary;\nalter database open;\n")
        eps = f"127.0.0.1:{normal.port},127.0.0.1:{prim.port}"
        for mode, want in ((1, "mema9"), (4, "mema1"), (0, "mema9")):
            (dm_root / "etc/dm_svc.conf").write_text(f"GRP=({eps})\nLOGIN_MODE=({mode})\n")
            r = run(dm_root, "disql", f"SYSDBA/{PWD}@GRP", input="select instance_name from v$instance;\n")
            assert re.search(rf"\n1\s+{want}\n", r.stdout), (mode, r.stdout)
    finally:
        prim.stop_all()
