"""Conformance: the group built by the seed's procedure matches the seed, item by item.

Each test reads what an operator would look at after the build (or on an accepted deployment, --dw-existing) (`id`, limits.conf, `ls -l`, the ini files,
`telnet`, disql queries, the monitor's `show`) and compares it with the seed's values, taken from the
topology (the seed's defaults unless --dw-config changes them; the local backend's addresses and ports; an
accepted group's discovered names, addresses and timers). Ini deviations name host:file:line.
"""

from __future__ import annotations

import re

import pytest

from harness.inspector import as_list, norm_path, value

pytestmark = [pytest.mark.conformance, pytest.mark.signoff("build")]


# ---- 三 OS set-up ----------------------------------------------------------------------------------
@pytest.mark.seed_os
def test_os_group_and_user(inspect, topology) -> None:
    """Seed 三.1: on every host, group dinstall has gid 12349 and user dmdba uid 12345 with dinstall as its
    primary group and /home/dmdba as its home (`groupadd -g 12349 dinstall; useradd -u 12345 -g dinstall -m -d
    /home/dmdba -s /bin/bash dmdba`)."""
    os_ = topology.os
    for host in topology.hosts:
        group = inspect.sh(host, f"getent group {os_.group}").split(":")
        assert group[0] == os_.group and int(group[2]) == os_.gid, f"{host}: group {group}"
        passwd = inspect.sh(host, f"getent passwd {os_.user}").split(":")
        assert int(passwd[2]) == os_.uid, f"{host}: {os_.user} uid {passwd[2]}"
        assert int(passwd[3]) == os_.gid, f"{host}: {os_.user} primary gid {passwd[3]}"
        assert passwd[5] == f"/home/{os_.user}" and passwd[6] == "/bin/bash", f"{host}: {passwd}"


@pytest.mark.seed_os
def test_limits_conf_entries(inspect, topology) -> None:
    """Seed 三.2: /etc/security/limits.conf has `dmdba soft|hard nproc 10240` and `dmdba soft|hard nofile
    65536` on every host."""
    user = topology.os.user
    want = {("soft", "nproc"): "10240", ("hard", "nproc"): "10240",
            ("soft", "nofile"): "65536", ("hard", "nofile"): "65536"}
    for host in topology.hosts:
        text = inspect.hosts[host].read_file("/etc/security/limits.conf")
        got = {}
        for line in text.splitlines():
            f = line.split("#", 1)[0].split()
            if len(f) == 4 and f[0] == user:
                got[(f[1], f[2])] = f[3]
        assert {k: got.get(k) for k in want} == want, f"{host}: limits.conf entries for {user}: {got}"


@pytest.mark.seed_os
def test_limits_in_force_for_dmdba(inspect, topology) -> None:
    """Seed 三.2 ("使limit生效": `su - dmdba`, `ulimit -a`): a login shell of dmdba gets nproc 10240 and
    nofile 65536, soft and hard."""
    user = topology.os.user
    capped = []
    for host in topology.hosts:
        shown = inspect.sh(host, f"su - {user} -c 'ulimit -Su; ulimit -Hu; ulimit -Sn; ulimit -Hn'").split()[-4:]
        assert shown[:2] == ["10240", "10240"], f"{host}: su - {user}; ulimit -u (soft, hard) shows {shown[:2]}"
        # a container cannot exceed its engine's hard limit: then 65536 cannot take effect on this platform
        ceiling = inspect.sh(host, "ulimit -Hn")
        if ceiling != "unlimited" and int(ceiling) < 65536:
            capped.append(f"{host}: platform hard nofile limit {ceiling}, dmdba gets {shown[2:]}")
            continue
        assert shown[2:] == ["65536", "65536"], f"{host}: su - {user}; ulimit -n (soft, hard) shows {shown[2:]}"
    if capped:
        pytest.xfail("seed 三.2 nofile 65536 cannot take effect on this platform: " + "; ".join(capped))


