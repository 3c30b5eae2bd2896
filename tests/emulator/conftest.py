"""Shared fixtures for the emulator's tests: a temp DM install tree, a database fresh from dminit, and one
started by dmserver (torn down with SIGTERM, then SIGKILL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from emu_helpers import Db, dminit, free_port
from test_sql_support import Hooks, open_db


@pytest.fixture
def port() -> int:
    """A free loopback TCP port."""
    return free_port()


@pytest.fixture
def dm_root(tmp_path: Path) -> Iterator[Path]:
    """A fresh install tree: <tmp>/opt/dm8/{bin,data,log} and <tmp>/etc for dm_svc.conf."""
    for d in ("opt/dm8/data", "opt/dm8/log", "etc"):
        (tmp_path / d).mkdir(parents=True)
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple]:
    """An in-process SQL engine Database (no dmserver) and the Hooks recording its redo: (db, hooks)."""
    h = Hooks()
    db = open_db(tmp_path / "SYSTEM.DBF", h)
    yield db, h
    db.close()


@pytest.fixture
def new_db(dm_root: Path) -> Iterator[Db]:
    """A database fresh from dminit (never started)."""
    db = dminit(dm_root)
    yield db
    db.stop_all()


@pytest.fixture
def running_db(new_db: Db) -> Iterator[Db]:
    """A database started normally (OPEN, NORMAL mode) by dmserver."""
    new_db.server()
    yield new_db
    new_db.stop_all()
