"""Lifecycle: the seed's service units (seed 四.3, 十, 十二.3; reference 3.4, 6.4).

dm_service_installer.sh registers DmService<instance> and DmWatcherService<suffix>; the group is stopped
and started with `systemctl`, and a host that reboots brings its part of the group back by itself.
These run where systemd is PID 1 (--dw-backend docker --dw-systemd, the vagrant VMs) and skip elsewhere.
"""

from __future__ import annotations

import pytest

from harness.services import instance_service, watcher_service

pytestmark = [pytest.mark.lifecycle, pytest.mark.systemd, pytest.mark.signoff("shutdown-order")]


def test_installer_wrote_the_seeds_units(dw, runbook, topology) -> None:
    """Seed 四.3 / 十: on each DB host the installer wrote DmService<instance> and DmWatcherServicemema as
    DM8's script manual shows them (forking units calling DM_HOME/bin/<name> start|stop, wanted by
    multi-user.target, enabled), the instance's script on its dm.ini in MOUNT start mode (`-m mount`),
    the watcher's on its dmwatcher.ini."""
    units = runbook.units
    bin_dir = f"{topology.paths.dm_home}/bin"
    for node in dw.nodes:
        for name, ini in ((instance_service(dw.spec(node)), topology.dm_ini),
                          (watcher_service(topology), topology.dmwatcher_ini)):
            unit = units.unit(node, name)
            assert unit, f"no {name}.service on {node}'s host"
            assert unit.get("Type") == "forking", (node, name, unit)
            assert unit.get("ExecStart") == f"{bin_dir}/{name} start", (node, name, unit)
            assert unit.get("ExecStop") == f"{bin_dir}/{name} stop", (node, name, unit)
            assert unit.get("WantedBy") == "multi-user.target", (node, name, unit)
            assert units.enabled(node, name), f"{name} is not enabled on {node}'s host"
            assert units.script_setting(node, name, "INI_PATH") == ini, (node, name)
        start_mode = units.script_setting(node, instance_service(dw.spec(node)), "START_MODE")
        assert start_mode == "mount", f"{instance_service(dw.spec(node))} on {node}'s host starts in {start_mode!r}"


def test_systemctl_stop_of_each_watcher_stops_its_instance(dw, runbook, topology) -> None:
    """Seed 十二.3.1: exit the monitor, `systemctl stop DmWatcherServicemema` on the primary's host, then on
    the standby's: each stop leaves no dmwatcher and no dmserver on that host and the unit inactive; the
    start in the seed's order (十二.3.2, `systemctl start`) brings the same roles back healthy."""
    units = runbook.units
    primary, standby = dw.primary, dw.standby
    order = runbook.stop_in_seed_order()
    for node in (primary, standby):
        assert runbook.dm_pids(node, "dmwatcher") == [], f"dmwatcher still runs on {node}'s host"
        assert runbook.dm_pids(node, "dmserver") == [], f"dmserver still runs on {node}'s host"
        assert units.active(node, watcher_service(topology)) == "inactive", node
    runbook.start_in_seed_order(order)
    dw.wait_roles(primary=primary, standby=standby)
    for node in (primary, standby):
        assert units.active(node, watcher_service(topology)) == "active", node


def test_reboot_of_every_db_host_brings_the_group_back(dw, runbook, workload, chaos, sql) -> None:
    """Reference 3.4 / seed 十: the DB hosts reboot one after the other (the standby's first); the enabled
    units start each instance in MOUNT and its watcher, which opens it (INST_AUTO_RESTART): the group
    comes back healthy with the same roles by itself, and every write acknowledged before the reboot is
    on both nodes."""
    units = runbook.units
    primary, standby = dw.primary, dw.standby
    with workload.running(chaos=chaos) as history:
        workload.wait_acked(30)
    verdict = history.check()
    assert verdict.lost == [] and verdict.valid, verdict.explain()
    runbook.exit_monitor()
    units.reboot(standby, primary)
    dw.wait_roles(primary=primary, standby=standby)
    runbook.start_monitor()
    dw.wait_healthy()
    acked = sorted(op.value for op in history.acked_after())
    for node in (primary, standby):
        ids = {int(r[0]) for r in sql.query(node.name, f"select ID from {workload.table}")}
        assert not set(acked) - ids, f"{node.name} lost {sorted(set(acked) - ids)[:20]} after the reboot"
