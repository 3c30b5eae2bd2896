"""Inspector.where/deviations: a conformance deviation names host:file:line of the key an operator edits."""

from __future__ import annotations

from types import SimpleNamespace

from harness.inspector import Inspector

WATCHER = """# dmwatcher.ini
[GRP1]
DW_TYPE = GLOBAL
DW_MODE = MANUAL
INST_OGUID = 453331   # the group's OGUID
"""


class FakeHost:
    def path(self, p: str) -> str:
        return p

    def read_file(self, p: str) -> str:
        return {"/d/dm.ini": "PORT_NUM = 5236\nMAL_INI = 0\n", "/d/dmwatcher.ini": WATCHER}[p]


def inspector() -> Inspector:
    group = SimpleNamespace(topology=None, hosts={"host1": FakeHost()}, backend=None)
    return Inspector(group)


def test_where_names_the_line_of_the_key() -> None:
    ins = inspector()
    assert ins.where("host1", "/d/dm.ini", "mal_ini") == "host1:/d/dm.ini:2"
    assert ins.where("host1", "/d/dmwatcher.ini", "INST_OGUID", "grp1") == "host1:/d/dmwatcher.ini:5"
    assert ins.where("host1", "/d/dm.ini", "ARCH_INI") == "host1:/d/dm.ini"


def test_deviations_list_only_wrong_values() -> None:
    got = {"PORT_NUM": "5236", "MAL_INI": "0"}
    assert inspector().deviations("host1", "/d/dm.ini", got, {"PORT_NUM": "5236", "MAL_INI": "1"}) == [
        "host1:/d/dm.ini:2 MAL_INI = 0 (seed: 1)"]
