"""Rendering of the seed's files: for the default topology the output equals the seed's blocks key by key."""

from __future__ import annotations

import pytest
import seed_blocks as seed

from harness import render
from harness.render import Service, parse_ini, parse_svc
from harness.topology import Topology


@pytest.fixture
def topo() -> Topology:
    return Topology()


def _effective(text: str) -> dict:
    """Keys that are in force (commented-out lines ignored), as DM reads the file."""
    return parse_ini(text)


@pytest.mark.parametrize("host,block", [("host1", seed.DM_INI_HOST1), ("host2", seed.DM_INI_HOST2)])
def test_dm_ini_changes_equal_seed(topo: Topology, host: str, block: str) -> None:
    want = _effective(block)[""]
    got = render.dm_ini_changes(topo, topo.hosts[host])
    assert got == want
    assert _effective(render.render_dm_ini_changes(topo, topo.hosts[host]))[""] == want


def test_dmmal_equals_seed(topo: Topology) -> None:
    got, want = parse_ini(render.render_dmmal(topo)), parse_ini(seed.DMMAL_INI)
    assert got == want
    assert list(got) == ["", "MAL_INST1", "MAL_INST2"]


@pytest.mark.parametrize("host,block", [("host1", seed.DMARCH_INI_HOST1), ("host2", seed.DMARCH_INI_HOST2)])
def test_dmarch_equals_seed(topo: Topology, host: str, block: str) -> None:
    assert parse_ini(render.render_dmarch(topo, topo.hosts[host])) == parse_ini(block)


@pytest.mark.parametrize("host", ["host1", "host2"])
def test_dmwatcher_equals_seed(topo: Topology, host: str) -> None:
    assert parse_ini(render.render_dmwatcher(topo, topo.hosts[host])) == parse_ini(seed.DMWATCHER_INI)


def test_dmmonitor_equals_seed(topo: Topology) -> None:
    got = parse_ini(render.render_dmmonitor(topo))
    assert got == parse_ini(seed.DMMONITOR_INI)
    assert got["GRP1"]["MON_DW_IP"] == ["192.168.56.201:5239", "192.168.56.202:5239"]


def test_rendered_text_keeps_seed_comments(topo: Topology) -> None:
    """Not only the keys: the rendered lines read as the seed's (value and comment per line)."""
    def lines(text: str) -> list[tuple[str, str]]:
        out = []
        for raw in text.splitlines():
            if "=" in raw and not raw.lstrip().startswith("#"):
                k, rest = raw.split("=", 1)
                out.append((k.strip(), " ".join(rest.split())))
        return out

    assert lines(render.render_dmwatcher(topo, topo.primary)) == lines(seed.DMWATCHER_INI)
    assert lines(render.render_dmarch(topo, topo.primary)) == lines(seed.DMARCH_INI_HOST1)
    assert lines(render.render_dmmonitor(topo)) == lines(seed.DMMONITOR_INI)


def test_dm_svc_equals_seed_except_its_typo_network(topo: Topology) -> None:
    """Seed 十三 lists 192.168.3.x, a network that exists nowhere else in the seed (its hosts' external
    addresses are 192.168.0.x); everything else is equal."""
    want = parse_svc(seed.DM_SVC_CONF)
    got = parse_svc(render.render_svc([render.seed_service(topo)]))
    assert got[""] == want[""] == {"LOGIN_MODE": "1", "SWITCH_TIME": "3", "SWITCH_INTERVAL": "1000"}
    assert [p for _, p in got["memadb"]["ADDRS"]] == [p for _, p in want["memadb"]["ADDRS"]]
    assert got["memadb"]["ADDRS"] == [("192.168.0.201", 5236), ("192.168.0.202", 5236)]
    assert [ip.replace("192.168.3.", "192.168.0.") for ip, _ in want["memadb"]["ADDRS"]] == \
        [ip for ip, _ in got["memadb"]["ADDRS"]]


def test_svc_extra_services_get_their_own_section() -> None:
    text = render.render_svc([Service("memadb", [("10.0.0.1", 5236)], 1, 3, 1000),
                              Service("lm2", [("10.0.0.1", 5236), ("10.0.0.2", 5236)], 2, 1, 100)])
    parsed = parse_svc(text)
    assert parsed["lm2"]["ADDRS"] == [("10.0.0.1", 5236), ("10.0.0.2", 5236)]
    assert parsed["lm2"]["LOGIN_MODE"] == "2" and parsed["lm2"]["SWITCH_INTERVAL"] == "100"
    assert parsed[""]["LOGIN_MODE"] == "1"


def test_changed_topology_changes_every_file(topo: Topology) -> None:
    topo.group, topo.oguid = "DWG", 77
    topo.timers.dw_error_time = 3
    topo.hosts["host2"].mal_dw_port = 6239
    assert "[DWG]" in render.render_dmwatcher(topo, topo.standby)
    assert parse_ini(render.render_dmwatcher(topo, topo.standby))["DWG"]["DW_ERROR_TIME"] == "3"
    mon = parse_ini(render.render_dmmonitor(topo))
    assert mon["DWG"]["MON_INST_OGUID"] == "77"
    assert mon["DWG"]["MON_DW_IP"][1] == "192.168.56.202:6239"
    assert parse_ini(render.render_dmmal(topo))["MAL_INST2"]["MAL_DW_PORT"] == "6239"


def test_path_mapper_applies_to_paths_only(topo: Topology) -> None:
    def mapper(p: str) -> str:
        return "/root/h1" + p

    w = parse_ini(render.render_dmwatcher(topo, topo.primary, mapper))["GRP1"]
    assert w["INST_INI"] == "/root/h1/opt/dm8/data/memadb/dm.ini"
    assert w["INST_STARTUP_CMD"] == "/root/h1/opt/dm8/bin/dmserver"
    assert w["INST_OGUID"] == "453331"
    a = parse_ini(render.render_dmarch(topo, topo.primary, mapper))
    assert a["ARCHIVE_LOCAL1"]["ARCH_DEST"] == "/root/h1/opt/dm8/data/memadb/arch"
    assert a["ARCHIVE_REALTIME"]["ARCH_DEST"] == "mema2"


def test_apply_ini_changes_edits_in_place() -> None:
    original = ("# DM ini\nINSTANCE_NAME = DMSERVER  # name\nPORT_NUM = 5236\n"
                "ALTER_MODE_STATUS = 1\nBUFFER = 1000\n")
    out = render.apply_ini_changes(original, {"INSTANCE_NAME": "mema1", "PORT_NUM": "6000", "MAL_INI": "1"})
    parsed = parse_ini(out)[""]
    assert parsed == {"INSTANCE_NAME": "mema1", "PORT_NUM": "6000", "ALTER_MODE_STATUS": "1", "BUFFER": "1000",
                      "MAL_INI": "1"}
    assert out.startswith("# DM ini\n") and "# name" in out


def test_parse_ini_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not an ini line"):
        parse_ini("[A]\nthis is not ini\n")
    with pytest.raises(ValueError, match="dm_svc.conf"):
        parse_svc("memadb=192.168.0.1:5236\n")
