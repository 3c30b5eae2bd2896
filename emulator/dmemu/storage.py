"""On-disk state of one database: the control file (dm.ctl), the online redo log and local archive files.

Control file: JSON, replaced atomically (write temp, fsync, rename, fsync dir) so a kill -9 at any
moment leaves either the old or the new version. Redo files (online logs and archives) are sequences
of frames `MAGIC | len | crc32 | RedoRecord.encode()`; a torn tail frame (crash mid-write) is ignored
on read and cut off on repair.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import hostfaults
from .api import RedoRecord

FRAME_MAGIC = b"RLG1"
_HDR = struct.Struct(">4sIIqqqB")     # magic, blob length, crc32, lsn_lo, lsn_hi, seq, last


def fsync_dir(path: str) -> None:
    """Make a rename/creation inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


# ---- control file ------------------------------------------------------------------------

CTL_DEFAULTS: dict = {
    "version": 1,
    "db_name": "DAMENG",
    "permanent_magic": 0,
    "db_magic": 0,
    "oguid": 0,
    "mode": "NORMAL",
    "n_open": 0,
    "first_start_done": False,
    "clean_shutdown": True,
    "restore_pending": "",          # "" | "RECOVER" (after restore) | "UPDATE_DB_MAGIC" (after recover)
    "page_size": 8, "extent_size": 16, "charset": 0, "case_sensitive": 1, "length_in_char": 0,
    "blank_pad_mode": 0, "log_size": 256,
    "tablespaces": [],              # [{name, id, files: [{path, size_mb}]}]
    "created": "",
}


class ControlFile:
    """dm.ctl: the instance's persistent identity and state (see ARCHITECTURE.md)."""

    def __init__(self, path: str, data: dict):
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str) -> ControlFile:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        merged = dict(CTL_DEFAULTS)
        merged.update(data)
        return cls(path, merged)

    @classmethod
    def create(cls, path: str, data: dict) -> ControlFile:
        merged = json.loads(json.dumps(CTL_DEFAULTS))
        merged.update(data)
        ctl = cls(path, merged)
        ctl.save()
        return ctl

    def __getitem__(self, key: str):
        return self.data[key]

    def update(self, **values: object) -> None:
        """Change keys and persist atomically."""
        with self._lock:
            self.data.update(values)
            self.save()

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())


# ---- redo frames --------------------------------------------------------------------------

@dataclass(frozen=True)
class FrameInfo:
    """A frame's header: enough to skip it without decoding the record."""

    lsn_lo: int
    lsn_hi: int
    seq: int
    last: bool
    offset: int            # of the blob
    length: int            # of the blob
    end: int               # offset just past the frame


def encode_frame(rec: RedoRecord, blob: bytes | None = None) -> bytes:
    """The frame for `rec`; `blob` is rec.encode() when the caller already has it."""
    if blob is None:
        blob = rec.encode()
    return _HDR.pack(FRAME_MAGIC, len(blob), zlib.crc32(blob), rec.lsn_lo, rec.lsn_hi, rec.seq,
                     1 if rec.last else 0) + blob


