"""The seed's procedure on the local backend with the emulator, in Chinese and English: every step
recorded, the built group as the seed describes it, the monitor driver's commands, the seed's stop and
start order, and a failing step that names itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import render
from harness.backends.base import BackendOptions
from harness.backends.local import LocalBackend
from harness.dw import DataWatch
from harness.errors import StepError
from harness.procedure import Procedure
from harness.settings import default_topology
from harness.sql import Sql
from harness.steps import StepLog

SEED_STEPS = ["dminit mema1", "四.1 first normal start of the primary", "四.2 archive mode", "五.1 stop the primary",
              "五.1 offline backup", "dminit mema2", "五.4 restore", "五.4 recover", "五.4 update db_magic",
              "六.1 dm.ini on host1", "六.2 dmmal.ini on host1", "六.3 dmarch.ini on host1",
              "六.4 dmwatcher.ini on host1", "七 start the primary in mount", "七 start the standby in mount",
              "八 sp_set_oguid on mema1", "八 sp_set_oguid on mema2", "九 alter database primary",
              "九 alter database standby", "十 start dmwatcher on host1", "十 start dmwatcher on host2",
              "十一.1 dmmonitor.ini", "start dmmonitor", "十一.2 `show` reports both OPEN and VALID"]


def _group(tmp: Path, lang: str, **topo_changes: object):
    b = LocalBackend(BackendOptions(run_id=f"proc{lang}", lang=lang))
    t = b.adapt(default_topology("emulator", lang))
    for k, v in topo_changes.items():
        t.dminit[k] = str(v)
    hosts = b.up(t)
    steps = StepLog(tmp / "steps.jsonl")
    proc = Procedure(b, hosts, t, steps, tmp)
    sql = Sql(t, b, hosts, tmp)
    return SimpleNamespace(backend=b, t=t, hosts=hosts, steps=steps, proc=proc, sql=sql,
                           dw=DataWatch(proc, sql), run=tmp)


def _down(g) -> None:
    g.sql.close_all()
    g.proc.kill_everything()
    g.backend.down()
    assert g.backend.live_pids() == []


@pytest.fixture(scope="module", params=["cn", "en"])
def group(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    g = _group(tmp_path_factory.mktemp(f"run-{request.param}"), request.param)
    try:
        g.proc.build()
        yield g
    finally:
        _down(g)


def test_every_seed_step_is_recorded_in_order(group) -> None:
    names = [s.step for s in group.steps.steps]
    it = iter(names)
    missing = [want for want in SEED_STEPS if not any(n == want for n in it)]
    assert missing == [], names
    rows = [json.loads(x) for x in (group.run / "steps.jsonl").read_text().splitlines()]
    assert len(rows) == len(names) and all(r["ok"] for r in rows)
    archive = next(r for r in rows if r["step"] == "四.2 archive mode")
    assert "alter database archivelog" in archive["output"] and archive["duration"] > 0


def test_rendered_configs_are_on_the_hosts_and_kept_for_the_report(group) -> None:
    t, h1 = group.t, group.hosts["host1"]
    assert h1.read_file(t.dmwatcher_ini) == render.render_dmwatcher(t, t.primary, h1.path)
    assert (group.run / "configs" / "host1" / "dmwatcher.ini").read_text() == h1.read_file(t.dmwatcher_ini)
    assert (group.run / "configs" / "monitor" / "dmmonitor.ini").is_file()
    ini = render.parse_ini(h1.read_file(t.dm_ini))[""]
    assert {k: ini[k] for k in render.dm_ini_changes(t, t.primary)} == render.dm_ini_changes(t, t.primary)


def test_group_matches_the_seed(group) -> None:
    dw = group.dw
    assert dw.roles() == {"mema1": dw.role("mema1"), "mema2": dw.role("mema2")}
    assert dw.role("mema1").writable_primary and dw.role("mema2").mode == "STANDBY"
    magics = dw.magics()
    (p1, d1), (p2, d2) = magics["mema1"], magics["mema2"]
    assert magics["mema1"] == dw.magics("mema1")
    assert p1 == p2 and d1 != d2  # same permanent magic, new DB magic after UPDATE DB_MAGIC
    assert dw.oguid("mema1") == dw.oguid("mema2") == group.t.oguid
    assert dw.rstat() == {"mema2": "VALID"}
    assert group.sql.scalar("mema1", "select arch_mode from v$database", retries=2) == "Y"
    assert dw.build_info()["SVR_VERSION"]


def test_monitor_show_login_choose_and_switchover_and_back(group) -> None:
    m, dw = group.proc.monitor, group.dw
    ok, text = m.tip()
    assert ok, text
    st = m.show()
    assert st.healthy(["mema1", "mema2"]) and st.group == group.t.group and st.oguid == group.t.oguid
    m.logged_in = False
    assert m.choose_switchover() == ["mema2"]  # logs in on DWMON_NOT_LOGIN, as an operator would
    assert m.logged_in
    assert m.choose_takeover() == []  # nothing to take over while healthy
    group.sql.execute("mema1", "create table sw(id int)")
    group.sql.execute("mema1", "insert into sw values(1)")
    m.switchover("mema2")
    dw.wait_roles(primary="mema2", standby="mema1")
    assert dw.primary.name == "mema2"
    group.sql.execute("mema2", "insert into sw values(2)")
    dw.wait_replicated()
    assert group.sql.scalar("mema1", "select count(*) from sw") == 2
    m.logout()
    assert not m.logged_in
    m.switchover("mema1")  # refused with -5 (no confirmation prompt), logs in, retries, answers YES
    assert m.logged_in
    dw.wait_roles(primary="mema1", standby="mema2")
    dw.wait_healthy()
    assert m.wait_for(dw.node("mema2"), imode="STANDBY", wstatus="OPEN").rstat == "VALID"
    lsn = dw.lsn()
    assert lsn["mema1"][1] == lsn["mema2"][1] == dw.lsn("mema2")[1]
    transcript = (group.run / "monitor-monitor.log").read_text()
    assert "switchover GRP1.mema2" in transcript and "Mema_1234" not in transcript  # password not echoed


def test_other_monitor_commands(group) -> None:
    m = group.proc.monitor
    assert "DMMONITOR" in m.show_version()
    assert "switchover" in m.help()
    assert "DW_MODE" in m.list() or "MANUAL" in m.list()
    assert "mema1" in m.show_database("mema1")
    m.set_recover_time(7)
    m.set_recover_time(7, "mema2")
    assert group.proc.monitor.check_open("mema1").strip()
    state = m.show_global_info()
    assert set(state.databases) == {"MEMA1", "MEMA2"}


def test_seed_stop_order_then_start(group) -> None:
    g = group
    g.proc.stop_group_manual()
    assert all(h.pids(r"dmserver|dmwatcher|dmmonitor") == [] for h in g.hosts.values())
    assert g.dw.roles() == {"mema1": g.dw.role("mema1"), "mema2": g.dw.role("mema2")}
    assert g.dw.role("mema1").mode == "DOWN"
    g.proc.start_group()
    assert g.dw.healthy()
    assert [s.step for s in g.steps.steps][-1] == "十二.3.2 group healthy after restart"


def test_failing_step_names_itself(tmp_path: Path) -> None:
    g = _group(tmp_path, "cn", PAGE_SIZE=3)
    try:
        with pytest.raises(StepError) as exc:
            g.proc.build()
    finally:
        _down(g)
    assert exc.value.step == "dminit mema1"
    assert str(exc.value).startswith("procedure step 'dminit mema1' failed on host1")
    assert "PAGE_SIZE=3" in str(exc.value) and exc.value.output.strip()
    assert g.steps.steps[-1].ok is False


def test_sql_service_names_follow_login_mode(group) -> None:
    import dmPython

    from harness.sql import dm_error_code

    sql = group.sql
    sql.service("only_standby", login_mode=2, switch_time=1, switch_interval=100)
    sql.service("standby_first", login_mode=3, switch_time=2, switch_interval=100, targets=["host1", "host2"])
    conf = render.parse_svc(sql.svc_conf.read_text())
    assert conf["only_standby"]["LOGIN_MODE"] == "2" and conf["standby_first"]["SWITCH_TIME"] == "2"
    assert conf[group.t.svc.name]["ADDRS"] == [sql.address("mema1"), sql.address("mema2")]

    def instance(target: str) -> str:
        return str(sql.scalar(target, "select INSTANCE_NAME from v$instance")).lower()

    assert instance(group.t.svc.name) == "mema1"  # the seed's service: LOGIN_MODE=1
    assert instance("only_standby") == "mema2"
    assert instance("standby_first") == "mema2"
    with pytest.raises(dmPython.DatabaseError) as exc:
        sql.execute("only_standby", "create table not_on_standby(id int)")
    assert dm_error_code(exc.value) in (-2018, -710)
