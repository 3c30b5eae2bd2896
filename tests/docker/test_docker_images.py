"""Images built with no registry: mirror discovery, content-hash tags, caching, the emulator image."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness import images as im
from harness.backends.docker import owner_label
from harness.errors import HarnessError
from harness.wait import wait_until


def test_debian_mirror_reads_deb822_and_one_line_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DMDW_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://example.invalid/other cloud-sdk-bookworm main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert im.debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://m2.example/debian bookworm main contrib\n")
    assert im.debian_mirror("bookworm", tmp_path) == "http://m2.example/debian"
    (tmp_path / "sources.list").write_text("")
    with pytest.raises(HarnessError, match="DMDW_DEBIAN_MIRROR"):
        im.debian_mirror("bookworm", tmp_path)
    monkeypatch.setenv("DMDW_DEBIAN_MIRROR", "http://override.example/debian/")
    assert im.debian_mirror("bookworm", tmp_path) == "http://override.example/debian"


def test_content_hash_follows_content_not_caches(tmp_path: Path) -> None:
    tree = tmp_path / "dmemu"
    (tree / "__pycache__").mkdir(parents=True)
    (tree / "a.py").write_text("x = 1\n")
    h1 = im.content_hash([tree])
    (tree / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert im.content_hash([tree]) == h1
    (tree / "a.py").write_text("x = 2\n")
    h2 = im.content_hash([tree])
    assert h2 != h1
    (tree / "b.py").write_text("")
    assert im.content_hash([tree]) not in (h1, h2)
    assert im.content_hash([tree], ["base:1"]) != im.content_hash([tree], ["base:2"])


def test_emulator_tag_tracks_emulator_source(images: im.Images, base_image: str) -> None:
    tag = images.emulator_tag(base_image)
    assert tag.startswith("dmdw/emulator:") and tag == images.emulator_tag(base_image)
    assert images.emulator_tag("dmdw/base:other") != tag
    expect = im.content_hash([im.CONTAINERS / "emulator", im.PROVISION, im.EMULATOR / "pyproject.toml",
                              im.EMULATOR / "dmemu", im.client_library()], [base_image])
    assert tag == "dmdw/emulator:" + expect


def test_base_image_is_cached(images: im.Images, base_image: str, client: Any) -> None:
    """A second request finds the image by its recipe hash at once (no debootstrap, no pull)."""
    t0 = time.monotonic()
    assert images.base() == base_image
    assert time.monotonic() - t0 < 5
    assert base_image == images.base_tag()
    labels = client.images.get(base_image).labels or {}
    assert labels.get("dmdw.image") == "base"


def test_base_image_has_what_hosts_and_chaos_need(base_image: str, container: Any) -> None:
    c = container(base_image)
    r = c.exec_run(["sh", "-c", "python3 -c 'import sqlite3, Cryptodome' && command -v ip iptables tc ps useradd "
                    "rlwrap && test -f /usr/share/zoneinfo/Asia/Shanghai"])
    assert r.exit_code == 0, r.output.decode()


def test_emulator_image_is_cached_by_source_hash(images: im.Images, emulator_image: str) -> None:
    # (while the emulator is being edited its source may change between two calls: retry a few times)
    for _ in range(3):
        first = images.emulator()
        t0 = time.monotonic()
        again = images.emulator()
        took = time.monotonic() - t0
        if again == first:
            break
    assert again == first
    assert took < 5, "an unchanged emulator source must not rebuild its image"


def test_emulator_image_runs_dm_tools_for_dmdba(emulator_image: str, container: Any) -> None:
    c = container(emulator_image)
    r = c.exec_run(["su", "-", "dmdba", "-c", "command -v dminit dmserver disql dmrman dmwatcher dmmonitor"])
    out = r.output.decode()
    assert r.exit_code == 0, out
    assert out.split() == [f"/opt/dm8/bin/{t}" for t in ("dminit", "dmserver", "disql", "dmrman", "dmwatcher",
                                                           "dmmonitor")]
    r = c.exec_run(["python3", "-c", "import dmemu, Crypto.Cipher.DES; print(dmemu.__file__)"], user="dmdba")
    assert r.exit_code == 0 and r.output.decode().startswith("/usr/local/lib/dmemu/"), r.output.decode()
    r = c.exec_run(["bash", "-lc", "dminit PATH=/opt/dm8/data DB_NAME=memadb INSTANCE_NAME=mema1 PORT_NUM=5236 "
                    "SYSDBA_PWD=Mema_1234 && test -f /opt/dm8/data/memadb/dm.ini"], user="dmdba")
    assert r.exit_code == 0, r.output.decode()[-2000:]


def test_docker_client_error_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(HarnessError, match="no Docker engine answers"):
        im.docker_client()


def test_toxiproxy_image_serves_the_toxiproxy_api(images: im.Images, client: Any) -> None:
    """The offline Toxiproxy server as an image, driven by toxiproxy-python over its published port."""
    from toxiproxy import Toxiproxy

    tag = images.toxiproxy()
    assert images.toxiproxy() == tag
    c = client.containers.run(tag, detach=True, ports={"8474/tcp": ("127.0.0.1", None)},
                              labels={"dmdw.run": "test-toxiproxy", "dmdw.owner": owner_label()})
    try:
        c.reload()
        port = int(c.attrs["NetworkSettings"]["Ports"]["8474/tcp"][0]["HostPort"])
        api = Toxiproxy()
        api.update_api_consumer("127.0.0.1", port)
        # (running() only tries a TCP connect, which docker-proxy accepts before the server listens)
        wait_until(api.version, 20, f"the toxiproxy API on 127.0.0.1:{port}")
        proxy = api.create(name="mal", listen="0.0.0.0:25238", upstream="127.0.0.1:5238")
        assert "mal" in api.proxies() and proxy.upstream == "127.0.0.1:5238"
    finally:
        c.remove(force=True)
