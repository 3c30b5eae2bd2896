"""Group shapes beyond the seed's 1+1 (issue 14): the model, the one-line errors for impossible shapes,
the preset, and the files rendered for a primary + 2 real-time + 1 asynchronous standby."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import render
from harness.config import ConfigError, apply_config, load_config, preset
from harness.topology import Topology

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "1p2rt1async.toml"


def _standby(n: int, **extra: object) -> dict[str, object]:
    return {"role": "standby", "internal_ip": f"10.0.0.{n}", "instance": f"s{n}", **extra}


def _shape(hosts: dict[str, dict[str, object]], **top: object) -> Topology:
    return apply_config({"hosts": hosts, **top}, Topology(), source="t.toml")


def test_seed_default_is_one_primary_one_realtime_standby() -> None:
    t = Topology()
    assert [h.instance for h in t.standbys()] == ["mema2"] == [h.instance for h in t.realtime_standbys()]
    assert t.async_standbys() == [] and t.standby.instance == "mema2" and not t.is_multi


def test_seed_only_tests_run_on_the_seed_shape_and_say_why_not_elsewhere() -> None:
    assert Topology().beyond_seed("x") is None
    why = preset("1p2rt1async").beyond_seed("covered by suites/topology")
    assert why and "1 primary + 1 real-time standby" in why and "2 real-time and 1 ASYNC" in why
    assert "suites/topology" in why and "\n" not in why


def test_example_file_equals_the_preset() -> None:
    t = load_config(EXAMPLE)
    assert t == preset("1p2rt1async")
    assert [h.instance for h in t.realtime_standbys()] == ["mema2", "mema3"]
    assert [h.instance for h in t.async_standbys()] == ["mema4"]
    assert t.standby.instance == "mema2" and t.is_multi
    assert [h.instance for h in t.global_hosts()] == ["mema1", "mema2", "mema3"]
    assert t.dw_type_of(t.hosts["host4"]) == "LOCAL" and t.dw_type_of(t.hosts["host3"]) == "GLOBAL"


@pytest.mark.parametrize(("hosts", "top", "message"), [
    ({f"h{i}": _standby(i) for i in range(10, 18)}, {}, "1..8 real-time or timely standbys (found 9)"),
    ({f"h{i}": _standby(i, arch_type="ASYNC") for i in range(10, 19)}, {}, "at most 8 ASYNC standbys (found 9)"),
    ({"h3": _standby(3, instance="MEMA2")}, {}, "instance name MEMA2 is used twice"),
    ({"h3": _standby(3, arch_type="ASYNC", dw_type="GLOBAL")}, {}, "must be DW_TYPE LOCAL, not GLOBAL"),
    ({"h3": _standby(3, dw_type="LOCAL")}, {}, "needs DW_TYPE GLOBAL"),
    ({"h3": _standby(3, arch_type="SYNCH")}, {}, "hosts.h3.arch_type must be one of REALTIME, TIMELY, ASYNC"),
    ({"host1": {"arch_type": "ASYNC"}}, {}, "hosts.host1.arch_type: only a standby has an archive type"),
    ({"h3": _standby(3, arch_type="ASYNC", timer_minutes=0)}, {}, "timer_minutes must be in 1..1439"),
    ({"host2": {"arch_type": "ASYNC"}}, {}, "1..8 real-time or timely standbys (found 0)"),
    ({"h3": _standby(3, internal_ip="192.168.56.201")}, {}, "192.168.56.201:5236 is already used by hosts.host1"),
    ({}, {"dw": {"dw_type": "LOCAL"}}, "dw.dw_type must be GLOBAL"),
])
def test_impossible_shapes_get_one_line_errors(hosts: dict, top: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _shape(hosts, **top)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_eight_realtime_and_eight_async_is_the_largest_group() -> None:
    hosts = {f"r{i}": _standby(i) for i in range(10, 17)}
    hosts.update({f"a{i}": _standby(i, arch_type="async") for i in range(20, 28)})
    t = _shape(hosts)
    assert len(t.realtime_standbys()) == 8 and len(t.async_standbys()) == 8
    assert t.hosts["a20"].arch_type == "ASYNC"


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"--dw-topology must be one of 1p1rt, 1p2rt1async; got 'x'"):
        preset("x")


def _ini(t: Topology, host: str) -> dict:
    return render.parse_ini(render.render_dmarch(t, t.hosts[host]))


def test_primary_dmarch_has_one_section_per_standby() -> None:
    t = preset("1p2rt1async")
    a = _ini(t, "host1")
    assert {k: (v["ARCH_TYPE"], v["ARCH_DEST"]) for k, v in a.items()} == {
        "ARCHIVE_REALTIME1": ("REALTIME", "mema2"), "ARCHIVE_REALTIME2": ("REALTIME", "mema3"),
        "ARCHIVE_ASYNC": ("ASYNC", "mema4"), "ARCHIVE_LOCAL1": ("LOCAL", "/opt/dm8/data/memadb/arch")}
    assert a["ARCHIVE_ASYNC"]["ARCH_TIMER_NAME"] == "TIMER_MEMA4"


def test_standby_dmarch_points_at_the_others_and_the_async() -> None:
    t = preset("1p2rt1async")
    dests = {v["ARCH_DEST"] for k, v in _ini(t, "host3").items() if k != "ARCHIVE_LOCAL1"}
    assert dests == {"mema1", "mema2", "mema4"}
    assert list(_ini(t, "host4")) == ["ARCHIVE_LOCAL1"]  # an ASYNC standby ships nothing


def test_timely_standby_gets_a_timely_section() -> None:
    t = _shape({"h3": _standby(3, arch_type="timely")})
    a = _ini(t, "host1")
    assert a["ARCHIVE_TIMELY"] == {"ARCH_TYPE": "TIMELY", "ARCH_DEST": "s3"}
    assert a["ARCHIVE_REALTIME"]["ARCH_DEST"] == "mema2"


def test_dmtimer_and_timer_ini_only_where_async_archives_are_shipped() -> None:
    t = preset("1p2rt1async")
    timer = render.parse_ini(render.render_dmtimer(t))
    assert list(timer) == ["TIMER_MEMA4"]
    assert (timer["TIMER_MEMA4"]["TYPE"], timer["TIMER_MEMA4"]["FREQ_MINUTE_INTERVAL"]) == ("2", "1")
    for name in ("host1", "host2", "host3"):
        assert t.dmtimer_ini in render.render_host_files(t, t.hosts[name])
        assert render.dm_ini_changes(t, t.hosts[name])["TIMER_INI"] == "1"
    assert t.dmtimer_ini not in render.render_host_files(t, t.hosts["host4"])
    assert "TIMER_INI" not in render.dm_ini_changes(t, t.hosts["host4"])
    seed = Topology()
    assert "TIMER_INI" not in render.dm_ini_changes(seed, seed.primary)
    assert seed.dmtimer_ini not in render.render_host_files(seed, seed.primary)


def test_watchers_global_for_realtime_local_for_async() -> None:
    t = preset("1p2rt1async")
    t.dw.dw_mode = "AUTO"
    w = {n: render.parse_ini(render.render_dmwatcher(t, t.hosts[n]))["GRP1"] for n in ("host1", "host3", "host4")}
    assert [(v["DW_TYPE"], v["DW_MODE"]) for v in w.values()] == [("GLOBAL", "AUTO"), ("GLOBAL", "AUTO"),
                                                                  ("LOCAL", "MANUAL")]


def test_dmmal_and_dmmonitor_list_every_instance() -> None:
    t = preset("1p2rt1async")
    mal = render.parse_ini(render.render_dmmal(t))
    assert [mal[f"MAL_INST{i}"]["MAL_INST_NAME"] for i in range(1, 5)] == ["mema1", "mema2", "mema3", "mema4"]
    mon = render.parse_ini(render.render_dmmonitor(t))["GRP1"]
    assert mon["MON_DW_IP"] == [f"192.168.56.{n}:5239" for n in (201, 202, 204, 205)]


def test_local_backend_gives_every_extra_host_its_own_loopback_address() -> None:
    from harness.backends.base import BackendOptions
    from harness.backends.local import LocalBackend

    t = LocalBackend(BackendOptions(target="emulator", run_id="t")).adapt(preset("1p2rt1async"))
    ips = [(h.internal_ip, h.external_ip) for h in t.db_hosts]
    assert ips[2:] == [("127.0.56.204", "127.0.0.204"), ("127.0.56.205", "127.0.0.205")]
    assert len({i for i, _ in ips} | {t.monitor_host.internal_ip}) == 5
