"""Docker images for the hosts, built locally with no container registry (DESIGN.md section 4).

    dmdw/base:<hash>      Debian bookworm + the packages of containers/base/packages.txt. From
                          `docker pull debian:bookworm` when a registry answers, otherwise debootstrap
                          over the host's own configured Debian mirror, then `docker import`.
    dmdw/emulator:<hash>  base + the seed's section 三 (vagrant/provision/common.sh) + the bundled
                          emulator installed offline (vagrant/provision/emulator.sh).
    dmdw/dm8:<hash>       base + 三 + a user-supplied DMInstall.bin installed silently, or a user's
                          image that already has DM8 + 三.
    dmdw/toxiproxy:<hash> base + the harness's offline Toxiproxy server (harness/hostside/toxiproxy/).

Every tag is a content hash of what went into the image (recipe files, emulator source, installer),
so a rerun with nothing changed finds its images at once and a changed emulator gets a new image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError

REPO = Path(__file__).resolve().parent.parent
CONTAINERS = REPO / "containers"
PROVISION = REPO / "vagrant" / "provision"
EMULATOR = REPO / "emulator"
SUITE = "bookworm"
PULL_IMAGE = f"debian:{SUITE}"
LOCK_PATH = Path(tempfile.gettempdir()) / "dmdw-images.lock"
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")

Log = Callable[[str], None]


class ImageError(HarnessError):
    """An image could not be built or found; the message says what to fix."""


def _quiet(_msg: str) -> None:
    pass


# ---- content hashes ----------------------------------------------------------------------------
def _files(root: Path) -> Iterator[Path]:
    """Files under root in a stable order, without caches and build leftovers."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES and not d.endswith(SKIP_SUFFIXES))
        for f in sorted(filenames):
            if not f.endswith(SKIP_SUFFIXES):
                yield Path(dirpath) / f


