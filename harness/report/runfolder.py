"""The run folder: `<report dir>/<run-id>/`, its id, the `latest` link and pruning of old runs.

This is the one place that picks a run id and creates the folder. The report plugin opens it first
(tryfirst configure) to point pytest-html and junitxml there; the core plugin asks for the same folder.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
_FOLDER_KEY = pytest.StashKey["tuple[Path | None, str]"]()
_NO_RUN_OPTIONS = ("help", "showfixtures", "markers", "version")


def add_options(parser: pytest.Parser) -> None:
    """--dw-report-dir and --dw-keep-runs."""
    group = parser.getgroup("dmdw-report", "dmdw-harness report")
    group.addoption(
        "--dw-report-dir",
        default=None,
        metavar="DIR",
        help="where run folders go (default: <rootdir>/reports); each run writes DIR/<run-id>/ and DIR/latest",
    )
    group.addoption(
        "--dw-keep-runs",
        default=None,
        metavar="N",
        help="after creating this run's folder, delete all but the newest N run folders in the report dir "
             "(default: keep every run; signed reports are yours to archive first)",
    )


def new_run_id() -> str:
    """A UTC timestamp plus a random suffix, e.g. 20261124T161141Z-e8dc5e."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def open_run_dir(config: pytest.Config) -> Path | None:
    """This run's folder, created on the first call (then the same for every caller); sets
    `config.dmdw_run_dir`. None for --help/--fixtures/--markers/--version. An xdist worker gets a
    sub-folder of the controller's, named for the worker (gw0, gw1, ...), and the run id <controller's>-gw0."""
    if _FOLDER_KEY in config.stash:
        return config.stash[_FOLDER_KEY][0]
    folder: Path | None = None
    if hasattr(config, "workerinput"):
        folder, run_id = _worker_folder(config.workerinput)
    elif any(getattr(config.option, opt, False) for opt in _NO_RUN_OPTIONS):
        run_id = "no-run"
    else:
        base = Path(_option(config, "dw_report_dir") or (config.rootpath / "reports")).expanduser()
        keep_runs = _keep_runs(config)
        run_id = new_run_id()
        folder = base / run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise pytest.UsageError(
                f"cannot create the report folder {folder} ({exc.strerror}); fix --dw-report-dir"
            ) from None
        _point_latest(base, run_id)
        prune_runs(base, keep_runs, keep=run_id)
    config.stash[_FOLDER_KEY] = (folder, run_id)
    config.dmdw_run_dir = folder  # type: ignore[attr-defined]
    return folder


def worker_input(config: pytest.Config, remote: bool = False) -> dict[str, Any]:
    """What an xdist worker needs from the controller's run folder (pytest_configure_node); a remote
    worker (ssh) writes on its own machine and sends its folder back (harness.report.remote)."""
    folder, rid = config.stash.get(_FOLDER_KEY, (None, ""))
    return {"dmdw_run_id": rid, "dmdw_run_dir": str(folder) if folder else "", "dmdw_remote": remote}


def _worker_folder(workerinput: dict) -> tuple[Path | None, str]:
    worker = str(workerinput.get("workerid", "worker"))
    parent, parent_id = workerinput.get("dmdw_run_dir", ""), workerinput.get("dmdw_run_id", "")
    if not parent:
        return None, parent_id or worker
    if workerinput.get("dmdw_remote"):
        from harness.report.remote import worker_folder

        return worker_folder(parent_id, worker), f"{parent_id}-{worker}"
    folder = Path(parent) / worker
    folder.mkdir(parents=True, exist_ok=True)
    return folder, f"{parent_id}-{worker}"


def is_remote_worker(config: pytest.Config) -> bool:
    """True in an xdist worker reached over ssh (its folder goes back to the controller at the end)."""
    return bool(getattr(config, "workerinput", {}).get("dmdw_remote"))


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker process."""
    return hasattr(config, "workerinput")


def run_dir(config: pytest.Config) -> Path | None:
    """The run folder of this session (a worker's sub-folder on xdist workers; None before configure)."""
    return config.stash.get(_FOLDER_KEY, (None, ""))[0]


def run_id(config: pytest.Config) -> str:
    """The id of this session's run ("" before configure)."""
    return config.stash.get(_FOLDER_KEY, (None, ""))[1]


def _option(config: pytest.Config, name: str) -> str | None:
    try:
        return config.getoption(name)
    except ValueError:  # the report plugin's options are not registered (it is not loaded)
        return None


def _keep_runs(config: pytest.Config) -> int | None:
    raw = _option(config, "dw_keep_runs")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(f"--dw-keep-runs must be a whole number of runs >= 1; got {raw!r}")
    return n


def prune_runs(base: Path, n: int | None, *, keep: str) -> list[str]:
    """Delete all but the newest n run folders (names from new_run_id only, never `keep`)."""
    if n is None:
        return []
    runs = sorted((p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and RUN_ID.match(p.name)),
                  key=lambda p: p.name, reverse=True)
    gone = [p for p in runs[n:] if p.name != keep]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in gone]


def _point_latest(base: Path, run_id: str) -> None:
    """Atomically repoint base/latest at the new run folder (a relative symlink)."""
    latest = base / "latest"
    if latest.exists() and not latest.is_symlink():
        return  # someone's own folder named latest: leave it alone
    tmp = base / f".latest-{run_id}"
    try:
        tmp.symlink_to(run_id)
        os.replace(tmp, latest)
    except OSError:
        tmp.unlink(missing_ok=True)
