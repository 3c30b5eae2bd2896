"""Lifecycle: a watcher started with the wrong INST_OGUID refuses its instance (seed 六.4 / 八, reference 5.3,
9.2)."""

from __future__ import annotations

import re
import signal

import pytest

from harness.dw import READ_RETRIES
from harness.wait import hold

pytestmark = [pytest.mark.lifecycle, pytest.mark.signoff("shutdown-order")]

OGUID_REFUSED = re.compile(r"oguid\((\d+)\) configured in dmwatcher\.ini not equal with local dmserver['’]s "
                           r"oguid\((\d+)\)")


def test_watcher_refuses_an_instance_with_another_oguid(dw, runbook) -> None:
    """Reference 5.3 (G4) and pitfall 9.2: INST_OGUID in dmwatcher.ini (seed 六.4) must equal the instance's
    OGUID (seed 八, `sp_set_oguid`). Restarted with another value, the standby's watcher prints "oguid(X)
    configured in dmwatcher.ini not equal with local dmserver's oguid(Y), cannot build connection!" and never
    opens its instance; the primary carries on (decided from roles and statuses; the message is checked where
    the watcher's console is readable, i.e. not under systemd). With the seed's value back the group is healthy again."""
    primary, standby = dw.primary, dw.standby
    good_text = runbook.watcher_ini(standby)
    real = dw.oguid(standby)
    wrong = real + 1 if real < 2147483647 else real - 1
    bad_text, n = re.subn(r"(?mi)^(\s*INST_OGUID\s*=\s*)\d+", rf"\g<1>{wrong}", good_text)
    assert n >= 1, f"INST_OGUID not found in {standby}'s dmwatcher.ini"
    runbook.stop_watcher(standby)
    try:
        runbook.write_watcher_ini(standby, bad_text, f"INST_OGUID={wrong}")
        runbook.start_watcher(standby)
        said = runbook.wait_watcher_says(standby, OGUID_REFUSED, f"{standby}'s dmwatcher to refuse OGUID {real}")
        if said:  # a watcher run as a service has no console to read: the state below decides alone
            assert (int(said.group(1)), int(said.group(2))) == (wrong, real), said.group(0)
        hold(lambda: dw.role(standby).status != "OPEN" and dw.role(primary, retries=READ_RETRIES).writable_primary,
             dw.t.timers.failure_detect(), f"{standby} not opened and {primary} PRIMARY OPEN")
    finally:
        runbook.stop_watcher(standby, with_instance=False)
        if runbook.dm_pids(standby):  # a refused watcher has no link to stop its instance through
            runbook.host(standby).signal("dmserver", signal.SIGTERM)
        runbook.wait_no_process(standby)
        runbook.write_watcher_ini(standby, good_text, f"INST_OGUID={real}")
        runbook.start_watcher(standby)
    dw.wait_healthy(dw.t.timers.recovery())
