"""Smoke: build the group by the seed's procedure, write on the primary, read it on the standby (seed 十二.1)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.smoke


def test_group_is_built_and_healthy(dw, monitor) -> None:
    """Seed 十一.2: after the procedure, `show` reports both instances OPEN and the standby VALID (every
    standby, in a group with several)."""
    state = monitor.show()
    assert state.healthy([n for n in dw.nodes]), state.summary()
    primary = dw.t.primary.instance
    assert state.db(primary).imode == "PRIMARY"
    assert dw.role(primary).writable_primary
    for standby in dw.t.standbys():
        assert state.db(standby.instance).imode == "STANDBY", standby.instance
        assert dw.role(standby.instance).mode == "STANDBY", standby.instance


def test_write_on_primary_read_on_standby(dw, sql) -> None:
    """Seed 十二.1: create t_objects on the primary, count it on the standby -- on every standby, in a group
    with several (then drop it)."""
    p = dw.primary
    sql.execute(p.name, "create table t_objects as select * from sysobjects")
    try:
        n = sql.scalar(p.name, "select count(*) from t_objects")
        assert n > 0
        dw.wait_replicated()
        assert {s.name: sql.scalar(s.name, "select count(*) from t_objects") for s in dw.standbys()} == {
            s.name: n for s in dw.standbys()}
    finally:  # an accepted deployment keeps nothing of the test
        sql.execute(p.name, "drop table t_objects")


def test_service_name_reaches_the_primary(dw, sql) -> None:
    """Seed 十三: the seed's service name (LOGIN_MODE=1) lands on the primary."""
    with sql.connection() as conn:
        cur = conn.cursor()
        cur.execute("select INSTANCE_NAME, MODE$ from v$instance")
        name, mode = cur.fetchone()
    assert (name.upper(), mode.upper()) == (dw.primary.name.upper(), "PRIMARY")
