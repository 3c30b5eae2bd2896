"""The dm8 target without a DM8 build: option checks, the rendered build context, a stand-in installer
driven through containers/dm8 exactly as a real DMInstall.bin would be, and an image that has DM8."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness import images as im
from harness.backends.base import BackendOptions
from harness.backends.docker import DockerBackend
from harness.errors import UsageError

FAKE_INSTALLER = r"""#!/bin/sh
# Stand-in for DM8's DMInstall.bin in silent mode: DMInstall.bin -q auto_install.xml
[ "$1" = -q ] && [ -f "$2" ] || { echo "usage: DMInstall.bin -q FILE" >&2; exit 9; }
dest=$(sed -n 's:.*<INSTALL_PATH>\(.*\)</INSTALL_PATH>.*:\1:p' "$2")
mkdir -p "$dest/bin" && for t in dminit dmserver disql dmrman dmwatcher dmmonitor; do
  printf '#!/bin/sh\necho "%s V8 (stand-in)"\n' $t > "$dest/bin/$t"; chmod 755 "$dest/bin/$t"; done
"""


@pytest.fixture
def installer(tmp_path: Path) -> str:
    p = tmp_path / "DMInstall.bin"
    p.write_text(FAKE_INSTALLER)
    p.chmod(0o755)
    return str(p)


@pytest.mark.parametrize(("installer_arg", "image", "dm_home", "msg"), [
    (None, None, "/opt/dm8", "exactly one of --dm8-installer"),
    ("/x/DMInstall.bin", "dm8:1", "/opt/dm8", "exactly one of --dm8-installer"),
    ("/nonexistent/DMInstall.bin", None, "/opt/dm8", "does not exist"),
    (None, "dm8:1", "opt/dm8", "DM_HOME must be an absolute path"),
    (None, "dm8:1", "/opt/dm 8", "DM_HOME must be an absolute path"),
])
def test_dm8_arguments_are_checked(installer_arg: str | None, image: str | None, dm_home: str, msg: str) -> None:
    with pytest.raises(UsageError, match=msg):
        im.check_dm8_args(installer_arg, image, dm_home)


def test_dm8_archive_is_refused_with_the_fix(tmp_path: Path) -> None:
    z = tmp_path / "DM8-20210618-x86-rh7-64.zip"
    z.write_bytes(b"PK")
    with pytest.raises(UsageError, match="unpack it and pass its DMInstall.bin"):
        im.check_dm8_args(str(z), None, "/opt/dm8")


def test_dm8_backend_refuses_a_missing_installer_before_touching_docker(client: Any) -> None:
    opts = BackendOptions(target="dm8", dm8_installer="/nonexistent/DMInstall.bin", run_id="t")
    with pytest.raises(UsageError, match="'/nonexistent/DMInstall.bin' does not exist"):
        DockerBackend(opts, client=client)


def test_dm8_context_renders(installer: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(im.render_dm8_context(installer))) as tar:
        names = set(tar.getnames())
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
    assert {"Dockerfile", "packages.txt", "installer/DMInstall.bin", "provision/common.sh",
            "provision/dm8.sh"} <= names
    assert "ARG BASE" in dockerfile and "dm8.sh /tmp/dmdw-build/installer/DMInstall.bin" in dockerfile
    with tarfile.open(fileobj=io.BytesIO(im.render_dm8_context(None))) as tar:
        assert "installer/DMInstall.bin" not in tar.getnames()


def test_dm8_image_from_installer(images: im.Images, base_image: str, installer: str, container: Any) -> None:
    tag = images.dm8(installer=installer, dm_home="/opt/dmdbms")
    assert tag.startswith("dmdw/dm8:") and images.dm8(installer=installer, dm_home="/opt/dmdbms") == tag
    c = container(tag)
    r = c.exec_run(["su", "-", "dmdba", "-c", "dmserver"])
    assert r.exit_code == 0 and r.output.decode().strip() == "dmserver V8 (stand-in)", r.output
    assert c.exec_run(["stat", "-c", "%U:%G", "/opt/dmdbms"]).output.decode().strip() == "dmdba:dinstall"
    assert c.exec_run(["test", "-e", "/tmp/dmdw-build"]).exit_code == 1  # the installer is not left behind


def test_dm8_image_given_is_prepared_not_reinstalled(images: im.Images, emulator_image: str) -> None:
    """An image that already has DM8 in DM_HOME (here: the emulator image) only gets the seed's 三."""
    tag = images.dm8(image=emulator_image)
    assert tag.startswith("dmdw/dm8:") and tag != emulator_image
    with pytest.raises(im.ImageError, match="no /opt/elsewhere/bin/dmserver in this image"):
        images.dm8(image=emulator_image, dm_home="/opt/elsewhere")
    with pytest.raises(im.ImageError, match="docker load"):
        images.dm8(image="dmdw/no-such-image:1")