@pytest.mark.seed_os
def test_dm_home_owned_by_dmdba(inspect, topology) -> None:
    """Seed 三.1: `chown -R dmdba:dinstall /opt/dm8`: DM_HOME and the database directory belong to
    dmdba:dinstall on every host."""
    owner = f"{topology.os.user}:{topology.os.group}"
    for host in topology.hosts:
        h = inspect.hosts[host]
        for p in (topology.paths.dm_home, topology.db_dir):
            if p == topology.db_dir and not h.exists(p):
                continue  # the monitor host has only dmmonitor.ini there; checked when present
            assert inspect.sh(host, f"stat -c %U:%G {h.path(p)}") == owner, f"{host}:{p}"
        # nothing under DM_HOME belongs to another account (chown -R)
        stray = inspect.sh(host, f"find {h.path(topology.paths.dm_home)} ! -user {topology.os.user} | head -5")
        assert stray == "", f"{host}: not owned by {topology.os.user}: {stray}"


@pytest.mark.seed_os
def test_dmdba_path_has_dm_bin(inspect, topology) -> None:
    """Seed 三.5: dmdba's login shell has DM_HOME/bin on PATH (`.bash_profile`), so `disql`, `dmrman`,
    `dmwatcher` resolve there."""
    user, bin_dir = topology.os.user, f"{topology.paths.dm_home}/bin"
    for host in topology.hosts:
        path = inspect.sh(host, f"su - {user} -c 'echo $PATH'").splitlines()[-1]
        assert bin_dir in path.split(":"), f"{host}: PATH of {user} is {path}"
        found = inspect.sh(host, f"su - {user} -c 'command -v disql'").splitlines()[-1]
        assert found == f"{bin_dir}/disql", f"{host}: disql resolves to {found!r}"


# ---- 六 configuration files -----------------------------------------------------------------------
def test_dm_ini_values(inspect, topology) -> None:
    """Seed 六.1: each instance's dm.ini has INSTANCE_NAME (mema1 / mema2), PORT_NUM = 5236,
    ALTER_MODE_STATUS = 0, ENABLE_OFFLINE_TS = 2, MAL_INI = 1, ARCH_INI = 1."""
    for spec in topology.db_hosts:
        ini = inspect.ini(spec.name, topology.dm_ini)[""]
        got = {k: value(ini, k) for k in ("INSTANCE_NAME", "PORT_NUM", "ALTER_MODE_STATUS",
                                          "ENABLE_OFFLINE_TS", "MAL_INI", "ARCH_INI")}
        want = {"INSTANCE_NAME": spec.instance, "PORT_NUM": str(spec.port_num),
                "ALTER_MODE_STATUS": "0", "ENABLE_OFFLINE_TS": "2", "MAL_INI": "1", "ARCH_INI": "1"}
        assert got == want, inspect.deviations(spec.name, topology.dm_ini, got, want)


def test_dm_ini_values_in_force(sql, topology) -> None:
    """Seed 六.1: the running instances use those values (v$dm_ini), not only the file."""
    keys = ("INSTANCE_NAME", "ALTER_MODE_STATUS", "ENABLE_OFFLINE_TS", "MAL_INI", "ARCH_INI")
    for spec in topology.db_hosts:
        rows = sql.query(spec.instance, "select PARA_NAME, PARA_VALUE from v$dm_ini where PARA_NAME in ("
                         + ",".join(f"'{k}'" for k in keys) + ")")
        got = {str(k).upper(): str(v) for k, v in rows}
        assert got == {"INSTANCE_NAME": spec.instance, "ALTER_MODE_STATUS": "0", "ENABLE_OFFLINE_TS": "2",
                       "MAL_INI": "1", "ARCH_INI": "1"}, spec.name


