"""The AUTO confirm monitor takes over only when the group confirms the primary lost (reference §3.3, §4.4,
§7.2): its own link to the primary's watcher going silent is not enough while the standby's watcher still
hears the primary. The full-isolation takeover itself is covered by
test_faults.py::test_confirm_monitor_auto_takeover_only_onto_valid_standby; here it is checked again on a
monitor that has just sat through a monitor-only cut."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator

import pytest
from dmemu.dw import protocol
from dmemu.dw.config import MonGroup, MonitorConfig
from dmemu.dw.monitor import Monitor
from dwlab import OGUID, Lab, Node, count_and_sum, wait_for
from dwlab import Monitor as LabMonitor

ERR_TIME = 3        # the lab's DW_ERROR_TIME


# ---- the decision on hand-made watcher messages ------------------------------------------------

def _wmsg(name: str, mode: str, **extra: object) -> dict:
    inst = {"mode": mode, "status": "OPEN", "clsn": 10,
            "arch": [{"type": "REALTIME", "dest": "mema2" if mode == "PRIMARY" else "mema1", "status": "VALID"}]}
    return dict({"op": "wmsg", "name": name, "dw_mode": "AUTO", "dw_error_time": ERR_TIME, "inst_ok": "OK",
                 "wstatus": "OPEN", "wctlstat": "VALID", "inst": inst}, **extra)


@pytest.fixture
def confirm_monitor(tmp_path) -> Iterator[Monitor]:
    """A confirm monitor object with no links: tests fill in what its two watchers last said."""
    cfg = MonitorConfig(path=str(tmp_path / "dmmonitor.ini"), confirm=1, log_path=str(tmp_path), log_interval=0,
                        log_file_size=32, log_space_limit=0,
                        groups=[MonGroup("GRP1", OGUID, [("127.0.56.201", 1), ("127.0.56.202", 2)])])
    mon = Monitor(cfg, out=io.StringIO())
    yield mon
    mon.close()


def _set_views(mon: Monitor, primary: dict, primary_age: float, standby: dict) -> None:
    p, s = mon.views
    now = time.monotonic()
    p.msg, p.seen = primary, now - primary_age
    s.msg, s.seen = standby, now


@pytest.mark.parametrize(("links", "takes_over"), [
    ({"mema1": {"dw_age": 0.4, "mal": "CONNECTED"}}, False),    # the standby still hears the primary
    ({"mema1": {"dw_age": ERR_TIME + 0.5, "mal": "DISCONNECTED"}}, True),
    ({"mema1": {"dw_age": None, "mal": None}}, True),            # never heard since the standby's watcher started
    (None, True),                                                # an older watcher: the monitor's view decides
])
def test_silent_primary_needs_the_standby_to_confirm(confirm_monitor, links, takes_over):
    extra = {} if links is None else {"peer_links": links}
    _set_views(confirm_monitor, _wmsg("mema1", "PRIMARY"), ERR_TIME + 1, _wmsg("mema2", "STANDBY", **extra))
    target = confirm_monitor.auto_takeover_target(confirm_monitor.cfg.groups[0])
    assert (target.name if target else None) == ("mema2" if takes_over else None)


def test_primary_watcher_reporting_its_instance_failed_needs_no_confirmation(confirm_monitor):
    standby = _wmsg("mema2", "STANDBY", peer_links={"mema1": {"dw_age": 0.2, "mal": "DISCONNECTED"}})
    _set_views(confirm_monitor, _wmsg("mema1", "PRIMARY", inst_ok="ERROR"), 0.1, standby)
    assert confirm_monitor.auto_takeover_target(confirm_monitor.cfg.groups[0]).name == "mema2"


def test_healthy_primary_and_manual_mode_never_take_over(confirm_monitor):
    g = confirm_monitor.cfg.groups[0]
    gone = {"mema1": {"dw_age": None, "mal": None}}
    _set_views(confirm_monitor, _wmsg("mema1", "PRIMARY"), 0.1, _wmsg("mema2", "STANDBY", peer_links=gone))
    assert confirm_monitor.auto_takeover_target(g) is None
    _set_views(confirm_monitor, _wmsg("mema1", "PRIMARY", dw_mode="MANUAL"), ERR_TIME + 1,
               _wmsg("mema2", "STANDBY", dw_mode="MANUAL", peer_links=gone))
    assert confirm_monitor.auto_takeover_target(g) is None


# ---- the real processes ------------------------------------------------------------------------

def _watcher_message(n: Node) -> dict:
    """The status message n's watcher hands a monitor (read through a throwaway non-confirm link)."""
    c = protocol.dial(n.host, n.dw_port, timeout=2.0, name="test->dw")
    try:
        c.start()
        r = c.request({"op": "mon_hello", "id": "test", "confirm": False, "oguid": OGUID}, timeout=5.0)
        assert r.get("ok"), r
        return r["wmsg"]
    finally:
        c.close()


