"""Option and --dw-config validation: one sentence naming the bad option or key, usage-error exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import services
from harness.config import ConfigError, apply_config, load_config
from harness.topology import Topology

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    return pytester.runpytest("-p", "harness.plugin", "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("args,message", [
    (("--dw-target", "oracle"), "--dw-target must be one of emulator, dm8; got 'oracle'"),
    (("--dw-backend", "k8s"), "--dw-backend must be one of auto, local, docker, vagrant, ssh; got 'k8s'"),
    (("--dw-lang", "fr"), "--dw-lang must be one of cn, en; got 'fr'"),
    (("--bulk-rows", "many"), "--bulk-rows must be an integer; got 'many'"),
    (("--bulk-rows", "0"), "--bulk-rows must be at least 1; got 0"),
    (("--dw-seed", "x1"), "--dw-seed must be an integer; got 'x1'"),
    (("--dm-home", "opt/dm8"), "--dm-home must be an absolute path; got 'opt/dm8'"),
    (("--dw-target", "dm8"), "--dw-target dm8 needs --dm8-image IMAGE or --dm8-installer FILE"),
    (("--dw-target", "dm8", "--dw-backend", "local", "--dm8-image", "x"), "--dw-backend local runs the emulator only"),
    (("--dm8-image", "dm8:1"), "--dm8-image/--dm8-installer apply to --dw-target dm8 only"),
    (("--dw-target", "dm8", "--dm8-installer", "/nonexistent/DMInstall.bin"),
     "--dm8-installer /nonexistent/DMInstall.bin: no such file"),
    (("--dw-config", "/nonexistent.toml"), "--dw-config /nonexistent.toml: no such file"),
])
def test_bad_option_is_one_usage_error(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert message in err
    assert "Traceback" not in err and "Traceback" not in result.stdout.str()


def test_broken_config_names_the_key(pytester: pytest.Pytester) -> None:
    cfg = pytester.path / "dw.toml"
    cfg.write_text("[timers]\ndw_error_tme = 3\n")
    result = _run(pytester, "--dw-config", str(cfg))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown key 'timers.dw_error_tme'" in result.stderr.str()


def test_good_options_run_tests(pytester: pytest.Pytester) -> None:
    cfg = pytester.path / "dw.toml"
    cfg.write_text('lang = "en"\n[timers]\ndw_error_time = 3\n')
    result = _run(pytester, "--dw-backend", "local", "--dw-seed", "42", "--bulk-rows", "1_000", "--dw-config", str(cfg))
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*dmdw: target=emulator backend=local lang=en seed=42*"])


@pytest.mark.parametrize("data,message", [
    ({"timers": {"dw_eror_time": 3}}, "unknown key 'timers.dw_eror_time'"),
    ({"timers": {"dw_error_time": "10"}}, "timers.dw_error_time must be an integer, got '10'"),
    ({"timers": {"dw_error_time": 0}}, "timers.dw_error_time must be positive"),
    ({"timers": 5}, "timers must be a table"),
    ({"dw": {"dw_mode": "SEMI"}}, "dw.dw_mode must be one of MANUAL, AUTO; got 'SEMI'"),
    ({"svc": {"login_mode": 7}}, "svc.login_mode must be one of 0, 1, 2, 3, 4; got 7"),
    ({"oguid": -1}, "oguid must be in 0..2147483647"),
    ({"group": "GRP 1"}, "group 'GRP 1' is not a valid DM name"),
    ({"paths": {"data_path": "data"}}, "paths.data_path must be an absolute path"),
    ({"hosts": {"host1": {"internal_ip": "192.168.56.300"}}}, "hosts.host1.internal_ip is not an IPv4 address"),
    ({"hosts": {"host1": {"port_num": 70000}}}, "hosts.host1.port_num must be a TCP port"),
    ({"hosts": {"host1": {"mal_port": 5236}}}, "hosts.host1: port_num, mal_inst_dw_port, mal_port and mal_dw_port"),
    ({"hosts": {"host2": {"role": "primary"}}}, "exactly one host must have role 'primary' (found 2)"),
    ({"hosts": {"host2": {"instance": "mema1"}}}, "instance names must be unique"),
    ({"hosts": {"host1": {"name": "x"}}}, "unknown key 'hosts.host1.name'"),
    ({"hosts": {"host1": {"colour": "red"}}}, "unknown key 'hosts.host1.colour'"),
    ({"hosts": {"monitor": {"instance": "m"}}}, "hosts.monitor.instance: the monitor host runs no instance"),
    ({"hosts": {"host3": {"role": "standby"}}}, "new host 'hosts.host3' needs role and internal_ip"),
    ({"dminit": {"PAGE_SIZE": [1]}}, "dminit.PAGE_SIZE must be a number or a string"),
])
def test_config_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        apply_config(data, Topology(), source="dw.toml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("dw.toml: ")


def test_config_overrides_reach_the_model(tmp_path: Path) -> None:
    f = tmp_path / "dw.toml"
    f.write_text("""
group = "DW2"
oguid = 12345
[dw]
dw_mode = "auto"
[timers]
inst_recover_time = 9
[dminit]
page_size = 16
[hosts.host1]
internal_ip = "10.9.0.1"
port_num = 6236
[backend_options]
internal_subnet = "10.9.0.0/24"
""")
    t = load_config(f)
    assert (t.group, t.oguid, t.dw.dw_mode, t.timers.inst_recover_time) == ("DW2", 12345, "AUTO", 9)
    assert t.dminit["PAGE_SIZE"] == "16" and t.dminit["EXTENT_SIZE"] == "32"
    assert (t.primary.internal_ip, t.primary.port_num, t.standby.port_num) == ("10.9.0.1", 6236, 5236)
    assert t.backend_options == {"internal_subnet": "10.9.0.0/24"}


def test_watcher_service_suffix_is_set_from_the_config(tmp_path: Path) -> None:
    f = tmp_path / "dw.toml"
    f.write_text('[dw]\nwatcher_service_suffix = "grp1_w"\n')
    t = load_config(f)
    assert t.dw.watcher_service_suffix == "grp1_w"
    assert services.watcher_service(t) == "DmWatcherServicegrp1_w"


@pytest.mark.parametrize("value", ["", "mema w", "mema;reboot", "x" * 33, "../mema"])
def test_a_bad_watcher_service_suffix_is_one_line_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError) as exc:
        apply_config({"dw": {"watcher_service_suffix": value}}, Topology(), source="dw.toml")
    assert str(exc.value).startswith("dw.toml: dw.watcher_service_suffix must be 1 to 32 letters, digits or "
                                     "underscores")
    assert "\n" not in str(exc.value) and repr(value) in str(exc.value)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[timers\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)


def test_seed_defaults() -> None:
    t = load_config(None)
    assert (t.group, t.oguid, t.db_name, t.dw.dw_mode) == ("GRP1", 453331, "memadb", "MANUAL")
    assert (t.timers.dw_error_time, t.timers.inst_error_time, t.timers.inst_recover_time) == (10, 10, 60)
    assert [h.instance for h in t.db_hosts] == ["mema1", "mema2"]
    assert t.dm_ini == "/opt/dm8/data/memadb/dm.ini" and t.backup_dir == "/opt/dm8/data/memadb/bak/memadb_bak01"
