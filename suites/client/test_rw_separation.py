"""Read/write separation: the official dmPython through dm_svc.conf RW_SEPARATE=(1) (seed 十三; reference 8.3).

The primary names, in its login reply, a standby fit for reads (a real-time one, archive VALID, MAL link
CONNECTED; with several, any of them); the DPI sends reads there or to the primary as RW_PERCENT says and writes to the primary. Every outcome is read
from DM8 state: the v$instance NAME that served each read, and the NAME each INSERT recorded where it ran.
"""

from __future__ import annotations

import pytest

from harness.rwsplit import SiteTable, read_spread, rw_service, served_by, stale_read_window, tolerance

pytestmark = [pytest.mark.client, pytest.mark.signoff("rw-separation")]

READS = 300
WRITES = 40


def _readers(dw) -> set[str]:
    """The instances the primary may send reads to: its real-time standbys (upper-case names)."""
    return {n.name.upper() for n in dw.realtime_standbys()}


@pytest.mark.parametrize("percent", [0, 25, 100])
def test_reads_spread_as_rw_percent_says(dw, sql, percent) -> None:
    """Seed 十三 RW_PERCENT: over 300 reads the primary serves RW_PERCENT% of them (within 4 binomial
    standard deviations, at least one read), one real-time standby the rest; no other instance serves any."""
    p, readers = dw.primary.name.upper(), _readers(dw)
    svc = rw_service(sql, f"RW{percent}", percent)
    with sql.connection(svc) as conn:
        spread = read_spread(conn, READS)
    assert set(spread) - {p} <= readers and len(set(spread) - {p}) <= 1, spread
    share = spread[p] / READS
    want = percent / 100
    tol = tolerance(want, READS)
    assert abs(share - want) <= tol, (
        f"RW_PERCENT={percent}: the primary served {spread[p]}/{READS} reads ({share:.1%}), expected "
        f"{want:.0%} ± {tol:.1%}; spread {dict(spread)}")


def test_writes_always_land_on_the_primary(dw, sql) -> None:
    """Seed 十三: with every read going to the standby (RW_PERCENT=0), each INSERT still runs on the
    primary: the NAME each row recorded, read back on the primary, is the primary's for all of them."""
    p = dw.primary.name
    table = SiteTable.create(sql, p)
    with sql.connection(rw_service(sql, "RW_W", 0)) as conn:
        assert served_by(conn) in _readers(dw), "reads do not reach a standby: nothing to separate from"
        for i in range(WRITES):
            table.insert(conn, i)
            served_by(conn)                       # reads interleaved with the writes
    assert table.sites(p) == {p.upper(): WRITES}


def test_a_read_in_a_write_transaction_sees_its_own_write(dw, sql) -> None:
    """Reference 8.3: inside a write transaction (autocommit off, INSERT not yet committed) the following
    reads stay on the primary and see the uncommitted row; after the commit reads go back to the standby."""
    p = dw.primary.name
    table = SiteTable.create(sql, p)
    with sql.connection(rw_service(sql, "RW_TX", 0), autocommit=False) as conn:
        s = served_by(conn)
        assert s in _readers(dw), s
        conn.commit()
        table.insert(conn, 1)
        assert served_by(conn) == p.upper(), "a read inside the write transaction left the primary"
        assert table.count(conn, 1) == 1, "the transaction does not see its own uncommitted write"
        conn.commit()
        assert served_by(conn) == s, "reads did not return to the standby after the commit"
    assert table.sites(p) == {p.upper(): 1}


@pytest.mark.destructive
def test_a_standby_with_an_invalid_archive_gets_no_reads(dw, sql, chaos, workload) -> None:
    """Reference 8.3 and 5.2: under a workload the MAL links are cut and the primary marks every real-time
    standby's archive INVALID; a connection opened then sends every read to the primary (RW_PERCENT=0
    notwithstanding). After the heal, once the archives are VALID again, a new connection reads from a
    standby. No acknowledged write is lost."""
    p, readers = dw.primary, _readers(dw)
    svc = rw_service(sql, "RW_ARCH", 0)
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(5)
        with chaos.cut("MAL"):
            for s in dw.realtime_standbys():
                dw.wait_archive(s, "INVALID", primary=p)
            with sql.connection(svc) as conn:
                during = read_spread(conn, 50)
        dw.wait_healthy()
        with sql.connection(svc) as conn:
            after = read_spread(conn, 50)
    assert during == {p.name.upper(): 50}, f"reads while the standbys' archives were INVALID: {dict(during)}"
    assert len(after) == 1 and set(after) <= readers and sum(after.values()) == 50, \
        f"reads after the recovery: {dict(after)}"
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()


@pytest.mark.destructive
def test_reads_follow_the_new_standby_after_a_switchover(dw, sql, monitor) -> None:
    """Seed 十二.2.1 then 十三: after `switchover` the roles are swapped; a read/write-separated connection
    writes on the new primary and reads (RW_PERCENT=0) from the old one, now the standby (with several
    real-time standbys: from one of them, never from the new primary)."""
    old, new = dw.primary, dw.standby
    monitor.switchover(new.name)
    dw.wait_roles(primary=new, standby=old)
    dw.wait_healthy()
    table = SiteTable.create(sql, new.name)
    with sql.connection(rw_service(sql, "RW_SW", 0)) as conn:
        spread = read_spread(conn, 50)
        table.insert(conn, 1)
    assert len(spread) == 1 and set(spread) <= _readers(dw) and old.name.upper() in _readers(dw), dict(spread)
    assert table.sites(new.name) == {new.name.upper(): 1}


def test_stale_read_window(dw, sql, report) -> None:
    """Issue 15: a standby read may miss a commit acknowledged just before it (the standby applies the
    redo after the primary's acknowledgement). Measured over 20 commits: the time from a commit's
    acknowledgement to the first standby read that sees it. Every commit becomes visible on the standby
    within the group's failure-detection time (a standby that never applies it is a failure)."""
    p = dw.primary.name
    table = SiteTable.create(sql, p)
    limit = dw.t.timers.failure_detect()
    windows = []
    with sql.connection(rw_service(sql, "RW_STALE", 0)) as conn:
        s = served_by(conn)
        for i in range(20):
            w = stale_read_window(conn, table, i, s, limit)
            assert w is not None, f"commit {i} not visible on {s} within {limit:.0f}s"
            windows.append(w)
    windows.sort()
    report.measure("stale-read window (max)", windows[-1], "s", note=f"commit ack to first standby read seeing it, {len(windows)} commits")
    report.measure("stale-read window (median)", windows[len(windows) // 2], "s", note="RW_PERCENT=0, one connection")