def content_hash(items: Iterable[Path | str], extra: Iterable[str] = ()) -> str:
    """sha256 (12 hex digits) over the relative names and bytes of files/trees, plus extra strings."""
    h = hashlib.sha256()
    for item in items:
        root = Path(item)
        for f in _files(root):
            rel = f.relative_to(root.parent if root.is_file() else root)
            h.update(f"{root.name}/{rel}\0".encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\0")
    for s in extra:
        h.update(s.encode() + b"\0")
    return h.hexdigest()[:12]


# ---- the host's Debian mirror ------------------------------------------------------------------
def debian_mirror(suite: str = SUITE, apt_dir: Path = Path("/etc/apt")) -> str:
    """URI of the host's configured Debian mirror for `suite` (DMDW_DEBIAN_MIRROR overrides).

    Reads one-line sources.list entries and deb822 *.sources stanzas; picks the first `deb` source
    whose suites include exactly `suite` with component main (so -security/-updates/third-party
    repositories are not chosen).
    """
    env = os.environ.get("DMDW_DEBIAN_MIRROR")
    if env:
        return env.rstrip("/")
    files = [apt_dir / "sources.list"] + sorted((apt_dir / "sources.list.d").glob("*"))
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        fields[m.group(1).lower()] = m.group(2)
                if ("deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split()
                        and "main" in fields.get("components", "").split() and fields.get("uris")):
                    return fields["uris"].split()[0].rstrip("/")
        elif f.suffix in (".list", ""):
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words[3:]:
                    return words[1].rstrip("/")
    raise ImageError(
        f"no Debian '{suite}' mirror is configured in {apt_dir}/sources.list(.d) and no registry answers; "
        "set DMDW_DEBIAN_MIRROR=http://your-mirror/debian"
    )


# ---- docker ------------------------------------------------------------------------------------
def docker_client() -> Any:
    """A docker SDK client, or one clear error when no Docker engine answers."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means "no engine"
        raise HarnessError(
            f"no Docker engine answers ({e.__class__.__name__}); start dockerd or use --dw-backend local"
        ) from None
    return client


def _build_lock() -> contextlib.AbstractContextManager[None]:
    """Serialize image builds across concurrent test runs on this machine."""
    return file_lock(LOCK_PATH)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on path, across processes of this machine (and threads: each opens its own)."""
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _add_tree(tar: tarfile.TarFile, src: Path, arcname: str) -> None:
    for f in _files(src):
        rel = f.relative_to(src) if src.is_dir() else Path(f.name)
        tar.add(str(f), arcname=f"{arcname}/{rel}" if src.is_dir() else arcname, recursive=False)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


class Images:
    """Finds or builds the images; every method returns an image tag that exists locally."""

    def __init__(self, client: Any | None = None, log: Log = _quiet, prefix: str | None = None) -> None:
        self.client = client or docker_client()
        self.log = log
        # DMDW_IMAGE_PREFIX lets a benchmark build a cold set of images beside the cached ones.
        self.prefix = prefix or os.environ.get("DMDW_IMAGE_PREFIX", "dmdw")

    # ---- helpers ---------------------------------------------------------------------------
    def exists(self, ref: str) -> bool:
        """True if the engine has the image ref locally."""
        import docker.errors

        try:
            self.client.images.get(ref)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, context: bytes, tag: str, buildargs: dict[str, str], what: str) -> None:
        """docker build from an in-memory context; on failure the error shows the build's last lines."""
        started, lines = time.monotonic(), []
        try:
            stream = self.client.api.build(
                fileobj=io.BytesIO(context), custom_context=True, tag=tag, buildargs=buildargs,
                rm=True, forcerm=True, pull=False, decode=True, labels={"dmdw.image": what},
            )
            for chunk in stream:
                if "stream" in chunk:
                    lines.extend(chunk["stream"].rstrip("\n").splitlines())
                if "error" in chunk:
                    tail = "\n".join(lines[-15:] + [chunk["error"].strip()])
                    raise ImageError(f"building {tag} failed:\n{tail}")
        except ImageError:
            raise
        except Exception as e:  # noqa: BLE001 - docker API errors -> one message
            raise ImageError(f"building {tag} failed: {e}") from None
        self.log(f"built {tag} in {time.monotonic() - started:.0f}s")

    # ---- base ------------------------------------------------------------------------------
    def base_tag(self) -> str:
        """dmdw/base:<hash of the base recipe>."""
        return f"{self.prefix}/base:" + content_hash([CONTAINERS / "base"], [SUITE])

    def base(self, source: str | None = None) -> str:
        """The base image: cached, else pulled-and-extended, else debootstrapped and imported.

        source: "auto" (default; DMDW_BASE_SOURCE overrides), "pull" or "debootstrap".
        """
        source = source or os.environ.get("DMDW_BASE_SOURCE", "auto")
        if source not in ("auto", "pull", "debootstrap"):
            raise UsageError(f"DMDW_BASE_SOURCE must be auto, pull or debootstrap, not '{source}'")
        tag = self.base_tag()
        if self.exists(tag):
            return tag
        with _build_lock():
            if self.exists(tag):
                return tag
            if source in ("auto", "pull") and self._pull_debian():
                self._base_from_pull(tag)
            elif source == "pull":
                raise ImageError(f"`docker pull {PULL_IMAGE}` failed: no registry answers; use DMDW_BASE_SOURCE=auto")
            else:
                self._base_from_debootstrap(tag)
            self.prune(f"{self.prefix}/base", keep=tag)
        return tag

    def _pull_debian(self) -> bool:
        if self.exists(PULL_IMAGE):
            return True
        try:
            self.client.images.pull(PULL_IMAGE)
            self.log(f"pulled {PULL_IMAGE}")
            return True
        except Exception as e:  # noqa: BLE001 - no registry: fall back to debootstrap
            self.log(f"docker pull {PULL_IMAGE} failed ({str(e).splitlines()[0][:120]}); using debootstrap")
            return False

    def _base_from_pull(self, tag: str) -> None:
        pkgs = (CONTAINERS / "base" / "packages.txt").read_bytes()
        dockerfile = (
            f"FROM {PULL_IMAGE}\nCOPY packages.txt /tmp/packages.txt\n"
            "RUN apt-get update -q && grep -v '^[[:space:]]*#' /tmp/packages.txt | grep -v '^[[:space:]]*$' "
            "| DEBIAN_FRONTEND=noninteractive xargs apt-get install -y -q --no-install-recommends "
            "&& rm -rf /var/lib/apt/lists/* /tmp/packages.txt "
            "&& ln -sf /usr/share/zoneinfo/Asia/Shanghai /etc/localtime\n"
        )
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            _add_bytes(tar, "Dockerfile", dockerfile.encode())
            _add_bytes(tar, "packages.txt", pkgs)
        self._build(buf.getvalue(), tag, {}, "base")

    def _base_from_debootstrap(self, tag: str) -> None:
        if os.geteuid() != 0:
            raise ImageError("building the base image with debootstrap needs root; run once as root or "
                             f"`docker load` an image tagged {tag}")
        if not shutil.which("debootstrap"):
            raise ImageError("no registry answers and debootstrap is missing: apt-get install debootstrap")
        mirror = debian_mirror()
        started = time.monotonic()
        self.log(f"building {tag} with debootstrap from {mirror} (a few minutes)")
        work = Path(tempfile.mkdtemp(prefix="dmdw-base-", dir=os.environ.get("DMDW_BUILD_DIR")))
        try:
            rootfs = work / "rootfs"
            r = subprocess.run(
                ["sh", str(CONTAINERS / "base" / "build-rootfs.sh"), str(rootfs), mirror, SUITE],
                capture_output=True, text=True,
            )
            if r.returncode != 0:
                tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
                raise ImageError(f"debootstrap of the base image from {mirror} failed:\n{tail}")
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                                   stdout=subprocess.PIPE)
            imp = subprocess.run(
                ["docker", "import", "-c", 'CMD ["/bin/bash"]', "-c", "LABEL dmdw.image=base",
                 "-c", "ENV LANG=C.UTF-8", "-", tag],
                stdin=tar.stdout, capture_output=True, text=True,
            )
            assert tar.stdout is not None
            tar.stdout.close()
            if tar.wait() != 0 or imp.returncode != 0:
                raise ImageError(f"docker import of the base root file system failed: {imp.stderr.strip()}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.log(f"built {tag} in {time.monotonic() - started:.0f}s")

    # ---- emulator --------------------------------------------------------------------------
    def emulator_tag(self, base: str, dm_home: str = "/opt/dm8") -> str:
        """dmdw/emulator:<hash of base, recipe, provisioning scripts, emulator source, client library
        and DM_HOME>."""
        extra = [base] if dm_home == "/opt/dm8" else [base, dm_home]
        return f"{self.prefix}/emulator:" + content_hash(
            [CONTAINERS / "emulator", PROVISION, EMULATOR / "pyproject.toml", EMULATOR / "dmemu", client_library()],
            extra,
        )

    def emulator(self, dm_home: str = "/opt/dm8") -> str:
        """The emulator image for the current emulator source (built when the source changed)."""
        base = self.base()
        tag = self.emulator_tag(base, dm_home)
        if self.exists(tag):
            return tag
        with _build_lock():
            for _ in range(5):
                tag = self.emulator_tag(base, dm_home)
                if self.exists(tag):
                    return tag
                context = self._emulator_context()
                if self.emulator_tag(base, dm_home) == tag:  # the source did not change while packing
                    break
            self._build(context, tag, {"BASE": base, "DMDW_DM_HOME": dm_home}, "emulator")
            self.prune(f"{self.prefix}/emulator", keep=tag)
        return tag

    def _emulator_context(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(CONTAINERS / "emulator" / "Dockerfile"), arcname="Dockerfile")
            _add_tree(tar, PROVISION, "provision")
            tar.add(str(CONTAINERS / "base" / "packages.txt"), arcname="packages.txt")
            tar.add(str(EMULATOR / "pyproject.toml"), arcname="emulator/pyproject.toml")
            _add_tree(tar, EMULATOR / "dmemu", "emulator/dmemu")
            _add_tree(tar, client_library(), "clientlib/dmpy")
        return buf.getvalue()

    # ---- dm8 -------------------------------------------------------------------------------
    def dm8(self, installer: str | None = None, image: str | None = None, dm_home: str = "/opt/dm8") -> str:
        """A DM8 image from a DMInstall.bin (silent install) or from an image that already has DM8."""
        check_dm8_args(installer, image, dm_home)
        files = [CONTAINERS / "dm8", PROVISION, CONTAINERS / "base" / "packages.txt"]
        if installer:
            base = self.base()
            inst = Path(installer)
            tag = f"{self.prefix}/dm8:" + content_hash(files + [inst], [base, dm_home])
            buildargs = {"BASE": base, "DMDW_DM_HOME": dm_home, "INSTALL": "yes"}
        else:
            assert image is not None
            if not self.exists(image):
                raise ImageError(f"DM8 image '{image}' is not in the local Docker engine; `docker load` it first")
            image_id = self.client.images.get(image).id
            tag = f"{self.prefix}/dm8:" + content_hash(files, [image_id, dm_home])
            buildargs = {"BASE": image, "DMDW_DM_HOME": dm_home, "INSTALL": "no"}
        if self.exists(tag):
            return tag
        with _build_lock():
            if not self.exists(tag):
                self._build(render_dm8_context(installer), tag, buildargs, "dm8")
                self.prune(f"{self.prefix}/dm8", keep=tag)
        return tag

    # ---- toxiproxy ---------------------------------------------------------------------------
    def toxiproxy(self) -> str:
        """dmdw/toxiproxy:<hash>: the offline Toxiproxy server (harness/hostside/toxiproxy/) as an image."""
        from harness import hostside

        base = self.base()
        tag = f"{self.prefix}/toxiproxy:" + content_hash([CONTAINERS / "toxiproxy", *hostside.toxiproxy_sources()],
                                                         [base])
        if self.exists(tag):
            return tag
        with _build_lock():
            if not self.exists(tag):
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tar:
                    tar.add(str(CONTAINERS / "toxiproxy" / "Dockerfile"), arcname="Dockerfile")
                    _add_bytes(tar, "toxiproxy-server.pyz", hostside.toxiproxy_zipapp())
                self._build(buf.getvalue(), tag, {"BASE": base}, "toxiproxy")
                self.prune(f"{self.prefix}/toxiproxy", keep=tag)
        return tag

    def prune(self, repo: str, keep: str, min_age: float = 3600.0) -> None:
        """Remove tags of repo older than min_age seconds that no container uses (each emulator change
        leaves one behind); younger ones may still be in use by a concurrent run's build."""
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        for img in self.client.images.list(name=repo):
            created = str(img.attrs.get("Created", ""))[:19]
            with contextlib.suppress(Exception):
                age = (now - datetime.datetime.fromisoformat(created).replace(tzinfo=datetime.timezone.utc))
                if keep not in img.tags and age.total_seconds() > min_age:
                    self.client.images.remove(img.id, noprune=False)

    def for_target(self, target: str, *, dm8_installer: str | None = None, dm8_image: str | None = None,
                   dm_home: str = "/opt/dm8") -> str:
        """The host image for a target ("emulator" or "dm8")."""
        if target == "emulator":
            return self.emulator(dm_home)
        if target == "dm8":
            return self.dm8(dm8_installer, dm8_image, dm_home)
        raise UsageError(f"--dw-target must be emulator or dm8, not '{target}'")


def client_library() -> Path:
    """Folder of the pure-Python DM client dm-pure (package dmpy) in this environment.

    The emulator's disql and dmrman dial dmserver through a DM client library; the emulator image gets
    this one copied in (offline: no pip inside the build).
    """
    import importlib.util

    spec = importlib.util.find_spec("dmpy")
    if spec is None or not spec.submodule_search_locations:
        raise ImageError("the emulator image needs the DM client library dm-pure: pip install dm-pure "
                         "(scripts/setup installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def check_dm8_args(installer: str | None, image: str | None, dm_home: str) -> None:
    """Validate the dm8 target's options before anything is built or started."""
    if bool(installer) == bool(image):
        raise UsageError("--dw-target dm8 needs exactly one of --dm8-installer FILE or --dm8-image IMAGE")
    if not dm_home.startswith("/") or any(c in dm_home for c in " '\"$`\\"):
        raise UsageError(f"DM_HOME must be an absolute path without spaces or quotes, not '{dm_home}'")
    if installer:
        p = Path(installer)
        if not p.is_file():
            raise UsageError(f"--dm8-installer: file '{installer}' does not exist")
        if p.suffix.lower() in (".zip", ".iso"):
            raise UsageError(f"--dm8-installer: '{installer}' is an archive; unpack it and pass its DMInstall.bin")


def render_dm8_context(installer: str | None) -> bytes:
    """The build context of containers/dm8 (Dockerfile, provisioning, installer or a placeholder)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(CONTAINERS / "dm8" / "Dockerfile"), arcname="Dockerfile")
        _add_tree(tar, PROVISION, "provision")
        tar.add(str(CONTAINERS / "base" / "packages.txt"), arcname="packages.txt")
        if installer:
            tar.add(installer, arcname="installer/DMInstall.bin")
        else:
            _add_bytes(tar, "installer/README", b"no installer: DM8 comes with the base image\n")
    return buf.getvalue()
