"""Settings: one validation path for the options and --dw-config; each bad value is one sentence; the
group's live monitor handle follows the session behind it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.dw import LiveMonitor
from harness.errors import UsageError
from harness.settings import EMULATOR_TIMERS, Settings


@pytest.mark.parametrize("kwargs,message", [
    ({"target": "oracle"}, "--dw-target must be one of emulator, dm8; got 'oracle'"),
    ({"backend": "k8s"}, "--dw-backend must be one of auto, local, docker, vagrant, ssh; got 'k8s'"),
    ({"lang": "fr"}, "--dw-lang must be one of cn, en; got 'fr'"),
    ({"target": "dm8", "backend": "local", "dm8_image": "x"}, "--dw-backend local runs the emulator only"),
    ({"target": "dm8", "backend": "docker"}, "--dw-target dm8 needs --dm8-image IMAGE or --dm8-installer FILE"),
    ({"dm8_image": "dm8:1"}, "--dm8-image/--dm8-installer apply to --dw-target dm8 only"),
    ({"dm_home": "opt"}, "--dm-home must be an absolute path; got 'opt'"),
    ({"seed": "x"}, "--dw-seed must be an integer; got 'x'"),
    ({"bulk_rows": 0}, "--bulk-rows must be at least 1; got 0"),
    ({"config": "/nonexistent.toml"}, "--dw-config /nonexistent.toml: no such file"),
])
def test_bad_value_is_one_sentence(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        Settings.build(**kwargs)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_defaults_and_config(tmp_path: Path) -> None:
    cfg = tmp_path / "dw.toml"
    cfg.write_text('lang = "en"\n[timers]\ndw_error_time = 3\n')
    s = Settings.build(backend="local", config=cfg, seed="4_2", bulk_rows="1,000", dm_home="/srv/dm8")
    assert (s.target, s.backend, s.lang, s.seed, s.bulk_rows) == ("emulator", "local", "en", 42, 1000)
    assert s.topology.timers.dw_error_time == 3
    assert s.topology.timers.inst_recover_time == EMULATOR_TIMERS.inst_recover_time  # emulator defaults kept
    assert s.topology.paths.dm_home == "/srv/dm8"
    assert s.env()["seed"] == 42 and s.env()["timers"]["dw_error_time"] == 3


def test_dm8_target_keeps_the_seed_timers() -> None:
    s = Settings.build(target="dm8", backend="vagrant")
    assert s.topology.timers.dw_error_time == 10 and 0 <= s.seed < 2**31


def test_from_options_reads_every_option() -> None:
    opts = {"--dw-target": "emulator", "--dw-backend": "local", "--dw-lang": "cn", "--dw-config": None,
            "--dm8-image": None, "--dm8-installer": None, "--dm-home": "/opt/dm8", "--dw-seed": "7",
            "--bulk-rows": "10", "--keep-topology": True, "--dw-topology": "1p2rt1async",
            "--dw-inventory": None, "--dw-existing": False, "--dw-allow-destructive": False,
            "--dw-systemd": False}
    s = Settings.from_options(opts.__getitem__)
    assert (s.seed, s.bulk_rows, s.keep) == (7, 10, True)
    assert [h.instance for h in s.topology.async_standbys()] == ["mema4"]


class _Session:
    def __init__(self, n: int) -> None:
        self.n, self.up = n, True

    def alive(self) -> bool:
        return self.up


def test_live_monitor_follows_the_running_session() -> None:
    proc = SimpleNamespace(monitor=None, started=0)

    def start_monitor() -> _Session:
        proc.started += 1
        proc.monitor = _Session(proc.started)
        return proc.monitor

    proc.start_monitor = start_monitor
    handle = LiveMonitor(proc)  # type: ignore[arg-type]
    assert handle.n == 1                      # started on first use
    assert handle.n == 1 and proc.started == 1
    proc.monitor.up = False                   # exited (seed 十二.2.4 step 1): the next use starts one
    assert handle.n == 2
    proc.monitor = _Session(9)                # replaced by a rebuild: the handle follows
    assert handle.n == 9


def test_dw_systemd_sets_the_docker_backend_option() -> None:
    s = Settings.build(backend="docker", systemd=True)
    assert s.systemd and s.topology.backend_options["systemd"] is True
    assert "systemd" not in Settings.build(backend="docker").topology.backend_options


def test_dw_systemd_on_another_backend_is_one_sentence() -> None:
    with pytest.raises(UsageError, match="--dw-systemd applies to --dw-backend docker"):
        Settings.build(backend="local", systemd=True)


def test_systemd_backend_option_values() -> None:
    from harness.backends.docker_systemd import create_args, host_config_args, wanted

    assert wanted({"systemd": True}) and wanted({"systemd": "yes"}) and not wanted({}) and not wanted({"systemd": "0"})
    assert create_args()["stop_signal"] == "SIGRTMIN+3" and host_config_args()["init"] is False
