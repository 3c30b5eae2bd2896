"""dmrman: the seed's 五 (offline backup on host1, restore + recover + UPDATE DB_MAGIC on host2), the
online BACKUP DATABASE of 十二.2.4, refusals, and repair archivelog."""

from __future__ import annotations

import json
import re
import shutil

from emu_helpers import dminit, run


def ctl(db) -> dict:
    return json.loads((db.dir / "dm.ctl").read_text())


def _fill(db, n: int = 50) -> None:
    c = db.connect()
    cur = c.cursor()
    cur.execute("create table t_objects(id int, name varchar(30))")
    for i in range(n):
        cur.execute("insert into t_objects values(?, ?)", (i, f"obj{i}"))
    c.close()


def test_offline_backup_restore_recover_update_magic(running_db, tmp_path):
    host1 = running_db
    _fill(host1)
    bak = host1.dir / "bak/memadb_bak01"
    r = run(host1.root, "dmrman", f"CTLSTMT=backup database '{host1.ini}' full backupset '{bak}'")
    assert r.returncode == 1 and "正在运行" in r.stdout and not bak.exists()     # refused while running
    host1.stop_all()
    r = run(host1.root, "dmrman", input=f"backup database '{host1.ini}' full backupset '{bak}';\nexit\n")
    assert r.returncode == 0 and "backup successfully!" in r.stdout, r.stdout
    assert (bak / "memadb_bak01.bak").exists() and (bak / "memadb_bak01.meta").exists()

    root2 = tmp_path / "host2"
    for d in ("opt/dm8/data", "etc"):
        (root2 / d).mkdir(parents=True)
    host2 = dminit(root2, instance="mema2")
    assert ctl(host2)["permanent_magic"] != ctl(host1)["permanent_magic"]
    shutil.copytree(bak, host2.dir / "bak/memadb_bak01")
    bak2 = host2.dir / "bak/memadb_bak01"
    script = (f"RESTORE DATABASE '{host2.ini}' FROM BACKUPSET '{bak2}'\n"
              f"RECOVER DATABASE '{host2.ini}' FROM BACKUPSET '{bak2}'\n")
    r = run(root2, "dmrman", input=script.splitlines()[0] + "\nexit\n")
    assert r.returncode == 0 and "restore successfully." in r.stdout, r.stdout
    r = run(root2, "dmserver", str(host2.ini), timeout=30)
    assert r.returncode != 0 and "RECOVER" in r.stderr                    # restored but not recovered
    r = run(root2, "dmrman", input=script.splitlines()[1] + "\n"
            f"RECOVER DATABASE '{host2.ini}' UPDATE DB_MAGIC\nexit\n")
    assert r.returncode == 0 and r.stdout.count("recover successfully") == 2, r.stdout
    c1, c2 = ctl(host1), ctl(host2)
    assert c2["permanent_magic"] == c1["permanent_magic"]
    assert c2["db_magic"] != c1["db_magic"]
    try:
        host2.server()
        out = host2.disql("select count(*) from t_objects;\nselect permanent_magic;\n"
                          "select db_magic from v$rlog;\nselect instance_name from v$instance;\n").stdout
        assert re.search(r"COUNT\(\*\)\n-+ -+\n1\s+50\n", out), out
        assert str(c1["permanent_magic"]) in out and str(c2["db_magic"]) in out and "mema2" in out
    finally:
        host2.stop_all()


def test_online_backup_needs_archive_mode_and_uses_dm_name(running_db):
    db = running_db
    _fill(db, 5)
    out = db.disql("backup database full backupset;\n").stdout
    assert "归档模式未开启" in out
    db.disql(f"alter database mount;\nalter database add archivelog 'DEST={db.dir / 'arch'},TYPE=local,"
             "FILE_SIZE=128,space_limit=0';\nalter database archivelog;\nalter database open;\n")
    out = db.disql("backup database full backupset;\nbackup database full backupset 'named_set';\n").stdout
    assert out.count("操作已执行") == 2, out
    sets = sorted(p.name for p in (db.dir / "bak").iterdir())
    assert any(re.fullmatch(r"DB_memadb_FULL_\d{8}_\d{6}_\d{6}", n) for n in sets), sets
    assert "named_set" in sets
    meta = json.loads((db.dir / "bak/named_set/named_set.meta").read_text())
    assert meta["permanent_magic"] == ctl(db)["permanent_magic"] and meta["lsn"] > 0


def test_archive_files_written_and_repair(running_db):
    db = running_db
    db.disql(f"alter database mount;\nalter database add archivelog 'DEST={db.dir / 'arch'},TYPE=local,"
             "FILE_SIZE=128,space_limit=0';\nalter database archivelog;\nalter database open;\n")
    _fill(db, 10)
    files = list((db.dir / "arch").iterdir())
    magic = ctl(db)["db_magic"]
    assert files and all(re.fullmatch(rf"ARCHIVE_LOCAL1_0x{magic:X}_EP0_[\d_-]+\.log", f.name) for f in files)
    db.stop_all()
    with open(files[-1], "ab") as f:                # a torn frame, as after a crash
        f.write(b"RLG1\x00\x00\x01")
    r = run(db.root, "dmrman", f"CTLSTMT=repair archivelog database '{db.ini}'")
    assert r.returncode == 0 and "repair archive log successfully." in r.stdout, r.stdout
    assert not files[-1].read_bytes().endswith(b"RLG1\x00\x00\x01")
