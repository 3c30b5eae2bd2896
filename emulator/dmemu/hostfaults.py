"""Host faults the harness injects through files (emulator-only stand-ins for a full disk, a slow disk
and a skewed clock), in the directory DMEMU_FAULT_DIR (default `$DM_HOME/dmdw-faults`, one per host):

- `clock`: an offset in libfaketime's relative form (`+120s`, `-3.5s`, `+2m`): the emulator's wall
  clock (redo timestamps, SYSDATE, WTIME in watcher messages) runs that far off. Real DM8 reads the
  same file through libfaketime (FAKETIME_TIMESTAMP_FILE). The emulator's timers are monotonic, so
  only wall-clock readings move; DM8's own timeout behaviour under skew needs the real binaries.
- `full`: one directory per line; a write under it fails with ENOSPC (a filesystem with no space left).
- `fsync_delay_ms`: every fsync of the redo log and archives sleeps that long first (a slow disk).

Each file is re-read at most every REREAD_S seconds; a missing file means no fault.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time

REREAD_S = 0.2
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_OFFSET = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def fault_dir() -> str | None:
    """Where this host's fault files live (None: no DM_HOME and no DMEMU_FAULT_DIR)."""
    d = os.environ.get("DMEMU_FAULT_DIR")
    if d:
        return d
    home = os.environ.get("DM_HOME")
    return os.path.join(home, "dmdw-faults") if home else None


def parse_offset(text: str) -> float:
    """libfaketime's relative offset (`+5s`, `-2m`, `+0`) in seconds; ValueError naming the text."""
    m = _OFFSET.match(text)
    if not m:
        raise ValueError(f"clock offset {text.strip()!r} is not libfaketime's relative form like +5s")
    return float(m.group(1)) * _UNITS[m.group(2)]


class _File:
    """One fault file's content, re-read at most every REREAD_S seconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._at = -1.0
        self._text = ""
        self._lock = threading.Lock()

    def text(self) -> str:
        now = time.monotonic()
        if now - self._at < REREAD_S:
            return self._text
        with self._lock:
            d = fault_dir()
            try:
                with open(os.path.join(d or "", self.name), encoding="utf-8") as f:
                    self._text = f.read() if d else ""
            except OSError:
                self._text = ""
            self._at = now
        return self._text


_clock, _full, _fsync = _File("clock"), _File("full"), _File("fsync_delay_ms")


def offset() -> float:
    """Seconds the wall clock is skewed by (0 when the file is absent or unreadable)."""
    text = _clock.text().strip()
    if not text:
        return 0.0
    try:
        return parse_offset(text)
    except ValueError:
        return 0.0


def now() -> float:
    """The emulator's wall clock: time.time() plus the skew of the `clock` file."""
    return time.time() + offset()


def check_space(path: str) -> None:
    """Raise OSError(ENOSPC) when `path` lies under a directory the `full` file names."""
    text = _full.text()
    if not text:
        return
    p = os.path.abspath(path)
    for line in text.splitlines():
        d = line.strip()
        if d and (p == d.rstrip("/") or p.startswith(d.rstrip("/") + "/")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def before_fsync() -> None:
    """Sleep the `fsync_delay_ms` of a slow disk before an fsync."""
    text = _fsync.text().strip()
    if text:
        try:
            ms = float(text)
        except ValueError:
            return
        if ms > 0:
            time.sleep(ms / 1000.0)
