"""Run-folder files as an archive keeps them: each stored once, the machine-read ones gzip-compressed.

Why: workload histories, the procedure's steps.jsonl, the tool transcripts and the monitor's raw log are
written line by line while the run goes (plain, flushed, so a crash loses at most a line); when the session
ends each is compressed to `<name>.gz` (5-10x smaller) and the plain file removed. What a human opens in a
browser (report.html, junit.xml, the JSON summaries, configs, DM logs, progress.log) stays plain. Readers
(the checkers, `python -m harness.check`, replay, the report, merge and trend) take either form, so a run
cut short by a crash, still plain, reads the same.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

HISTORY_PATTERNS = ("history*.jsonl", "history*.jsonl.gz")
GZ = ".gz"
TRANSCRIPTS = "transcripts"


def archived(path: Path) -> bool:
    """True for a plain file compressed at session end: a history and its checker terms
    (history*.terms.json), steps.jsonl, a tool transcript (transcripts/*.jsonl) or a monitor's raw log."""
    name = path.name
    return (fnmatch(name, "history*.jsonl") or fnmatch(name, "history*.terms.json") or name == "steps.jsonl"
            or fnmatch(name, "monitor-*.log")
            or (path.parent.name == TRANSCRIPTS and name.endswith(".jsonl")))


def archived_name(path: Path) -> Path:
    """Where a history ends up once compressed: `x.jsonl` -> `x.jsonl.gz` (a .gz path is returned as is)."""
    return path if path.name.endswith(GZ) else path.with_name(path.name + GZ)


def compress(path: Path) -> Path:
    """Replace `path` by its gzip copy `path.gz` (written beside it, then renamed; the plain file is removed
    only once the copy is complete). A plain file written again after an earlier compression (a late step)
    is appended to the .gz as a further gzip member. Returns the compressed path; a missing file is left alone."""
    out = archived_name(path)
    if out == path or not path.is_file():
        return out
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as raw:
        if out.is_file():
            with out.open("rb") as earlier:
                shutil.copyfileobj(earlier, raw, 1 << 20)
        with path.open("rb") as src, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, out)
    path.unlink()
    return out


def read_text(path: Path) -> str:
    """The text of a plain or gzip file, every gzip member of it (one cut short by a crash gives what
    could be read)."""
    if not path.name.endswith(GZ):
        return path.read_text(encoding="utf-8")
    chunks: list[bytes] = []
    inflate = zlib.decompressobj(wbits=31)  # gzip framing; a cut stream gives what precedes the cut
    with path.open("rb") as f:
        while raw := f.read(1 << 20):
            while raw:
                chunks.append(inflate.decompress(raw))
                if not inflate.eof:
                    break
                raw = inflate.unused_data  # the next member
                inflate = zlib.decompressobj(wbits=31)
    return b"".join(chunks).decode("utf-8", errors="replace")


def stored(path: Path) -> Path:
    """The file a reader opens for `path`: the plain one while it exists (a run going on or cut short),
    else its compressed copy (which may not exist either)."""
    return path if path.exists() else archived_name(path)


def read_lines(path: Path) -> list[str]:
    """The lines of `path` as stored (plain or .gz); none when neither exists."""
    found = stored(path)
    try:
        return read_text(found).splitlines()
    except OSError:
        return []


def histories(folder: Path) -> list[Path]:
    """Every workload history under a run folder, plain or compressed, sorted by path."""
    found: set[Path] = set()
    for pattern in HISTORY_PATTERNS:
        found.update(folder.rglob(pattern))
    return sorted(p for p in found if p.is_file())


def compress_run_folder(folder: Path, clean: Callable[[Path], None] | None = None) -> list[Path]:
    """Compress the plain files under a run folder that `archived` names, each first passed to `clean`
    (the report redacts them); called when a session ends. Returns the compressed paths."""
    done = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and archived(path):
            if clean is not None:
                clean(path)
            done.append(compress(path))
    return done
