"""The new SQL constructs end to end: disql (interactive and backtick script, blocks ended by '/'),
dmPython and dm-pure against a running dmserver, and a primary+standby pair replicating MERGE and a
block's DML."""

from __future__ import annotations

import re

import pytest
from dmemu.errors import DmError
from emu_helpers import PWD, run
from test_instance_redo import pair  # noqa: F401 - the primary+standby fixture
from wire_fake import DRIVERS, connect, error_code

SETUP = """create table acct (id int primary key, bal int);
create table feed (id int, bal int);
insert into feed select level, level * 10 from dual connect by level <= 5;
commit;
"""

BLOCK = """begin
  for i in 1..3 loop
    insert into acct values (i, 0);
  end loop;
  commit;
end;
/
"""

MERGE = ("merge into acct a using (select id, bal from feed) f on (a.id = f.id) "
         "when matched then update set a.bal = f.bal when not matched then insert values (f.id, f.bal);\n")


def test_disql_interactive_block_needs_the_slash_line(running_db):
    out = running_db.disql(SETUP + BLOCK + MERGE + "commit;\nselect count(*), sum(bal) from acct;\n"
                           "select count(*) from (select level from dual connect by level <= 500);\n").stdout
    assert "DMSQL 过程已成功完成" in out, out
    assert "影响行数 5" in out, out
    assert re.search(r"\n1\s+5\s+150\n", out), out
    assert re.search(r"\n1\s+500\n", out), out
    assert "错误" not in out, out


def test_disql_backtick_script_with_a_block_and_md5(running_db):
    db = running_db
    script = db.root / "blk.sql"
    script.write_text(SETUP + "declare\n  n int := 0;\nbegin\n  select count(*) into n from feed;\n"
                      "  insert into acct values (n, n);\nend;\n/\n"
                      "select md5('abc'), bal from acct;\n"
                      "begin\n  insert into nope values (1);\nend;\n/\n")
    r = run(db.root, "disql", f"SYSDBA/{PWD}@127.0.0.1:{db.port}", f"`{script}", input="")
    out = r.stdout
    assert "DMSQL 过程已成功完成" in out, out
    assert re.search(r"900150983cd24fb0d6963f7d28e17f72\s+5\b", out), out
    assert "[-2106]" in out, out


@pytest.mark.parametrize("driver", DRIVERS)
def test_drivers_execute_blocks_merge_and_hashes(running_db, driver):
    c = connect(driver, running_db.port, password=PWD)
    try:
        cur = c.cursor()
        for stmt in SETUP.split(";\n")[:-1]:
            cur.execute(stmt)
        cur.execute(BLOCK.rstrip("/\n"))
        cur.execute(MERGE.rstrip(";\n"))
        assert cur.rowcount == 5
        cur.execute("select count(*), sum(bal), sum(hashcode(to_char(id))) from acct")
        assert tuple(cur.fetchone()) == (5, 150, sum(ord(str(i)) for i in range(1, 6)))
        cur.execute("select count(*) from (select level from dual connect by level <= 500)")
        assert cur.fetchone()[0] == 500
        with pytest.raises(Exception) as e:
            cur.execute("begin null; exception when others then null; end;")
        assert error_code(e.value) == -2007
    finally:
        c.close()


def test_merge_and_block_dml_reach_the_standby(pair):  # noqa: F811
    p, s = pair
    p.realtime_sender = s.apply_redo
    sess = p.login("SYSDBA", PWD, {})
    for stmt in SETUP.split(";\n")[:-1]:
        sess.execute(stmt)
    sess.execute(BLOCK.rstrip("/\n"))
    sess.execute(MERGE.rstrip(";\n"))
    sess.execute("begin delete from acct where id = 1; update acct set bal = bal + 1; end;")
    sess.commit()
    want = list(sess.execute("select id, bal from acct order by id").rows)
    assert want == [(2, 21), (3, 31), (4, 41), (5, 51)]
    ss = s.login("SYSDBA", PWD, {})
    assert list(ss.execute("select id, bal from acct order by id").rows) == want
    with pytest.raises(DmError) as e:
        ss.execute(MERGE.rstrip(";\n"))
    assert e.value.code in (-2018, -710)
