"""Read/write separation on a live group: the standby the primary names in its login reply (reference 8.3;
emulator README "Read/write separation on the wire"), through the official dmPython, and the seeded
defect `rw-routes-invalid-standby`."""

from __future__ import annotations

import time
from collections import Counter

import dmPython
import pytest
from dwlab import PWD, wait_for

READS = 20


def _rw(lab, tmp_path, percent: int = 0):
    """A dmPython connection through a RW_SEPARATE=(1) service over both instances."""
    n1, n2 = lab.n1, lab.n2
    (tmp_path / "dm_svc.conf").write_text(
        f"RW=({n1.ext}:{n1.port},{n2.ext}:{n2.port})\n[RW]\nLOGIN_MODE=(1)\nRW_SEPARATE=(1)\n"
        f"RW_PERCENT=({percent})\nSWITCH_TIME=(2)\nSWITCH_INTERVAL=(100)\n")
    return dmPython.connect(user="SYSDBA", password=PWD, server="RW", dmsvc_path=str(tmp_path))


def _reads(conn) -> Counter:
    cur = conn.cursor()
    out: Counter = Counter()
    for _ in range(READS):
        cur.execute("select NAME from v$instance")
        out[cur.fetchone()[0].upper()] += 1
    return out


def _wait_fit(lab) -> None:
    """Until the standby is fit for reads: OPEN, its REALTIME archive VALID, the MAL link CONNECTED."""
    wait_for(lambda: lab.n2.state() == ("STANDBY", "OPEN")
             and lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "VALID"
             and lab.n1.sql("select ctl_link_status from v$mal_link_status") == [("CONNECTED",)], 30,
             "mema2 fit for reads")


def _reads_with_mal_cut(lab, tmp_path) -> Counter:
    """Cut only the MAL endpoints (clients still reach both), commit so the primary invalidates the
    standby's archive, then read through a new read/write-separated connection."""
    with open(lab.block_file, "w") as f:
        f.write(f"{lab.n1.host}:{lab.n1.mal_port}\n{lab.n2.host}:{lab.n2.mal_port}\n")
    time.sleep(0.5)
    lab.n1.sql("create table t_rw(id int)")
    wait_for(lambda: lab.n1.one("select arch_status from v$arch_status where arch_type='REALTIME'") == "INVALID",
             30, "the archive INVALID")
    conn = _rw(lab, tmp_path)
    try:
        return _reads(conn)
    finally:
        conn.close()
        lab.heal()


def test_reads_go_to_the_standby_and_writes_to_the_primary(lab, tmp_path):
    _wait_fit(lab)
    conn = _rw(lab, tmp_path)
    try:
        assert _reads(conn) == {"MEMA2": READS}
        cur = conn.cursor()
        cur.execute("create table t_rw_site(id int, site varchar(32))")
        cur.execute("insert into t_rw_site select 1, NAME from v$instance")
    finally:
        conn.close()
    assert lab.n1.sql("select site from t_rw_site") == [("mema1",)]


@pytest.mark.parametrize("fresh_lab", [{}, {"bugs": "rw-routes-invalid-standby"}], indirect=True,
                         ids=["correct", "rw-routes-invalid-standby"])
def test_a_standby_with_an_invalid_archive_gets_no_reads(fresh_lab, tmp_path):
    reads = _reads_with_mal_cut(fresh_lab, tmp_path)
    if fresh_lab.env.get("DMEMU_BUGS"):
        assert reads["MEMA2"] > 0, f"the defect did not send reads to the invalid standby: {reads}"
    else:
        assert reads == {"MEMA1": READS}, reads