def test_dmmal_ini_identical_and_complete(inspect, topology) -> None:
    """Seed 六.2: "2节点配置配置一样": dmmal.ini is the same on both hosts, with one [MAL_INSTn] per instance
    giving MAL_HOST (internal IP), MAL_PORT 5238, MAL_DW_PORT 5239, MAL_INST_HOST (external IP),
    MAL_INST_PORT 5236 and MAL_INST_DW_PORT 5237."""
    parsed = {s.name: inspect.ini(s.name, topology.dmmal_ini) for s in topology.db_hosts}
    first, *others = list(parsed.values())
    for name, ini in parsed.items():
        assert ini == first, f"dmmal.ini on {name} differs from {topology.db_hosts[0].name}"
    glob = first.get("", {})
    assert value(glob, "MAL_CHECK_INTERVAL") == str(topology.timers.mal_check_interval)
    assert value(glob, "MAL_CONN_FAIL_INTERVAL") == str(topology.timers.mal_conn_fail_interval)
    sections = {value(sec, "MAL_INST_NAME"): sec for name, sec in first.items() if name.upper().startswith("MAL_INST")}
    assert set(sections) == {s.instance for s in topology.db_hosts}
    for spec in topology.db_hosts:
        sec = sections[spec.instance]
        assert {k: value(sec, k) for k in ("MAL_HOST", "MAL_PORT", "MAL_DW_PORT", "MAL_INST_HOST", "MAL_INST_PORT",
                                           "MAL_INST_DW_PORT")} == {
            "MAL_HOST": spec.internal_ip, "MAL_PORT": str(spec.mal_port), "MAL_DW_PORT": str(spec.mal_dw_port),
            "MAL_INST_HOST": spec.external_ip or spec.internal_ip, "MAL_INST_PORT": str(spec.port_num),
            "MAL_INST_DW_PORT": str(spec.mal_inst_dw_port)}, spec.instance


def test_dmarch_ini_realtime_to_the_other_instance(inspect, topology) -> None:
    """Seed 六.3: each dmarch.ini's [ARCHIVE_REALTIME] ARCH_DEST is the other instance; [ARCHIVE_LOCAL1] writes
    to /opt/dm8/data/memadb/arch with ARCH_FILE_SIZE 128 and ARCH_SPACE_LIMIT 0. With several standbys
    (seed 一.2) a global instance has one REALTIME (TIMELY) section per other global instance and one ASYNC
    section per ASYNC standby; an ASYNC standby archives locally only."""
    for spec in topology.db_hosts:
        h = inspect.hosts[spec.name]
        ini = inspect.ini(spec.name, topology.dmarch_ini)
        by_type = {value(sec, "ARCH_TYPE").upper(): sec for sec in ini.values() if "ARCH_TYPE" in sec}
        remote = sorted((value(sec, "ARCH_TYPE").upper(), value(sec, "ARCH_DEST")) for sec in ini.values()
                        if "ARCH_TYPE" in sec and value(sec, "ARCH_TYPE").upper() != "LOCAL")
        want = [] if spec.is_async else sorted(
            [(g.arch_type if g.role == "standby" else spec.arch_type, g.instance)
             for g in topology.global_hosts() if g.name != spec.name]
            + [("ASYNC", a.instance) for a in topology.async_standbys()])
        assert remote == want, spec.name
        if not topology.is_multi:
            assert value(by_type["REALTIME"], "ARCH_DEST") == topology.peer_of(spec).instance, spec.name
        local = by_type["LOCAL"]
        assert norm_path(value(local, "ARCH_DEST")) == norm_path(h.path(topology.paths.arch_dir)), spec.name
        assert value(local, "ARCH_FILE_SIZE") == str(topology.dw.arch_file_size)
        assert value(local, "ARCH_SPACE_LIMIT") == str(topology.dw.arch_space_limit)


def test_dmarch_realtime_in_force(dw, sql) -> None:
    """Seed 六.3 / reference 2.3: v$arch_status on the primary shows a LOCAL archive and a REALTIME archive
    to the standby instance (to each real-time standby, in a group with several), VALID."""
    p = dw.primary
    rows = sql.query(p.name, "select ARCH_TYPE, ARCH_DEST, ARCH_STATUS from v$arch_status")
    kinds = {(str(t).upper(), str(d)) : str(st).upper() for t, d, st in rows}
    for s in dw.realtime_nodes():
        if s.name != p.name:
            assert kinds.get((dw.spec(s).arch_type, s.name)) == "VALID", (s.name, rows)
    assert any(t == "LOCAL" and st == "VALID" for (t, _), st in kinds.items()), rows


