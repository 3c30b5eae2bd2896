"""disql and dmrman on a terminal (pexpect), as the harness drives them: prompts, password, exit."""

from __future__ import annotations

import pexpect
from emu_helpers import BIN, PWD, tool_env


def test_disql_tty_password_prompt_and_session(running_db):
    db = running_db
    env = tool_env(db.root, DMEMU_DEFAULT_SERVER=f"127.0.0.1:{db.port}")
    child = pexpect.spawn(str(BIN / "disql"), ["sysdba"], env=env, encoding="utf-8", timeout=20)
    try:
        child.expect("密码:")
        child.sendline(PWD)
        child.expect(r"处于普通打开状态")
        child.expect("SQL> ")
        child.sendline("select status$,")
        child.expect("2   ")                           # continuation line numbering
        child.sendline("mode$ from v$instance;")
        child.expect(r"1\s+OPEN\s+NORMAL")
        child.expect("已用时间")
        child.expect("SQL> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_dmrman_tty_prompt(dm_root):
    child = pexpect.spawn(str(BIN / "dmrman"), env=tool_env(dm_root), encoding="utf-8", timeout=20)
    try:
        child.expect("dmrman V8")
        child.expect("RMAN> ")
        child.sendline("RECOVER DATABASE '/nope/dm.ini' UPDATE DB_MAGIC")
        child.expect(r"/nope/dm.ini")
        child.expect("RMAN> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 1
