"""dm_service_installer.sh / dm_service_uninstaller.sh and the DmService scripts, without systemd.

The installer runs as root (as DM8's does); DMEMU_SERVICE_ROOT re-roots the unit directories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dm_service_installer.sh runs as root (as DM8's does)")


def _env(tmp: Path, bugs: str = "") -> dict[str, str]:
    env = {**os.environ, "DMEMU_SERVICE_ROOT": str(tmp / "root"), "DM_HOME": str(tmp / "dm8")}
    env.pop("DMEMU_BUGS", None)
    if bugs:
        env["DMEMU_BUGS"] = bugs
    return env


def _run(tmp: Path, entry: str, *args: str, bugs: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys; from dmemu.tools.service import {entry} as m; sys.exit(m(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=_env(tmp, bugs), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    (tmp_path / "dm8" / "bin").mkdir(parents=True)
    (tmp_path / "dm.ini").write_text("INSTANCE_NAME = mema1\n")
    (tmp_path / "dmwatcher.ini").write_text("[GRP1]\n")
    # a stand-in dmwatcher: a python3 process whose command line names the program and the ini
    fake = tmp_path / "dm8" / "bin" / "dmwatcher"
    fake.write_text("#!/bin/sh\nexec python3 -c 'import time; \"dmwatcher\"; time.sleep(120)' \"$@\"\n")
    fake.chmod(0o755)
    return tmp_path


def test_dmserver_unit_and_script_follow_dm8(home: Path) -> None:
    r = _run(home, "installer_main", "-t", "dmserver", "-dm_ini", str(home / "dm.ini"), "-p", "mema1", "-m", "mount")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "创建服务(DmServicemema1)完成" in r.stdout
    unit = (home / "root/usr/lib/systemd/system/DmServicemema1.service").read_text()
    dm_home = home / "dm8"
    for line in ("Type=forking", f"PIDFile={dm_home}/bin/pids/DmServicemema1.pid",
                 f"ExecStart={dm_home}/bin/DmServicemema1 start", f"ExecStop={dm_home}/bin/DmServicemema1 stop",
                 "WantedBy=multi-user.target"):
        assert line in unit.splitlines(), (line, unit)
    assert (home / "root/etc/systemd/system/multi-user.target.wants/DmServicemema1.service").is_symlink()
    script = (dm_home / "bin" / "DmServicemema1").read_text()
    assert f'INI_PATH="{home / "dm.ini"}"' in script and 'START_MODE="mount"' in script


def test_seeded_defect_ignores_mount(home: Path) -> None:
    r = _run(home, "installer_main", "-t", "dmserver", "-dm_ini", str(home / "dm.ini"), "-p", "mema1", "-m", "mount",
             bugs="service-ignores-mount")
    assert r.returncode == 0, r.stdout
    assert 'START_MODE="open"' in (home / "dm8" / "bin" / "DmServicemema1").read_text()


def test_watcher_script_starts_stops_and_uninstalls(home: Path) -> None:
    r = _run(home, "installer_main", "-t", "dmwatcher", "-watcher_ini", str(home / "dmwatcher.ini"), "-p", "mema")
    assert r.returncode == 0, r.stdout
    script = str(home / "dm8" / "bin" / "DmWatcherServicemema")
    env = _env(home)
    try:
        out = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "[ OK ]" in out.stdout, out.stdout + out.stderr
        pid = int((home / "dm8/bin/pids/DmWatcherServicemema.pid").read_text())
        st = subprocess.run([script, "status"], env=env, capture_output=True, text=True, timeout=30)
        assert st.returncode == 0 and f"(pid {pid})" in st.stdout, st.stdout
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=90)
    assert not Path(f"/proc/{pid}").exists()
    st = subprocess.run([script, "status"], env=env, capture_output=True, text=True, timeout=30)
    assert st.returncode == 3, st.stdout
    r = _run(home, "uninstaller_main", "-n", "DmWatcherServicemema")
    assert r.returncode == 0, r.stdout
    assert not Path(script).exists()
    assert not (home / "root/usr/lib/systemd/system/DmWatcherServicemema.service").exists()


@pytest.mark.parametrize("args, says", [
    (["-t", "dmfoo", "-p", "x"], "不支持的服务类型"),
    (["-t", "dmserver", "-p", "x"], "-dm_ini"),
    (["-t", "dmserver", "-dm_ini", "/nonexistent/dm.ini", "-p", "x"], "不存在"),
    (["-t", "dmserver", "-dm_ini"], "缺少值"),
])
def test_bad_input_one_line(home: Path, args: list[str], says: str) -> None:
    r = _run(home, "installer_main", *args)
    assert r.returncode == 1 and says in r.stdout and len(r.stdout.strip().splitlines()) == 1, r.stdout
