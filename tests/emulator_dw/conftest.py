"""Fixtures for the Data Watch tests: a seed-built group on local processes (see dwlab.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from dwlab import Lab  # noqa: E402


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """One group per test module, built by the seed's procedure; everything killed and removed after."""
    lb = Lab()
    try:
        lb.build()
        yield lb
    finally:
        lb.close()


@pytest.fixture
def fresh_lab(request) -> Iterator[Lab]:
    """A group of its own (parametrise with indirect=True to pass Lab options)."""
    opts = getattr(request, "param", {}) or {}
    lb = Lab(**opts)
    try:
        lb.build()
        yield lb
    finally:
        lb.close()