def test_dmwatcher_ini_values(inspect, topology) -> None:
    """Seed 六.4: [GRP1] DW_TYPE GLOBAL, DW_MODE MANUAL, DW_ERROR_TIME, INST_RECOVER_TIME, INST_ERROR_TIME,
    INST_OGUID 453331, INST_INI = the dm.ini, INST_AUTO_RESTART 1, INST_STARTUP_CMD = DM_HOME/bin/dmserver,
    RLOG_SEND_THRESHOLD 0, RLOG_APPLY_THRESHOLD 0; DW_TYPE/DW_MODE/timers equal on both hosts (reference 10.3).
    An ASYNC standby's watcher is DW_TYPE LOCAL, DW_MODE MANUAL (issue 14); the timers are the same on every host."""
    t = topology
    shared = []
    for spec in t.db_hosts:
        h = inspect.hosts[spec.name]
        sec = inspect.ini(spec.name, t.dmwatcher_ini)[t.group]
        got = {k: value(sec, k) for k in sec}
        got["DW_TYPE"], got["DW_MODE"] = got.get("DW_TYPE", "").upper(), got.get("DW_MODE", "").upper()
        got["INST_INI"] = norm_path(got.get("INST_INI", ""))
        mode = "MANUAL" if spec.is_async else t.dw.dw_mode
        want = {"DW_TYPE": "LOCAL" if spec.is_async else "GLOBAL", "DW_MODE": mode, "INST_OGUID": str(t.oguid), "INST_INI": h.path(t.dm_ini),
                "INST_AUTO_RESTART": "1", "INST_STARTUP_CMD": h.path(f"{t.paths.dm_home}/bin/dmserver"),
                "DW_ERROR_TIME": str(t.timers.dw_error_time), "INST_ERROR_TIME": str(t.timers.inst_error_time),
                "INST_RECOVER_TIME": str(t.timers.inst_recover_time), "RLOG_SEND_THRESHOLD": "0",
                "RLOG_APPLY_THRESHOLD": "0"}
        wrong = inspect.deviations(spec.name, t.dmwatcher_ini, got, want, t.group)
        assert wrong == [], wrong
        shared.append({k: got[k] for k in ("DW_ERROR_TIME", "INST_ERROR_TIME", "INST_RECOVER_TIME",
                                           "INST_OGUID")})
    assert all(s == shared[0] for s in shared), shared


def test_dmmonitor_ini_points_at_every_watcher(inspect, topology) -> None:
    """Seed 十一.1: dmmonitor.ini has MON_DW_CONFIRM 1, the log settings, [GRP1] MON_INST_OGUID 453331 and one
    MON_DW_IP per watcher equal to MAL_HOST:MAL_DW_PORT of that host as dmmal.ini gives it."""
    t = topology
    mon = t.monitor_host.name
    ini = inspect.ini(mon, t.dmmonitor_ini)
    glob, grp = ini[""], ini[t.group]
    assert value(glob, "MON_DW_CONFIRM") == "1"
    assert norm_path(value(glob, "MON_LOG_PATH")) == norm_path(inspect.hosts[mon].path(t.paths.mon_log_path))
    assert (value(glob, "MON_LOG_INTERVAL"), value(glob, "MON_LOG_FILE_SIZE"), value(glob, "MON_LOG_SPACE_LIMIT")) == (
        "60", "32", "0")
    assert value(grp, "MON_INST_OGUID") == str(t.oguid)
    mal = inspect.ini(t.db_hosts[0].name, t.dmmal_ini)
    want = sorted(f"{value(s, 'MAL_HOST')}:{value(s, 'MAL_DW_PORT')}" for n, s in mal.items()
                  if n.upper().startswith("MAL_INST"))
    assert sorted(as_list(grp["MON_DW_IP"])) == want


