"""Conformance suite fixtures: read the built group's files, OS accounts and ports as an operator would."""

from __future__ import annotations

from typing import Any

import pytest

from suites.conformance.hostfacts import Inspector


@pytest.fixture
def inspect(dw: Any, dw_group: Any) -> Inspector:
    """Read-only access to the built hosts (files, OS accounts, ports)."""
    return Inspector(dw_group)
