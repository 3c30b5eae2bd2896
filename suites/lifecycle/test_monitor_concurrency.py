"""Lifecycle: a managing command from a second monitor while another monitor's command runs (reference 4.2,
B6: a watcher runs one monitor command at a time; a second monitor's request during it fails at once)."""

from __future__ import annotations

import pytest

from harness.background import Background
from harness.monitor import extra_monitor
from harness.show import error_code

pytestmark = [pytest.mark.lifecycle]


@pytest.mark.destructive
def test_a_second_monitors_command_is_refused_during_a_switchover(dw, monitor, chaos) -> None:
    """The seed's monitor runs `switchover` (slowed: 300 ms on every monitor-watcher message, so it lasts
    seconds); while `show` on a second, non-confirm monitor reports the watchers in SWITCHOVER, that
    monitor asks to `stop database` the switchover's target. DM8 refuses it at once with an error code;
    the switchover completes exactly as if the second monitor had not spoken: the target PRIMARY OPEN, the
    old primary STANDBY OPEN, both watchers OPEN."""
    if why := chaos.unsupported("latency"):
        pytest.skip(why)
    old, new = dw.primary, dw.standby
    second = extra_monitor(monitor, "second").start()
    try:
        second.login()
        monitor.login()
        with chaos.latency("MON", 300), Background(monitor.switchover, new.name):
            second.wait_for(new.name, wstatus="SWITCHOVER", timeout=60)
            answer = second.refusal(f"stop database {monitor.t.group}.{new.name}")
        assert answer is not None and error_code(answer) is not None, (
            f"`stop database` during another monitor's switchover was not refused: {answer!r}")
        dw.wait_roles(primary=new, standby=old)
        state = second.show()
        assert (state.db(new.name).wstatus, state.db(old.name).wstatus) == ("OPEN", "OPEN"), state.summary()
    finally:
        second.close()
