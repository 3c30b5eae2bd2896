"""A watcher runs one monitor command at a time (reference 4.2, B6): while one monitor holds the command
lock, a second monitor's managing request is refused at once; the defect `monitor-commands-overlap` lets it
through. Spoken at the Data Watch protocol level, as dmmonitor does before every managing command."""

from __future__ import annotations

import pytest
from dmemu.dw import protocol
from dwlab import OGUID


def _monitor_link(lab, mon_id: str) -> protocol.Conn:
    c = protocol.dial(lab.n1.host, lab.n1.dw_port, timeout=2.0, name=f"test-{mon_id}",
                      on_push=lambda _c, _m: None, on_request=lambda _c, _m: {"ok": True})
    c.start()
    assert c.request({"op": "mon_hello", "id": mon_id, "confirm": 0, "oguid": OGUID}, timeout=3.0).get("ok")
    return c


@pytest.mark.parametrize("fresh_lab", [{}, {"bugs": "monitor-commands-overlap"}], indirect=True,
                         ids=["correct", "monitor-commands-overlap"])
def test_a_second_monitors_command_is_refused_while_one_runs(fresh_lab):
    a, b = _monitor_link(fresh_lab, "mon-a"), _monitor_link(fresh_lab, "mon-b")
    try:
        assert a.request({"op": "lock"}, timeout=3.0).get("ok")              # mon-a's command is running
        second = b.request({"op": "lock"}, timeout=3.0)
        if fresh_lab.env.get("DMEMU_BUGS"):
            assert second.get("ok"), f"the defect did not let the second command through: {second}"
        else:
            assert not second.get("ok") and second.get("code", 0) < 0, second
        a.request({"op": "unlock"}, timeout=3.0)
        assert b.request({"op": "lock"}, timeout=3.0).get("ok")              # free again once mon-a is done
        b.request({"op": "unlock"}, timeout=3.0)
    finally:
        a.close()
        b.close()
