"""Shards: `--dw-shard i/N` keeps a deterministic slice of the collected tests, so a CI system can fan one
run out over N jobs (and `python -m harness.merge` joins their run folders again).

A test belongs to shard 1 + (sha1 of its node id) mod N: the same on every machine and in every process,
and a test keeps its shard when others are added or removed. The slice is taken before the plugin orders
the tests, so each shard keeps the suites' rules (destructive first, dw_auto tests together).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import pytest

from harness.errors import UsageError

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse(spec: str | None) -> tuple[int, int] | None:
    """'2/3' -> (2, 3); None for no sharding; UsageError naming the option otherwise."""
    if spec is None:
        return None
    m = _SPEC.match(str(spec))
    if not m:
        raise UsageError(f"--dw-shard must be I/N (e.g. 1/3); got {spec!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--dw-shard {spec}: need 1 <= I <= N")
    return index, count


def shard_of(nodeid: str, count: int) -> int:
    """The shard (1..count) a test belongs to."""
    digest = hashlib.sha1(nodeid.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def split(nodeids: Iterable[str], index: int, count: int) -> tuple[list[str], list[str]]:
    """(kept, dropped) node ids for shard index of count, each in the given order."""
    kept, dropped = [], []
    for nodeid in nodeids:
        (kept if shard_of(nodeid, count) == index else dropped).append(nodeid)
    return kept, dropped


class ShardFilter:
    """A pytest plugin keeping one shard's tests (registered by harness.plugin for --dw-shard)."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Before any other hook (xdist's group suffix, the plugin's ordering) sees the node ids."""
        keep = set(split((i.nodeid for i in items), self.index, self.count)[0])
        dropped = [i for i in items if i.nodeid not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i.nodeid in keep]
