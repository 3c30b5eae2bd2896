"""Seeded defects: DMEMU_BUGS=name[,name] switches on documented deliberate bugs.

They exist so the harness can prove its suites see what they claim to check. Each name is listed in
CATALOG with the property it breaks (emulator/README.md repeats the table). An unknown name is an error.
"""

from __future__ import annotations

import os
import sys

CATALOG: dict[str, str] = {
    # instance level (part 1)
    "commit-not-durable": "a commit is acknowledged but not made durable: kill -9 loses it",
    "wrong-svrmode": "the login reply reports the wrong SvrMode (PRIMARY<->STANDBY swapped)",
    # data watch (part 2)
    "commit-before-send": "the primary acknowledges a commit before the standby received the redo",
    "standby-skips-redo": "the standby silently skips some redo packages",
    "standby-accepts-dml": "the standby accepts DML and DDL instead of -2018/-710",
    "no-suspend-on-send-failure": "the primary never suspends nor invalidates the archive when a send fails",
    "takeover-while-healthy": "takeover is allowed while the primary is healthy",
    "switchover-drops-keepbuf": "switchover does not apply the KEEP_BUF package (the last commit is lost)",
    "commit-waits-first-standby": "a commit is acknowledged once the first real-time standby has the redo; "
                                  "the other real-time standbys get it about a second later",
    "async-takeover-candidate": "an asynchronous standby is offered and accepted as a takeover candidate",
    "monitor-follows-stale-primary": "the confirm monitor goes by the lost old primary's last known state "
                                     "(PRIMARY OPEN) after an AUTO takeover, so it takes over again on the "
                                     "next real-time standby",
    "standby-takes-split-redo": "a standby takes redo from a split old primary (replaced by a takeover) once "
                                "the network returns, so it leaves the new primary's history",
    "watcher-ignores-oguid": "dmwatcher does not check the instance's OGUID",
    "standby-partial-apply": "the standby applies a multi-row transaction in two visible steps",
    "demoted-primary-acks": "a demoted primary keeps acknowledging writes for a moment after switchover",
    "standby-stale-read": "the standby serves a read from before its last applied commit (reads go back)",
    "takeover-lost-update": "takeover drops the redo the standby acknowledged but held back: the last commits are lost",
    "frame-kills-link-owner": "a malformed Data Watch frame kills the process that receives it",
    # dmmonitor commands (reference 4.2)
    "detach-primary-allowed": "`detach database` of the primary is carried out instead of refused",
    "detach-leaves-instance": "`detach database` puts the watcher in SHUTDOWN but leaves the instance running",
    "attach-skips-recovery": "`attach database` starts the instance but never lets its watcher rejoin it",
    "attach-when-not-detached": "`attach database` of a database that is not detached is accepted",
    "kill-group-restarts": "`kill group` lets the watchers restart the killed instances",
    "show-monitor-self-only": "`show monitor` lists only the monitor itself, not the others connected",
    "second-confirm-monitor-accepted": "a watcher accepts a second confirm monitor instead of -14",
    "open-database-ignored": "`open database` answers success but leaves the instance in MOUNT",
    "monitor-commands-overlap": "a watcher runs a second monitor's command while another monitor's command runs",
    "arch-invalid-ignored": "`set database ... arch invalid` answers success but leaves the archive VALID",
    # service units (seed 四.3, 十, 十二.3)
    "service-ignores-mount": "dm_service_installer.sh ignores `-m mount`: the DmService script starts the instance OPEN",
    "service-not-enabled": "dm_service_installer.sh writes the units but does not enable them (nothing starts at boot)",
    "watcher-stop-leaves-instance": "a stopped dmwatcher (SIGTERM, `systemctl stop DmWatcherService...`) leaves its "
                                    "instance running",
    # client read/write separation (reference 8.3)
    "rw-routes-invalid-standby": "the primary names a standby for reads even while its archive is INVALID or its MAL link down",
}


def _load() -> frozenset[str]:
    raw = os.environ.get("DMEMU_BUGS", "")
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - CATALOG.keys())
    if unknown:
        sys.stderr.write(f"DMEMU_BUGS: unknown defect {', '.join(unknown)}; known: {', '.join(CATALOG)}\n")
        raise SystemExit(2)
    return names


ACTIVE = _load()


def active(name: str) -> bool:
    """True when the seeded defect `name` is switched on for this process."""
    assert name in CATALOG, name
    return name in ACTIVE
