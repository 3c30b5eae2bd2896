"""Client failover: the official dmPython through dm_svc.conf (seed 十三; reference 8, drivers 2.4).

Each service lists every instance's external address; the DPI chooses by LOGIN_MODE from the server's
mode and status in the login reply. The tests state, for every LOGIN_MODE, where the connection must land
(instance, MODE$, STATUS$ from v$instance: the primary, or one of the standbys when the group has several)
or that it fails with DM's -70019 (No matching server to login).
"""

from __future__ import annotations

import pytest

from harness.landing import (
    NO_MATCHING_SERVER,
    by_role,
    crash_node,
    land,
    landings,
    login_mode_services,
)
from harness.render import parse_svc
from harness.replication import unique_name

pytestmark = [pytest.mark.client, pytest.mark.signoff("client-failover")]

# Seed 十三: 0 Primary first, then Normal, then Standby; 1 primary only; 2 standby only; 3 Standby first,
# then Primary, then Normal; 4 Normal first, then Primary, then Standby.
HEALTHY = {0: "P", 1: "P", 2: "S", 3: "S", 4: "P"}
PRIMARY_DOWN = {0: "S", 1: "FAIL", 2: "S", 3: "S", 4: "S"}
STANDBY_DOWN = {0: "P", 1: "P", 2: "FAIL", 3: "P", 4: "P"}


def test_login_modes_on_a_healthy_group(dw, sql) -> None:
    """Seed 十三 LOGIN_MODE 0-4 with every instance OPEN: 0, 1 and 4 land on the PRIMARY, 2 and 3 on a
    STANDBY."""
    services = login_mode_services(sql)
    assert by_role(landings(sql, services), dw.primary, dw.standbys()) == HEALTHY


@pytest.mark.destructive
def test_login_modes_after_switchover(dw, sql, monitor) -> None:
    """Seed 十二.2.1 then 十三: after `switchover GRP1.mema2` the roles are swapped and every LOGIN_MODE
    follows the roles, not the addresses: 0, 1, 4 land on the new primary, 2 and 3 on the old one (or, with
    several standbys, on one of them, the old primary among them)."""
    old, new = dw.primary, dw.standby
    monitor.switchover(new.name)
    dw.wait_roles(primary=new, standby=old)
    services = login_mode_services(sql)
    assert by_role(landings(sql, services), new, dw.standbys()) == HEALTHY


@pytest.mark.destructive
def test_login_modes_with_the_primary_down(dw, sql, chaos) -> None:
    """Seed 十三 with the primary's host down (its watcher and instance killed; MANUAL mode, no takeover):
    the "first" modes 0, 3, 4 fall back to a STANDBY, 2 lands there, 1 (primary only) fails with -70019."""
    p, standbys = dw.primary, dw.standbys()
    services = login_mode_services(sql)
    crash_node(chaos, dw, p)
    assert {dw.role(s).mode for s in standbys} == {"STANDBY"}
    assert by_role(landings(sql, services), p, standbys) == PRIMARY_DOWN


@pytest.mark.destructive
def test_login_modes_with_the_standby_down(dw, sql, chaos) -> None:
    """Seed 十三 with every standby down: after a commit the primary marks the REALTIME archives INVALID and
    stays OPEN (reference 5.2); modes 0, 1, 3, 4 land on the PRIMARY, 2 (standby only) fails with -70019."""
    p, standbys = dw.primary, dw.standbys()
    services = login_mode_services(sql)
    for s in standbys:
        crash_node(chaos, dw, s)
    sql.execute(p.name, f"create table {unique_name('C_SBDOWN')} (id int)")
    dw.wait_roles(primary=p, timeout=dw.t.timers.recovery())
    assert by_role(landings(sql, services), p, standbys) == STANDBY_DOWN


