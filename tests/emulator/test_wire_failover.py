"""The official DPI's own LOGIN_MODE logic, driven by SvrMode/SvrStat in dmemu.wire's login reply."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from wire_fake import PASSWORD, FakeServer, error_code, start_wire


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Three fakes (NORMAL, STANDBY, PRIMARY) and a dm_svc.conf with two LOGIN_MODE=(1) services."""
    root = tmp_path_factory.mktemp("svc")
    fakes, servers = {}, []
    for mode in ("NORMAL", "STANDBY", "PRIMARY"):
        fakes[mode] = FakeServer(str(root / f"{mode}.sqlite"), mode=mode, stat="OPEN")
        servers.append(start_wire(fakes[mode]))
    ports = {mode: ws.port for mode, ws in zip(fakes, servers, strict=True)}
    addr = {m: f"127.0.0.1:{p}" for m, p in ports.items()}
    (root / "dm_svc.conf").write_text(
        f"GRP_ALL=({addr['NORMAL']},{addr['STANDBY']},{addr['PRIMARY']})\n"
        f"GRP_NOPRI=({addr['NORMAL']},{addr['STANDBY']})\n"
        "[GRP_ALL]\nLOGIN_MODE=(1)\nSWITCH_TIME=(1)\nSWITCH_INTERVAL=(100)\n"
        "[GRP_NOPRI]\nLOGIN_MODE=(1)\nSWITCH_TIME=(1)\nSWITCH_INTERVAL=(100)\n")
    yield fakes, str(root)
    for ws in servers:
        ws.close()


def test_login_mode_primary_only_lands_on_primary(group):
    import dmPython
    fakes, svc_dir = group
    before = {m: len(f.sessions) for m, f in fakes.items()}
    for _ in range(3):                                   # the DPI randomises the start address
        c = dmPython.connect(user="SYSDBA", password=PASSWORD, server="GRP_ALL", dmsvc_path=svc_dir)
        cur = c.cursor()
        cur.execute("SELECT DUMMY FROM DUAL")
        assert cur.fetchall() == [("X",)]
        c.close()
    assert len(fakes["PRIMARY"].sessions) - before["PRIMARY"] == 3


def test_login_mode_primary_only_refuses_normal_and_standby(group):
    import dmPython
    fakes, svc_dir = group
    logins = {m: len(f.logins) for m, f in fakes.items()}
    t0 = time.monotonic()
    with pytest.raises(dmPython.DatabaseError) as ei:
        dmPython.connect(user="SYSDBA", password=PASSWORD, server="GRP_NOPRI", dmsvc_path=svc_dir)
    assert error_code(ei.value) == -70019
    assert time.monotonic() - t0 < 10
    assert len(fakes["NORMAL"].logins) > logins["NORMAL"]
    assert len(fakes["STANDBY"].logins) > logins["STANDBY"]


def test_dm_svc_path_env_var_is_honoured(group, tmp_path):
    """DM_SVC_PATH is read when the DPI initialises, so check it in a fresh interpreter."""
    fakes, svc_dir = group
    before = len(fakes["PRIMARY"].sessions)
    code = (f"import dmPython; c = dmPython.connect(user='SYSDBA', password={PASSWORD!r}, server='GRP_ALL'); "
            "c.close(); print('ok')")
    env = dict(os.environ, DM_SVC_PATH=svc_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
    assert len(fakes["PRIMARY"].sessions) == before + 1
    assert not os.listdir(tmp_path)                      # nothing written in the cwd
