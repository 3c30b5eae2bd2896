"""The seed's section 三 as vagrant/provision/*.sh does it, checked with testinfra in a base-image container.

The same scripts provision the Vagrant VMs and the Docker images, so this is their test for both.
"""

from __future__ import annotations

from typing import Any

import pytest
import testinfra

from harness import images as im

MOUNTS = {
    str(im.PROVISION): {"bind": "/dmdw/vagrant/provision", "mode": "ro"},
    str(im.CONTAINERS / "base"): {"bind": "/dmdw/containers/base", "mode": "ro"},
    str(im.EMULATOR): {"bind": "/dmdw/emulator", "mode": "ro"},
    str(im.client_library()): {"bind": "/dmdw/clientlib/dmpy", "mode": "ro"},
}
LIMITS = ["dmdba\tsoft\tnproc\t10240", "dmdba\thard\tnproc\t10240",
          "dmdba\tsoft\tnofile\t65536", "dmdba\thard\tnofile\t65536"]


@pytest.fixture
def fresh(base_image: str, container: Any) -> Any:
    """testinfra host of a new base-image container with the repository's scripts mounted read-only."""
    c = container(base_image, volumes=MOUNTS, network_mode="none")
    return testinfra.get_host(f"docker://root@{c.id}")


def provision(host: Any, script: str, *args: str, env: str = "") -> Any:
    return host.run(f"{env} sh /dmdw/vagrant/provision/{script} {' '.join(args)}")


def test_common_sh_does_the_seeds_section_3(fresh: Any) -> None:
    r = provision(fresh, "common.sh")
    assert r.rc == 0, r.stderr
    user, group = fresh.user("dmdba"), fresh.group("dinstall")
    assert group.exists and group.gid == 12349
    assert user.exists and user.uid == 12345 and user.gid == 12349 and user.group == "dinstall"
    assert user.home == "/home/dmdba" and user.shell == "/bin/bash"
    for d in ("/opt/software", "/opt/dm8"):
        assert fresh.file(d).is_directory
    assert fresh.file("/opt/dm8").user == "dmdba" and fresh.file("/opt/dm8").group == "dinstall"
    limits = fresh.file("/etc/security/limits.conf").content_string.splitlines()
    for line in LIMITS:
        assert limits.count(line) == 1, line
    path = fresh.run("su - dmdba -c 'echo $PATH'").stdout.strip().split(":")
    assert "/opt/dm8/bin" in path
    assert fresh.run("su - dmdba -c 'ulimit -u'").stdout.strip() == "10240"  # pam_limits applies the seed's lines
    # password Mema_1234 (the seed's one password) is set: the shadow entry is a real hash
    assert fresh.run("getent shadow dmdba").stdout.split(":")[1].startswith("$")
    assert fresh.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Asia/Shanghai"


def test_common_sh_is_idempotent_and_honours_dm_home(fresh: Any) -> None:
    for _ in range(2):
        r = provision(fresh, "common.sh", env="DM_HOME=/data/dm8home")
        assert r.rc == 0, r.stderr
    limits = fresh.file("/etc/security/limits.conf").content_string.splitlines()
    assert all(limits.count(line) == 1 for line in LIMITS)
    profile = fresh.file("/home/dmdba/.bash_profile").content_string
    assert profile.count("# dmdw: DM_HOME") == 1
    assert fresh.file("/data/dm8home").user == "dmdba"
    assert "/data/dm8home/bin" in fresh.run("su - dmdba -c 'echo $PATH'").stdout


def test_common_sh_rejects_bad_input_and_conflicts(fresh: Any) -> None:
    r = provision(fresh, "common.sh", env="DM_HOME=relative/dm8")
    assert r.rc == 2 and "DM_HOME must be an absolute path" in r.stderr
    assert not fresh.user("dmdba").exists, "nothing may be changed on bad input"
    fresh.run_expect([0], "groupadd -g 5000 dinstall")
    r = provision(fresh, "common.sh")
    assert r.rc == 1 and "gid other than 12349" in r.stderr


def test_emulator_sh_installs_the_tools_offline(fresh: Any) -> None:
    assert provision(fresh, "common.sh").rc == 0
    # the container has no network at all: the install downloads nothing
    r = provision(fresh, "emulator.sh", "/dmdw/emulator")
    assert r.rc == 1 and "pass CLIENTLIB_DIR" in r.stderr, "offline and no DM client library: a clear error"
    r = provision(fresh, "emulator.sh", "/dmdw/emulator", "/dmdw/clientlib")
    assert r.rc == 0, r.stderr
    for tool in ("dminit", "dmserver", "disql", "dmrman", "dmwatcher", "dmmonitor"):
        f = fresh.file(f"/opt/dm8/bin/{tool}")
        assert f.is_file and f.mode & 0o111 and f.user == "dmdba", tool
    r = fresh.run("su - dmdba -c 'command -v dmserver && python3 -c \"import dmemu, dmpy, Crypto.Cipher.DES\"'")
    assert r.rc == 0 and r.stdout.strip() == "/opt/dm8/bin/dmserver", r.stderr
    r = provision(fresh, "emulator.sh", "/nonexistent")
    assert r.rc == 2 and "is not the emulator folder" in r.stderr


def test_dm8_sh_runs_the_installer_silently(fresh: Any) -> None:
    """A stand-in DMInstall.bin that behaves like DM8's in silent mode (-q XML): checks the XML we
    write (INSTALL_PATH, typical install, +08:00) and that it runs as dmdba, then lays out bin/."""
    assert provision(fresh, "common.sh").rc == 0
    fake = r"""#!/bin/sh
[ "$1" = -q ] || { echo "expected -q" >&2; exit 9; }
[ "$(id -un)" = dmdba ] || { echo "must run as dmdba" >&2; exit 9; }
grep -q '<INSTALL_TYPE>0</INSTALL_TYPE>' "$2" && grep -q '<TIME_ZONE>+08:00</TIME_ZONE>' "$2" || exit 9
dest=$(sed -n 's:.*<INSTALL_PATH>\(.*\)</INSTALL_PATH>.*:\1:p' "$2")
mkdir -p "$dest/bin" && for t in dminit dmserver disql dmrman dmwatcher dmmonitor; do
  printf '#!/bin/sh\necho %s\n' $t > "$dest/bin/$t"; chmod 755 "$dest/bin/$t"; done
"""
    fresh.run("cat > /opt/software/DMInstall.bin <<'EOF'\n" + fake + "EOF\n")
    r = provision(fresh, "dm8.sh", "/opt/software/DMInstall.bin")
    assert r.rc == 0, r.stdout + r.stderr
    assert fresh.run("su - dmdba -c dmserver").stdout.strip() == "dmserver"
    r = provision(fresh, "dm8.sh", "/opt/software/missing.bin")
    assert r.rc == 2 and "does not exist" in r.stderr
    r = provision(fresh, "dm8.sh", "/opt/software/DM8.zip")
    assert r.rc == 2
