"""A remote xdist worker's run folder travels back to the controller.

Why: a worker reached over ssh (`--tx ssh=...`) runs on another machine, next to the Docker engine it
drives; the controller's run folder is not there. Such a worker writes its files into a folder of its own
machine (`<tmp>/dmdw-worker-<run id>/<gwN>`), and when its session ends it sends the folder, packed as a
gzip tar, with the rest of its output; the controller unpacks it into `<run folder>/<gwN>/`, as a local
worker's sub-folder would be, and the worker's copy is removed.
"""

from __future__ import annotations

import base64
import io
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

OUTPUT_KEY = "dmdw_files"


def is_remote(node: Any) -> bool:
    """True for an xdist node whose gateway is an ssh transport (another machine)."""
    spec = getattr(getattr(node, "gateway", None), "spec", None)
    return bool(getattr(spec, "ssh", None))


def worker_folder(run_id: str, worker: str) -> Path:
    """Where a remote worker writes: a folder of its own machine."""
    folder = Path(tempfile.gettempdir()) / f"dmdw-worker-{run_id}" / worker
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pack(folder: Path) -> str:
    """The folder as a base64 gzip tar (what execnet carries back), and the worker's copy removed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(str(path), arcname=path.relative_to(folder).as_posix(), recursive=False)
    shutil.rmtree(folder.parent if folder.parent.name.startswith("dmdw-worker-") else folder,
                  ignore_errors=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def unpack(data: str, dest: Path) -> int:
    """Unpack a worker's folder into dest (files only, no path leaving dest); returns the file count."""
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if not member.isfile() or not target.is_relative_to(dest.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            if src is not None:
                target.write_bytes(src.read())
                n += 1
    return n
