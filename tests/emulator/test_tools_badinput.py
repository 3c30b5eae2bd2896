"""Bad input to the tools: one clear message, non-zero exit, nothing half-written (no server needed)."""

from __future__ import annotations

import os

import pytest
from emu_helpers import free_port, run


@pytest.mark.parametrize("arg,needle", [
    ("PAGE_SIZE=7", "PAGE_SIZE=7"),
    ("EXTENT_SIZE=12", "EXTENT_SIZE=12"),
    ("CHARSET=9", "CHARSET=9"),
    ("CASE_SENSITIVE=maybe", "CASE_SENSITIVE=maybe"),
    ("PORT_NUM=80", "PORT_NUM=80"),
    ("DB_NAME=bad-name", "DB_NAME=bad-name"),
    ("SYSDBA_PWD=short", "SYSDBA_PWD"),
    ("NO_SUCH_KEY=1", "NO_SUCH_KEY"),
])
def test_dminit_rejects_bad_parameters(dm_root, arg, needle):
    data = dm_root / "opt/dm8/data"
    r = run(dm_root, "dminit", f"PATH={data}", "DB_NAME=memadb", arg)
    assert r.returncode != 0
    assert needle in r.stderr and "fail to init db." in r.stderr
    assert os.listdir(data) == []                           # nothing half-written


def test_dminit_needs_path_and_prints_help(dm_root):
    r = run(dm_root, "dminit", "DB_NAME=x")
    assert r.returncode != 0 and "PATH" in r.stderr
    r = run(dm_root, "dminit", "help")
    assert r.returncode == 0 and "PAGE_SIZE" in r.stdout and "SYSDBA_PWD" in r.stdout


def test_dminit_english_messages(dm_root):
    r = run(dm_root, "dminit", f"PATH={dm_root}", "PAGE_SIZE=7", LANGUAGE="en")
    assert "Invalid parameter value [PAGE_SIZE=7]" in r.stderr


def test_dmserver_bad_ini_path(dm_root):
    r = run(dm_root, "dmserver", str(dm_root / "nope/dm.ini"))
    assert r.returncode != 0
    assert "nope/dm.ini" in r.stderr and "不存在" in r.stderr
    assert "Traceback" not in r.stderr


def test_dmrman_bad_statement_and_bad_ini(dm_root):
    r = run(dm_root, "dmrman", "CTLSTMT=backup everything please")
    assert r.returncode == 1 and "[-2007]" in r.stdout
    r = run(dm_root, "dmrman", f"CTLSTMT=BACKUP DATABASE '{dm_root}/x/dm.ini' FULL BACKUPSET '{dm_root}/bak1'")
    assert r.returncode == 1 and "x/dm.ini" in r.stdout and not (dm_root / "bak1").exists()


def test_dmrman_interactive_reports_errors_and_exits(dm_root):
    r = run(dm_root, "dmrman", input="RESTORE DATABASE '/nope/dm.ini' FROM BACKUPSET '/nope/bak'\nexit\n")
    assert r.returncode == 1 and "dmrman V8" in r.stdout and "RMAN>" in r.stdout and "/nope/dm.ini" in r.stdout


def test_disql_connection_refused(dm_root):
    r = run(dm_root, "disql", f"SYSDBA/Mema_1234@127.0.0.1:{free_port()}", input="exit\n")
    assert r.returncode != 0
    assert "[-70028]" in r.stdout or "-700" in r.stdout