def scan_frames(path: str, verify: bool = True) -> Iterator[FrameInfo]:
    """Headers of the intact frames of a redo file (stops at the first torn one)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        size = os.fstat(f.fileno()).st_size
        off = 0
        while off + _HDR.size <= size:
            f.seek(off)
            magic, n, crc, lo, hi, seq, last = _HDR.unpack(f.read(_HDR.size))
            if magic != FRAME_MAGIC or off + _HDR.size + n > size:
                return
            if verify and zlib.crc32(f.read(n)) != crc:
                return
            yield FrameInfo(lo, hi, seq, bool(last), off + _HDR.size, n, off + _HDR.size + n)
            off += _HDR.size + n


def load_frame(path: str, info: FrameInfo) -> RedoRecord:
    with open(path, "rb") as f:
        f.seek(info.offset)
        return RedoRecord.decode(f.read(info.length))


def read_frames(path: str, after_lsn: int = -1) -> Iterator[tuple[int, RedoRecord]]:
    """Yield (end_offset, record) for intact frames whose lsn_hi > after_lsn (only those are decoded)."""
    for info in scan_frames(path):
        if info.lsn_hi > after_lsn:
            try:
                rec = load_frame(path, info)
            except Exception:                      # noqa: BLE001 - a corrupt frame ends the file
                return
            yield info.end, rec


def valid_length(path: str) -> int:
    """Byte length of the intact prefix of a redo file."""
    end = 0
    for info in scan_frames(path):
        end = info.end
    return end


def last_frame(path: str, verify: bool = False) -> FrameInfo | None:
    last = None
    for info in scan_frames(path, verify):
        last = info
    return last


def _append(path: str, frame: bytes, durable: bool) -> int:
    """Append one frame; a write that fails (no space left) leaves the file as it was, no torn frame."""
    hostfaults.check_space(path)
    with open(path, "ab") as f:
        start = f.tell()
        try:
            f.write(frame)
            f.flush()
        except OSError:
            f.truncate(start)
            raise
        if durable:
            hostfaults.before_fsync()
            os.fsync(f.fileno())
        return f.tell()


class OnlineLog:
    """The two online redo files <db>01.log / <db>02.log, used in turn.

    A record is appended to the current file; when it exceeds LOG_SIZE the writer switches to the
    other file and empties it. That is safe because every record in the other file is older than the
    record being written and the engine has committed it (SQLite serialises writers and commits a
    transaction before the next one reaches before_commit).
    """

    def __init__(self, paths: list[str], size_mb: int, on_switch: Callable[[], None] | None = None):
        self.paths = paths
        self.limit = max(1, size_mb) * 1024 * 1024
        self.on_switch = on_switch          # makes what the emptied file covered durable elsewhere
        self.cur = self._pick_current()

    def _pick_current(self) -> int:
        best, best_lsn = 0, -1
        for i, p in enumerate(self.paths):
            info = last_frame(p)
            if info is not None and info.lsn_hi > best_lsn:
                best, best_lsn = i, info.lsn_hi
        return best

    def append(self, rec: RedoRecord, durable: bool = True) -> None:
        self.append_frame(encode_frame(rec), durable)

    def append_frame(self, frame: bytes, durable: bool = True) -> None:
        """Append an encoded record (encode_frame) so one encoding serves the log and the archives."""
        path = self.paths[self.cur]
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size and size + len(frame) > self.limit:
            if self.on_switch is not None:
                self.on_switch()
            self.cur = (self.cur + 1) % len(self.paths)
            path = self.paths[self.cur]
            with open(path, "wb") as f:
                os.fsync(f.fileno())
        _append(path, frame, durable)

    def sync(self) -> None:
        """fsync the current file (for writers that append with durable=False and flush later)."""
        path = self.paths[self.cur]
        if os.path.exists(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                hostfaults.before_fsync()
                os.fsync(fd)
            finally:
                os.close(fd)

    def cut_torn_tails(self) -> None:
        """After a crash: drop a half-written last frame so new records follow intact ones."""
        for p in self.paths:
            if os.path.exists(p):
                size, good = os.path.getsize(p), valid_length(p)
                if good != size:
                    os.truncate(p, good)

    def records(self, after_lsn: int = -1) -> Iterator[RedoRecord]:
        """Intact records with lsn_hi > after_lsn from both files, LSN order (decoded lazily)."""
        order = []
        for p in self.paths:
            first = next(scan_frames(p, verify=False), None)
            if first is not None:
                order.append((first.lsn_lo, p))
        for _, p in sorted(order):
            for _, rec in read_frames(p, after_lsn):
                yield rec

    def last_lsn(self) -> int:
        infos = [last_frame(p) for p in self.paths]
        return max((i.lsn_hi for i in infos if i is not None), default=0)

    def last_seq(self) -> int:
        infos = [last_frame(p) for p in self.paths]
        return max((i.seq for i in infos if i is not None), default=0)

    def reset(self) -> None:
        """Empty both files (after restore: the restored data has its own LSN)."""
        for p in self.paths:
            with open(p, "wb") as f:
                os.fsync(f.fileno())
        self.cur = 0


# ---- local archive ------------------------------------------------------------------------

@dataclass
class ArchiveDest:
    """One LOCAL archive destination (a [ARCHIVE_LOCALn] section of dmarch.ini)."""

    name: str
    dest: str
    file_size_mb: int = 1024
    space_limit_mb: int = 0


def archive_file_name(arch_name: str, db_magic: int, when: _dt.datetime) -> str:
    """DM8-style archive file name, e.g. ARCHIVE_LOCAL1_0x5A8B3B2F_EP0_2021-07-30_13-35-05.log."""
    return f"{arch_name}_0x{db_magic & 0xFFFFFFFF:X}_EP0_{when:%Y-%m-%d_%H-%M-%S}.log"


class LocalArchive:
    """Writes redo records to archive files in one LOCAL dest, rotating at ARCH_FILE_SIZE MB and
    deleting the oldest files beyond ARCH_SPACE_LIMIT MB (0 = no limit).

    Appends are not fsynced one by one: the online log is the durability point and start-up
    re-archives what it holds beyond an archive's intact end. `sync()` (called by the instance
    before the online log discards a file) and rotation make the archive itself durable."""

    def __init__(self, spec: ArchiveDest, durable: bool = True):
        self.spec = spec
        self.durable = durable
        os.makedirs(spec.dest, exist_ok=True)
        self.current: str | None = None
        files = self.files()
        if files:
            self.current = files[-1]

    def files(self) -> list[str]:
        """Archive files of this dest, oldest first (ordered by the first LSN they hold)."""
        out = []
        try:
            names = os.listdir(self.spec.dest)
        except FileNotFoundError:
            return []
        for n in names:
            if n.startswith(self.spec.name + "_0x") and n.endswith(".log"):
                p = os.path.join(self.spec.dest, n)
                first = next(scan_frames(p, verify=False), None)
                try:
                    out.append((first.lsn_lo if first else 1 << 62, os.path.getmtime(p), p))
                except FileNotFoundError:        # deleted meanwhile (space limit): not a file of this dest
                    pass
        out.sort()
        return [p for _, _, p in out]

    def _new_file(self, db_magic: int) -> str:
        when = _dt.datetime.now()
        while True:
            p = os.path.join(self.spec.dest, archive_file_name(self.spec.name, db_magic, when))
            if not os.path.exists(p):
                break
            when += _dt.timedelta(seconds=1)
        hostfaults.check_space(p)
        with open(p, "wb") as f:
            os.fsync(f.fileno())
        fsync_dir(self.spec.dest)
        return p

    def append(self, rec: RedoRecord, db_magic: int) -> None:
        self.append_frame(encode_frame(rec), db_magic)

    def append_frame(self, frame: bytes, db_magic: int) -> None:
        limit = max(1, self.spec.file_size_mb) * 1024 * 1024
        if self.current is None or not os.path.exists(self.current):
            self.current = self._new_file(db_magic)
        else:
            size = os.path.getsize(self.current)
            if size and size + len(frame) > limit:
                if self.durable:
                    self.sync()
                self.current = self._new_file(db_magic)
                self._enforce_limit()
        _append(self.current, frame, False)

    def sync(self) -> None:
        """fsync the current archive file (every earlier file was fsynced when it was rotated)."""
        if self.current and os.path.exists(self.current):
            fd = os.open(self.current, os.O_RDONLY)
            try:
                hostfaults.before_fsync()
                os.fsync(fd)
            finally:
                os.close(fd)

    def last_lsn(self) -> int:
        """Highest LSN archived here (0 when empty)."""
        files = self.files()
        info = last_frame(files[-1]) if files else None
        return info.lsn_hi if info else 0

    def cut_torn_tail(self) -> None:
        """After a crash: cut a half-written frame off the current file so appends stay readable."""
        if self.current and os.path.exists(self.current):
            size, good = os.path.getsize(self.current), valid_length(self.current)
            if good != size:
                os.truncate(self.current, good)

    def _enforce_limit(self) -> None:
        if self.spec.space_limit_mb <= 0:
            return
        limit = self.spec.space_limit_mb * 1024 * 1024
        files = self.files()
        total = sum(os.path.getsize(p) for p in files)
        for p in files[:-1]:
            if total <= limit:
                break
            total -= os.path.getsize(p)
            os.remove(p)

    def records(self, after_lsn: int = -1) -> Iterator[RedoRecord]:
        for p in self.files():
            last = last_frame(p)
            if last is None or last.lsn_hi <= after_lsn:
                continue
            for _, rec in read_frames(p, after_lsn):
                yield rec

    def repair(self) -> tuple[int, int]:
        """Cut torn tails off every archive file; returns (files, bytes removed)."""
        fixed = removed = 0
        for p in self.files():
            size, good = os.path.getsize(p), valid_length(p)
            if good != size:
                os.truncate(p, good)
                fixed += 1
                removed += size - good
        return fixed, removed