@pytest.mark.parametrize("switch_time", [1, 3, 5])
@pytest.mark.parametrize("switch_interval", [200, 600])
def test_switch_time_and_interval_timing(dw, sql, switch_time, switch_interval) -> None:
    """Seed 十三 SWITCH_TIME / SWITCH_INTERVAL (drivers 2.4): with no qualifying server (LOGIN_MODE 2 over the
    primary's address only), the DPI tries SWITCH_TIME rounds SWITCH_INTERVAL ms apart, then fails with
    -70019. Each extra round adds one interval: elapsed(n) - elapsed(1) = (n-1) x interval, within 35% of
    an interval plus 0.25 s."""
    p = dw.primary

    def fail_time(n: int) -> float:
        svc = sql.service(f"ST{n}_{switch_interval}", login_mode=2, switch_time=n, switch_interval=switch_interval,
                          targets=[p.name])
        got = land(sql, svc)
        assert got.error == NO_MATCHING_SERVER, f"SWITCH_TIME={n}: {got}"
        return got.seconds

    base = fail_time(1)
    took = fail_time(switch_time)
    want = (switch_time - 1) * switch_interval / 1000
    tol = 0.35 * switch_interval / 1000 + 0.25
    assert abs((took - base) - want) <= tol, (
        f"SWITCH_TIME={switch_time} SWITCH_INTERVAL={switch_interval}: failed after {took:.2f}s, one round "
        f"{base:.2f}s; expected {want:.2f}s more (±{tol:.2f}s)")
    assert base < 1 + switch_interval / 1000 * 2, f"one round took {base:.2f}s"


@pytest.mark.destructive
def test_seed_service_reconnects_workload_after_takeover(dw, sql, monitor, runbook, chaos, workload,
                                                         report) -> None:
    """Seed 十三's own dm_svc.conf (`memadb=(...) LOGIN_MODE=(1) SWITCH_TIME=(3) SWITCH_INTERVAL=(1000)`) and
    seed 十二.2.2: a running workload writes through the service; the primary's host goes down; the monitor
    takes over on the standby; the writers reconnect through the same service to the new primary within
    SWITCH_TIME x SWITCH_INTERVAL (plus one login) of the takeover, and no acknowledged write is lost."""
    conf = parse_svc(sql.svc_conf.read_text())
    svc = dw.t.svc
    seed_keys = {k: conf[""].get(k) for k in ("LOGIN_MODE", "SWITCH_TIME", "SWITCH_INTERVAL")}
    assert seed_keys == {"LOGIN_MODE": "1", "SWITCH_TIME": "3", "SWITCH_INTERVAL": "1000"}, seed_keys
    assert len(conf[svc.name]["ADDRS"]) == len(dw.nodes)
    old, new = dw.primary, dw.standby
    candidates = sorted(n.name for n in dw.realtime_nodes() if n.name != old.name)
    with workload.running(chaos=chaos, acked=10) as history:
        fault_at = history.mark()
        crash_node(chaos, dw, old)
        monitor.wait_for(new.name, timeout=dw.t.timers.recovery(), wstatus="OPEN", imode="STANDBY")
        monitor.wait_takeover_candidates(candidates)
        monitor.takeover(new.name)
        took_over = history.mark()
        dw.wait_roles(primary=new)
        workload.wait_acked(5, since=took_over)
        runbook.leave_group(workload, old)
    verdict = history.check()
    assert verdict.lost == [], verdict.explain()
    first_ok = history.first_ok_after(took_over)
    assert first_ok is not None, "no write acknowledged after the takeover"
    reconnect, outage = first_ok - took_over, first_ok - fault_at
    report.measure("reconnect after takeover", reconnect, "s", note=f"first write on {new.name} through the seed service")
    report.measure("write outage", outage, "s", note="from the primary going down to the first write on the new one")
    limit = svc.switch_time * svc.switch_interval / 1000 + 5
    assert reconnect <= limit, f"first write {reconnect:.2f}s after the takeover (limit {limit:.1f}s)"
