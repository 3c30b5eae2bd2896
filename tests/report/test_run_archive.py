"""Run folders fit an archive: histories, steps, transcripts and monitor logs stored once, gzip-compressed, and
still read back by the checkers, `python -m harness.check`, History.load and the report's readers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harness import archive, check
from harness.checkers import load
from harness.history import History


def _history(path: Path, n: int = 200) -> History:
    h = History(seed=11, path=path)
    for i in range(n):
        h.sample("mema1", "PRIMARY", "OPEN", lsn=1000 + i, at=float(i))
        h.record("w0", "invoke", "add", i, at=i + 0.1)
        h.record("w0", "ok", "add", i, at=i + 0.2)
    h.record("r", "invoke", "read", None, at=n + 1.0)
    h.record("r", "ok", "read", list(range(n)), at=n + 2.0)
    h.close()
    return h


def test_compress_replaces_the_plain_file_and_reads_back_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "history-dw_chk.jsonl"
    _history(plain)
    text = plain.read_text()
    size = plain.stat().st_size
    packed = archive.compress(plain)
    assert packed == tmp_path / "history-dw_chk.jsonl.gz" and not plain.exists()
    assert packed.stat().st_size * 5 < size, "a history compresses several times"
    assert archive.read_text(packed) == text
    back = History.load(packed)
    assert len(back.ops) == 402 and len(back.roles) == 200 and back.seed == 11
    assert [r.kind for r in load(packed)] == ["set"]
    assert archive.compress(packed) == packed, "compressing twice is a no-op"


def test_a_gzip_cut_short_gives_the_lines_before_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "history-x.jsonl"
    _history(path, n=2000)
    packed = archive.compress(path)
    data = packed.read_bytes()
    packed.write_bytes(data[: len(data) // 2])
    recs = load(packed)
    assert recs and 0 < len(recs[0].history.ops) < 4002


def test_compress_run_folder_cleans_first_and_leaves_what_a_human_opens(tmp_path: Path) -> None:
    _history(tmp_path / "history-a.jsonl")
    _history(tmp_path / "gw0" / "history-bank-1.jsonl")
    (tmp_path / "steps.jsonl").write_text("{}\n")
    (tmp_path / "monitor-monitor.log").write_text("show\n")
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "transcripts" / "host1-disql.jsonl").write_text("{}\n")
    for plain in ("report.html", "junit.xml", "env.json", "progress.log", "tests/t/faults.json", "logs/host1/dm.log"):
        (tmp_path / plain).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / plain).write_text("x")
    cleaned: list[str] = []
    done = archive.compress_run_folder(tmp_path, clean=lambda p: cleaned.append(p.name))
    assert sorted(p.name for p in done) == ["history-a.jsonl.gz", "history-bank-1.jsonl.gz", "host1-disql.jsonl.gz",
                                           "monitor-monitor.log.gz", "steps.jsonl.gz"]
    assert sorted(cleaned) == sorted(p.name[:-3] for p in done)
    assert all((tmp_path / plain).exists() for plain in ("report.html", "progress.log", "logs/host1/dm.log"))
    assert archive.compress_run_folder(tmp_path) == []
    assert archive.read_lines(tmp_path / "steps.jsonl") == ["{}"], "read back by the plain name"


def test_a_file_written_again_after_compression_is_appended(tmp_path: Path) -> None:
    steps = tmp_path / "steps.jsonl"
    steps.write_text('{"step": 1}\n')
    archive.compress(steps)
    steps.write_text('{"step": 2}\n')  # a late step (a teardown after the session's end)
    assert archive.compress(steps) == tmp_path / "steps.jsonl.gz" and not steps.exists()
    assert archive.read_lines(steps) == ['{"step": 1}', '{"step": 2}']
    assert archive.read_lines(tmp_path / "none.jsonl") == []


def test_offline_check_reads_compressed_histories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path / "history-dw_chk.jsonl")
    archive.compress(tmp_path / "history-dw_chk.jsonl")
    missing = tmp_path / "tests" / "t1"
    missing.mkdir(parents=True)
    ops = '{"index": 0, "process": "w0", "type": "invoke", "f": "add", "value": 5, "time": 1.0}\n' \
          '{"index": 1, "process": "w0", "type": "ok", "f": "add", "value": 5, "time": 1.1}\n' \
          '{"index": 2, "process": "r", "type": "invoke", "f": "read", "value": null, "time": 2.0}\n' \
          '{"index": 3, "process": "r", "type": "ok", "f": "read", "value": [], "time": 2.1}\n'
    (missing / "history.jsonl.gz").write_bytes(gzip.compress(ops.encode()))
    assert check.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "history-dw_chk.jsonl.gz [set, seed 11] set-full: VALID" in out
    assert "tests/t1/history.jsonl.gz" in out and "2 histories: 1 valid, 1 invalid" in out


def test_a_remote_workers_folder_travels_back_packed(tmp_path: Path) -> None:
    import base64
    import io
    import tarfile

    from harness.report import remote

    folder = remote.worker_folder("20261205T000000Z-abcdef", "gw1")
    try:
        _history(folder / "history-a.jsonl")
        archive.compress(folder / "history-a.jsonl")
        (folder / "tests" / "t1").mkdir(parents=True)
        (folder / "tests" / "t1" / "show.txt").write_text("GRP1 mema1 PRIMARY OPEN")
        data = remote.pack(folder)
        assert not folder.parent.exists(), "the worker's own copy is removed once packed"
        dest = tmp_path / "run" / "gw1"
        assert remote.unpack(data, dest) == 2
        assert (dest / "tests" / "t1" / "show.txt").read_text() == "GRP1 mema1 PRIMARY OPEN"
        assert len(History.load(dest / "history-a.jsonl.gz").ops) == 402
    finally:
        import shutil

        shutil.rmtree(folder.parent, ignore_errors=True)
    buf = io.BytesIO()  # a member leaving the destination is not written
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"no"))
    assert remote.unpack(base64.b64encode(buf.getvalue()).decode(), tmp_path / "run" / "gw2") == 0
    assert not (tmp_path / "run" / "escaped.txt").exists()


def test_the_checker_terms_beside_a_history_are_compressed_and_read_back(tmp_path: Path) -> None:
    from harness.checkers.terms import Terms

    _history(tmp_path / "history-t.jsonl")
    Terms(allowed=["lost"], summary="set: 1 lost").save(tmp_path / "history-t.jsonl")
    archive.compress_run_folder(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history-t.jsonl.gz", "history-t.terms.json.gz"]
    terms = Terms.load(tmp_path / "history-t.jsonl.gz")
    assert terms is not None and terms.allowed == ["lost"] and terms.summary == "set: 1 lost"
