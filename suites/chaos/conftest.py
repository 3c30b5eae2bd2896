"""Chaos suite fixtures: `auto_mode` (DW_MODE AUTO with the confirm monitor, from the failover runbook) for
the matrix's AUTO cases, and a guard that leaves a group with a missing daemon to be rebuilt rather than
handed to the next test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from suites.failover.runbook import auto_mode, runbook  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _daemons_left_running(dw_group: Any) -> Iterator[None]:
    """After each chaos test: if a dmserver or dmwatcher is missing on a DB host, the next test gets a
    rebuilt group (ensure_healthy only looks at SQL)."""
    yield
    for spec in dw_group.topology.db_hosts:
        h = dw_group.hosts[spec.name]
        if not h.pids("dmwatcher") or not h.pids("dmserver"):
            dw_group.dirty = True
