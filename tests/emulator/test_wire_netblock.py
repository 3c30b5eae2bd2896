"""DMEMU_NET_BLOCK_FILE reaches client links: a `host:PORT_NUM` line for the instance's own address makes
its SQL server a black hole for clients (new logins fail, existing connections get no answers) until the
line is removed (emulator/README.md, dw/protocol.py)."""

from __future__ import annotations

import threading
import time

import dmPython
import pytest
from dmemu.wire.client import connect
from emu_helpers import PWD


def _dm_login(db, timeout_ms: int = 3000):
    """dmPython's login_timeout is in milliseconds."""
    return dmPython.connect(user="SYSDBA", password=PWD, server="127.0.0.1", port=db.port,
                            login_timeout=timeout_ms)


def test_client_black_hole_while_listed(new_db, tmp_path) -> None:
    block = tmp_path / "netblock"
    block.write_text("127.0.0.1:1\n")                      # another endpoint: clients are not touched
    new_db.server(DMEMU_NET_BLOCK_FILE=str(block))
    _dm_login(new_db).close()
    old = connect("127.0.0.1", new_db.port, "SYSDBA", PWD, autocommit=True, timeout=30)
    try:
        assert old.execute("select 1").fetchall() == [(1,)]
        block.write_text(f"127.0.0.1\n127.0.0.1:{new_db.port}\n")
        time.sleep(0.4)                                    # the server re-reads the file every <= 200 ms
        t0 = time.monotonic()
        with pytest.raises(dmPython.Error):
            _dm_login(new_db).close()
        assert time.monotonic() - t0 < 10

        got: list = []
        q = threading.Thread(target=lambda: got.append(old.execute("select 2").fetchall()), daemon=True)
        q.start()
        q.join(1.5)
        assert q.is_alive() and got == [], "an existing connection must get no answer while blocked"

        block.write_text("127.0.0.1\n")                    # bare host lines never touch clients
        q.join(5)
        assert got == [[(2,)]], "the held command runs once the line is gone"
        c = _dm_login(new_db)
        try:
            cur = c.cursor()
            cur.execute("select 3")
            assert cur.fetchone()[0] == 3
        finally:
            c.close()
    finally:
        old.close()
