"""Run-folder files as an archive keeps them: workload histories stored once, gzip-compressed.

Why: a history is written line by line while the workload runs (plain JSONL, flushed, so a crash loses at
most a line); once it is closed it is compressed to `<name>.jsonl.gz` (about 10x smaller) and the plain
file removed. Readers (the checkers, `python -m harness.check`, the report's links) take either form.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

HISTORY_PATTERNS = ("history*.jsonl", "history*.jsonl.gz")
GZ = ".gz"


def archived_name(path: Path) -> Path:
    """Where a history ends up once compressed: `x.jsonl` -> `x.jsonl.gz` (a .gz path is returned as is)."""
    return path if path.name.endswith(GZ) else path.with_name(path.name + GZ)


def compress(path: Path) -> Path:
    """Replace `path` by its gzip copy `path.gz` (written beside it, then renamed; the plain file is removed
    only once the copy is complete). Returns the compressed path; a missing file is left alone."""
    out = archived_name(path)
    if out == path or not path.is_file():
        return out
    tmp = out.with_name(out.name + ".part")
    with path.open("rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, out)
    path.unlink()
    return out


def read_text(path: Path) -> str:
    """The text of a plain or gzip file (a gzip file cut short by a crash gives what could be read)."""
    if not path.name.endswith(GZ):
        return path.read_text(encoding="utf-8")
    inflate = zlib.decompressobj(wbits=31)  # gzip framing; a cut stream gives what precedes the cut
    chunks: list[bytes] = []
    with path.open("rb") as f:
        while raw := f.read(1 << 20):
            chunks.append(inflate.decompress(raw))
    return b"".join(chunks).decode("utf-8", errors="replace")


def histories(folder: Path) -> list[Path]:
    """Every workload history under a run folder, plain or compressed, sorted by path."""
    found: set[Path] = set()
    for pattern in HISTORY_PATTERNS:
        found.update(folder.rglob(pattern))
    return sorted(p for p in found if p.is_file())


def compress_histories(folder: Path, clean: Callable[[Path], None] | None = None) -> list[Path]:
    """Compress the plain histories under a run folder, each first passed to `clean` (the report redacts
    them); called when a session ends. Returns the compressed paths."""
    done = []
    for path in histories(folder):
        if not path.name.endswith(GZ):
            if clean is not None:
                clean(path)
            done.append(compress(path))
    return done
