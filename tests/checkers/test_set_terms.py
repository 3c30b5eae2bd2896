"""Set-full histories judged under a suite's terms (losses accepted after a fault started, two primaries
measured): `python -m harness.check RUN_DIR` prints the verdict line the run got."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import check
from harness.checkers.terms import Terms
from harness.history import History, TableSnapshot


def _split_brain_run(path: Path, final_read: list[int]) -> History:
    """Writes 1 (acked at 1.5) and 2 (acked at 3.5); both instances writable from 3.0 to 4.0; the final
    read on mema2 returns `final_read`."""
    h = History(seed=5, path=path)
    h.record("w0", "invoke", "add", 1, at=1.0)
    h.record("w0", "ok", "add", 1, at=1.5)
    h.record("w0", "invoke", "add", 2, at=3.2)
    h.record("w0", "ok", "add", 2, at=3.5)
    for i in range(17):
        t = 1.0 + i * 0.25
        h.sample("mema1", "PRIMARY", "OPEN", at=t)
        h.sample("mema2", "PRIMARY" if t >= 3.0 else "STANDBY", "OPEN", at=t)
    h.record("final", "invoke", "read", None, node="mema2", at=5.0)
    h.record("final", "ok", "read", final_read, node="mema2", at=5.5)
    h.close()
    return h


def _offline(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    rc = check.main([str(run_dir)])
    return rc, capsys.readouterr().out.splitlines()


def test_losses_after_the_cut_off_recheck_valid_with_the_runs_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    h = _split_brain_run(tmp_path / "history-dmdw_wl5_1.jsonl", final_read=[1])
    verdict = h.check(lost_after=3.0, allow=("two-primaries",))
    assert verdict.lost == [2] and verdict.two_primaries_window > 0  # the figures stay what was measured
    assert verdict.judged.startswith("set-full: VALID [") and "acked_after_cut_off=1" in verdict.judged
    assert "allowed=two-primaries x1" in verdict.judged
    terms = Terms.load(h.path)
    assert terms is not None and terms.lost_after == 3.0 and terms.forgiven == [("w0", 3.5)]
    rc, out = _offline(tmp_path, capsys)
    assert rc == 0
    assert out[0] == f"history-dmdw_wl5_1.jsonl [set, seed 5] {verdict.judged}"
    assert not any("the run reported" in line for line in out)


def test_a_loss_before_the_cut_off_stays_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = _split_brain_run(tmp_path / "history-dmdw_wl5_2.jsonl", final_read=[2])
    verdict = h.check(lost_after=3.0, allow=("two-primaries",))
    assert verdict.judged.startswith("set-full: INVALID (lost x1) [")
    rc, out = _offline(tmp_path, capsys)
    assert rc == 1
    assert out[0] == f"history-dmdw_wl5_2.jsonl [set, seed 5] {verdict.judged}"
    assert any("lost: 1 acknowledged writes missing from the final read: 1" in line for line in out)


def test_without_terms_the_two_primaries_and_the_loss_count(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    h = _split_brain_run(tmp_path / "history-dmdw_wl5_3.jsonl", final_read=[1])
    verdict = h.check()
    assert verdict.judged.startswith("set-full: INVALID (lost x1, two-primaries x1) [")
    rc, out = _offline(tmp_path, capsys)
    assert rc == 1 and out[0].endswith(verdict.judged)


def test_the_terms_keep_the_divergence_check(tmp_path: Path) -> None:
    h = _split_brain_run(tmp_path / "history-dmdw_wl5_4.jsonl", final_read=[1])
    h.primary = "mema2"
    h.snapshots = {"mema2": {"T": TableSnapshot(1, 10, [1])}, "mema1": {"T": TableSnapshot(2, 30, [1, 2])}}
    verdict = h.check(lost_after=3.0, allow=("two-primaries",))
    assert verdict.judged.startswith("set-full: INVALID (divergence x1) [")
