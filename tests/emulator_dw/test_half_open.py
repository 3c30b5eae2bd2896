"""Half-open links: a peer whose end of a Data Watch link is gone while our side never heard the FIN (an
iptables DROP or RST during a MON/DW fault on the docker backend) must not leave the link dead forever.
The monitor and the watchers drop a link silent past DW_ERROR_TIME and dial again (reference §3.3 / 5.2:
after the heal the group is healthy again), and a watcher lets a reconnecting monitor replace its own
stale link instead of refusing it as a second confirm monitor."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest
from dmemu.dw import protocol
from dmemu.dw.config import MonGroup, MonitorConfig
from dmemu.dw.monitor import Monitor
from dwlab import OGUID, free_port, wait_for

ERR_TIME = 1


class MuteWatcher:
    """A watcher stand-in: answers the monitor's hello with one status message, then never says a word."""

    def __init__(self, port: int) -> None:
        self.hellos = 0
        self.lock = threading.Lock()
        self.listener = protocol.Listener("127.0.0.1", port, lambda c: None, on_request=self._answer,
                                          name="mute-watcher")

    def _answer(self, _conn: protocol.Conn, msg: dict) -> dict:
        with self.lock:
            self.hellos += 1
        inst = {"mode": "PRIMARY", "status": "OPEN", "clsn": 1, "arch": []}
        return {"ok": True, "wmsg": {"op": "wmsg", "name": "mema1", "dw_mode": "MANUAL", "dw_error_time": ERR_TIME,
                                     "inst_ok": "OK", "wstatus": "OPEN", "wctlstat": "VALID", "inst": inst}}


@pytest.fixture
def mute_watcher() -> Iterator[MuteWatcher]:
    w = MuteWatcher(free_port())
    yield w
    w.listener.stop()


def test_conn_silence_counts_from_the_last_frame_or_a_later_hint():
    lst = protocol.Listener("127.0.0.1", 0, lambda c: None, on_request=lambda c, m: {"ok": True})
    try:
        c = protocol.dial("127.0.0.1", lst.sock.getsockname()[1]).start()
        time.sleep(0.3)
        assert c.silent_for() >= 0.3
        c.request({"op": "ping"}, timeout=2)
        assert c.silent_for() < 0.2
        time.sleep(0.3)
        assert c.silent_for(since=time.monotonic()) < 0.05
        c.close()
    finally:
        lst.stop()


def test_monitor_redials_a_watcher_gone_silent(mute_watcher, tmp_path):
    port = mute_watcher.listener.sock.getsockname()[1]
    cfg = MonitorConfig(path=str(tmp_path / "dmmonitor.ini"), confirm=0, log_path=str(tmp_path), log_interval=0,
                        log_file_size=32, log_space_limit=0, groups=[MonGroup("GRP1", OGUID, [("127.0.0.1", port)])])
    mon = Monitor(cfg, out=io.StringIO())
    try:
        mon.start()
        assert mute_watcher.hellos == 1
        first = mon.views[0].conn
        t0 = time.monotonic()
        wait_for(lambda: mute_watcher.hellos >= 2, ERR_TIME + 5, "the monitor to dial the silent watcher again")
        assert time.monotonic() - t0 >= ERR_TIME - 0.3
        assert first.closed
    finally:
        mon.close()
