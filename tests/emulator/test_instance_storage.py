"""Control file, online redo log and local archive files (dmemu.storage), no server needed."""

from __future__ import annotations

import json
import os
import re

from dmemu.api import RedoRecord
from dmemu.storage import ArchiveDest, ControlFile, LocalArchive, OnlineLog, encode_frame, read_frames


def rec(lo: int, hi: int | None = None, payload: int = 10) -> RedoRecord:
    return RedoRecord(lsn_lo=lo, lsn_hi=hi or lo, ops=[("ins", "T", lo, os.urandom(payload))], db_magic=7)


def test_control_file_roundtrip_and_defaults(tmp_path):
    ctl = ControlFile.create(str(tmp_path / "dm.ctl"), {"db_name": "memadb", "permanent_magic": 11})
    ctl.update(oguid=453331, mode="PRIMARY")
    again = ControlFile.load(str(tmp_path / "dm.ctl"))
    assert (again["oguid"], again["mode"], again["permanent_magic"]) == (453331, "PRIMARY", 11)
    assert again["first_start_done"] is False and again["n_open"] == 0
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]          # no temp file left behind
    assert json.loads((tmp_path / "dm.ctl").read_text())["db_name"] == "memadb"


def test_online_log_ignores_torn_tail_and_cuts_it(tmp_path):
    paths = [str(tmp_path / "db01.log"), str(tmp_path / "db02.log")]
    log = OnlineLog(paths, 64)
    for i in range(1, 4):
        log.append(rec(i))
    with open(paths[0], "ab") as f:                 # a crash in the middle of the 4th frame
        f.write(encode_frame(rec(4))[:-5])
    assert [r.lsn_lo for r in OnlineLog(paths, 64).records()] == [1, 2, 3]
    log2 = OnlineLog(paths, 64)
    log2.cut_torn_tails()
    log2.append(rec(4))
    assert [r.lsn_lo for r in log2.records()] == [1, 2, 3, 4]
    assert log2.last_lsn() == 4


def test_online_log_switches_files_and_keeps_newest(tmp_path):
    paths = [str(tmp_path / "db01.log"), str(tmp_path / "db02.log")]
    log = OnlineLog(paths, 1)                       # 1 MB per file
    for i in range(1, 40):
        log.append(rec(i, payload=100_000))
    lsns = [r.lsn_lo for r in log.records()]
    assert lsns[-1] == 39 and lsns == sorted(lsns)
    assert all(os.path.getsize(p) <= 1024 * 1024 + 200_000 for p in paths)
    assert OnlineLog(paths, 1).last_lsn() == 39    # a reopened log finds the newest record


def test_archive_names_rotation_and_space_limit(tmp_path):
    arch = LocalArchive(ArchiveDest("ARCHIVE_LOCAL1", str(tmp_path / "arch"), file_size_mb=1, space_limit_mb=3))
    for i in range(1, 80):
        arch.append(rec(i, payload=200_000), db_magic=0x5A8B3B2F)
    files = arch.files()
    assert len(files) >= 2
    for p in files:
        assert re.fullmatch(r"ARCHIVE_LOCAL1_0x5A8B3B2F_EP0_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.log",
                            os.path.basename(p)), p
    total = sum(os.path.getsize(p) for p in files)
    assert total <= 4 * 1024 * 1024                 # oldest files deleted beyond ARCH_SPACE_LIMIT
    lsns = [r.lsn_lo for r in arch.records()]
    assert lsns == sorted(lsns) and lsns[-1] == 79 and lsns[0] > 1


def test_archive_repair_cuts_torn_frames(tmp_path):
    arch = LocalArchive(ArchiveDest("ARCHIVE_LOCAL1", str(tmp_path), 64))
    arch.append(rec(1), 1)
    with open(arch.current, "ab") as f:
        f.write(b"RLG1\x00\x00")
    assert arch.repair() == (1, 6)
    assert [lsn for lsn, _ in read_frames(arch.current)] and arch.repair() == (0, 0)


def test_archive_torn_tail_cut_before_new_appends(tmp_path):
    spec = ArchiveDest("ARCHIVE_LOCAL1", str(tmp_path), 64)
    arch = LocalArchive(spec)
    arch.append(rec(1), 1)
    with open(arch.current, "ab") as f:                 # kill -9 in the middle of a frame
        f.write(encode_frame(rec(2))[:-3])
    again = LocalArchive(spec)
    again.cut_torn_tail()
    again.append(rec(2), 1)
    assert [r.lsn_lo for r in again.records()] == [1, 2]
