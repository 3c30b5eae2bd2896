"""Lifecycle: every managing command DM8 must refuse (reference 4.2, 4.4, 7.1-7.2; G2 codes) is refused with
an explicit DM error and leaves the group exactly as it was (`show` and v$instance before and after)."""

from __future__ import annotations

import pytest

from harness.show import NOT_LOGGED_IN

pytestmark = [pytest.mark.lifecycle]


def _state(dw, monitor) -> tuple:
    """Roles from v$instance and, per database, what `show` reports."""
    show = monitor.show()
    dbs = {n: (d.wstatus, d.istatus, d.imode, d.rstat) for n, d in sorted(show.databases.items())}
    return {str(n): (r.mode, r.status) for n, r in ((n, dw.role(n)) for n in dw.nodes)}, dbs


def _refused(dw, monitor, cmd: str) -> str:
    before = _state(dw, monitor)
    line = monitor.refusal(cmd)
    assert line is not None, f"`{cmd}` was accepted"
    assert _state(dw, monitor) == before, f"`{cmd}` was refused ({line}) but the group changed"
    return line


@pytest.mark.parametrize("cmd", ["switchover", "takeover", "takeover force"])
def test_role_change_to_the_primary_itself_is_refused(dw, monitor, cmd) -> None:
    """Reference 7.1/7.2: only a standby qualifies for a role change."""
    monitor.login()
    _refused(dw, monitor, f"{cmd} {monitor.t.group}.{dw.primary.name}")


@pytest.mark.parametrize("cmd", ["takeover", "takeover force"])
def test_takeover_of_a_healthy_group_is_refused(dw, monitor, cmd) -> None:
    """Seed 十二.2.2 / reference 7.2: no takeover candidate while the primary is healthy; `choose` lists none."""
    monitor.login()
    assert monitor.choose_takeover(force=cmd.endswith("force")) == []
    _refused(dw, monitor, f"{cmd} {monitor.t.group}.{dw.standby.name}")


def test_switchover_without_login_is_refused(dw, monitor) -> None:
    """Reference 4.2: managing commands need `login`; without it DWMON_NOT_LOGIN (-5)."""
    monitor.login()
    monitor.logout()
    before = _state(dw, monitor)
    out = monitor.command(f"switchover {monitor.t.group}.{dw.standby.name}", answer="YES", idle=1.0)
    assert NOT_LOGGED_IN.search(out), out
    assert _state(dw, monitor) == before


def test_switchover_to_a_standby_with_invalid_archive_is_refused(dw, monitor) -> None:
    """Reference 7.1: switchover needs the target's archive VALID. Recovery is held off (INST_RECOVER_TIME
    raised) so the archive stays INVALID while the switchover is tried, then the group recovers."""
    standby = dw.standby
    monitor.login()
    monitor.set_recover_time(3600)
    try:
        monitor.set_arch_invalid(standby.name)
        assert standby.name not in monitor.choose_switchover()
        _refused(dw, monitor, f"switchover {monitor.t.group}.{standby.name}")
    finally:
        monitor.set_recover_time(int(monitor.t.timers.inst_recover_time))
    monitor.wait_for(standby.name, timeout=monitor.t.timers.recovery(), rstat="VALID")


def test_detach_of_the_primary_is_refused(dw, monitor) -> None:
    """Reference 4.2: only a standby can be detached."""
    monitor.login()
    _refused(dw, monitor, f"detach database {monitor.t.group}.{dw.primary.name}")


def test_attach_of_a_database_not_detached_is_refused(dw, monitor) -> None:
    """Reference 4.2: `attach` rejoins a detached database; a standby in the group is not one."""
    monitor.login()
    _refused(dw, monitor, f"attach database {monitor.t.group}.{dw.standby.name}")