def _monitor_own_block_file(lab: Lab, path: str) -> LabMonitor:
    """A confirm monitor whose DMEMU_NET_BLOCK_FILE is its own, so its links can be cut alone (as the
    harness's per-host block files do on the local backend)."""
    shared = lab.env["DMEMU_NET_BLOCK_FILE"]
    lab.env["DMEMU_NET_BLOCK_FILE"] = path
    try:
        return lab.monitor(lang="en")
    finally:
        lab.env["DMEMU_NET_BLOCK_FILE"] = shared


def _healthy(show: dict[str, dict[str, str]]) -> bool:
    p, s = show.get("mema1", {}), show.get("mema2", {})
    return (p.get("WSTATUS"), p.get("INST_OK"), p.get("IMODE")) == ("OPEN", "OK", "PRIMARY") \
        and (s.get("WSTATUS"), s.get("INST_OK"), s.get("IMODE"), s.get("RSTAT")) == ("OPEN", "OK", "STANDBY", "VALID")


@pytest.mark.parametrize("fresh_lab", [{"dw_mode": "AUTO", "confirm": 1, "dw_error_time": ERR_TIME}], indirect=True)
def test_monitor_only_cut_is_no_takeover_but_host_isolation_is(fresh_lab):
    lab = fresh_lab
    n1, n2 = lab.n1, lab.n2
    mon_block = os.path.join(lab.root, "netblock-monitor")
    m = _monitor_own_block_file(lab, mon_block)
    assert _healthy(m.show())
    n1.sql("create table t_cm(id int)")
    n1.sql("insert into t_cm values(1)")

    with open(mon_block, "w") as f:                     # only monitor -> mema1's MAL_DW_PORT
        f.write(f"{n1.host}:{n1.dw_port}\n")
    m.expect(r"Received message timeout from\(mema1\)", timeout=ERR_TIME + 5)
    assert m.show()["mema1"]["WSTATUS"] == "ERROR"
    seen = _watcher_message(n2)["peer_links"]["mema1"]
    assert seen["dw_age"] is not None and seen["dw_age"] < ERR_TIME and seen["mal"] == "CONNECTED", seen
    hold_until = time.monotonic() + 2 * ERR_TIME
    while time.monotonic() < hold_until:
        assert n1.state() == ("PRIMARY", "OPEN") and n2.state() == ("STANDBY", "OPEN")
        time.sleep(0.5)
    n1.sql("insert into t_cm values(2)")
    wait_for(lambda: count_and_sum(n2, "t_cm") == (2, 3), 10, "t_cm replicated during the monitor-only cut")
    assert not re.search("takeover", lab.read("mon.transcript"), re.I), "the confirm monitor started a takeover"

    os.remove(mon_block)
    wait_for(lambda: _healthy(m.show()), 15, "a healthy show after healing", lambda: m.cmd("show"))

    with open(mon_block, "w") as f:                     # now the primary's host really drops off
        f.write(f"{n1.host}\n{n1.ext}\n")
    lab.isolate(n1)
    out = m.expect(r"Takeover use instance mema2 success", timeout=ERR_TIME * 3 + 5)
    assert "Check primary instance error in group(GRP1), start to auto takeover" in out
    assert n2.state() == ("PRIMARY", "OPEN")
    assert count_and_sum(n2, "t_cm") == (2, 3)