# ---- 二.2 ports ----------------------------------------------------------------------------------
def test_ports_listening_where_they_should(inspect, topology) -> None:
    """Seed 二.2 / reference 10.4: from the peer host, each instance accepts on PORT_NUM (5236, external IP)
    and MAL_PORT (5238); each watcher on MAL_DW_PORT (5239), from the peer and from the monitor host; the
    instance accepts its watcher on MAL_INST_DW_PORT (5237) on its own host. The monitor host listens on none."""
    mon = topology.monitor_host
    for spec in topology.db_hosts:
        peer = topology.peer_of(spec).name
        ext = spec.external_ip or spec.internal_ip
        checks = [(peer, ext, spec.port_num, "PORT_NUM"), (peer, spec.internal_ip, spec.mal_port, "MAL_PORT"),
                  (peer, spec.internal_ip, spec.mal_dw_port, "MAL_DW_PORT"),
                  (mon.name, spec.internal_ip, spec.mal_dw_port, "MAL_DW_PORT from the monitor"),
                  (spec.name, spec.internal_ip, spec.mal_inst_dw_port, "MAL_INST_DW_PORT")]
        closed = [f"{what} {ip}:{port} from {src}" for src, ip, port, what in checks if not inspect.accepts(src, ip, port)]
        assert closed == [], f"{spec.instance}: not accepting: {closed}"
    for port in (mon.port_num, mon.mal_inst_dw_port, mon.mal_port, mon.mal_dw_port):
        assert not inspect.accepts(topology.db_hosts[0].name, mon.internal_ip, port), f"monitor host listens on {port}"


# ---- 五 / 八 / 九 / 十一 state --------------------------------------------------------------------
def test_oguid_equal_in_instances_watchers_and_monitor(dw, inspect, monitor, topology) -> None:
    """Seed 八 / reference 5.3: OGUID 453331 in v$instance of both instances, in both dmwatcher.ini, in
    dmmonitor.ini and in the monitor's `show`."""
    t = topology
    seen = {f"v$instance {n}": dw.oguid(n) for n in dw.nodes}
    for spec in t.db_hosts:
        seen[f"dmwatcher.ini {spec.name}"] = int(value(inspect.ini(spec.name, t.dmwatcher_ini)[t.group], "INST_OGUID"))
    seen["dmmonitor.ini"] = int(value(inspect.ini(t.monitor_host.name, t.dmmonitor_ini)[t.group], "MON_INST_OGUID"))
    seen["show"] = monitor.show().oguid
    assert set(seen.values()) == {t.oguid}, seen


def test_permanent_magic_equal_db_magic_different(dw) -> None:
    """Seed 五.4 / reference 5.3: the standby is restored from the primary's backup, so `select
    permanent_magic` is equal on both; `RECOVER ... UPDATE DB_MAGIC` made v$rlog DB_MAGIC differ."""
    magics = dw.magics()
    perms = {n: m[0] for n, m in magics.items()}
    dbs = {n: m[1] for n, m in magics.items()}
    assert len(set(perms.values())) == 1, f"permanent magic differs: {perms}"
    assert len(set(dbs.values())) == len(dbs), f"DB magic equal: {dbs}"


def test_archive_mode_on(dw, sql) -> None:
    """Seed 四.2: `alter database archivelog` made `select arch_mode from v$database` Y (on the standby too,
    restored from the primary's backup)."""
    got = {n: str(sql.scalar(n, "select arch_mode from v$database")).upper() for n in dw.nodes}
    assert set(got.values()) == {"Y"}, got


def test_roles_and_archive_status(dw, monitor, topology) -> None:
    """Seed 九 / 十一.2: the primary is OPEN PRIMARY, the standby OPEN STANDBY (v$instance), and `show`
    reports both watchers OPEN with the standby's RSTAT VALID (every standby, in a group with several)."""
    p = topology.primary.instance
    standbys = [s.instance for s in topology.standbys()]
    assert (dw.role(p).mode, dw.role(p).status) == ("PRIMARY", "OPEN")
    for s in standbys:
        assert (dw.role(s).mode, dw.role(s).status) == ("STANDBY", "OPEN"), s
    assert set(dw.rstat(p).values()) == {"VALID"}
    st = monitor.show()
    assert st.healthy([p, *standbys]), st.summary()
    assert st.db(p).imode == "PRIMARY"
    for s in standbys:
        assert (st.db(s).imode, st.db(s).rstat) == ("STANDBY", "VALID"), s
    assert re.fullmatch(topology.group, st.group, re.I), st.group
