"""How `-n N` spreads the tests over xdist workers: xdist's own scope scheduling, with the suite folder
as the scope or each test as its own (`--dw-spread`), so every worker keeps the suites' ordering rules on
its own group (destructive first, dw_auto tests together): the session's order already puts every
destructive test first and the dw_auto ones last, and xdist hands equal-sized scopes out in that order.
Within each of those ordering classes a parallel run puts the longest tests first (their times in the
previous runs, kept in the report dir), so the workers finish close together.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SCOPED_KEY = pytest.StashKey[bool]()
SPREAD_KEY = pytest.StashKey[str]()
DURATIONS_FILE = "durations.json"  # in the report dir: node id -> seconds of its last run
DURATIONS_INPUT = "dmdw_durations"  # the same map, handed to each xdist worker


def default_dist(config: pytest.Config) -> None:
    """`-n N` without --dist hands out single tests (or whole suites, `--dw-spread suite`) in the session's
    order (xdist's own default, load, sends tests in chunks out of order); see pytest_xdist_make_scheduler."""
    given = any(a == "-d" or a.startswith("--dist") for a in config.invocation_params.args)
    ours = bool(getattr(config.option, "numprocesses", None)) and config.option.dist == "load" and not given
    config.stash[SCOPED_KEY] = ours and not hasattr(config, "workerinput")
    config.stash[SPREAD_KEY] = config.getoption("--dw-spread", "test")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scope scheduling (as its loadfile uses the file as the scope) with each test as its own scope
    (all of size one, so xdist's reordering by size keeps them as collected): xdist hands them out in the
    session's order (destructive first, dw_auto last) to whichever worker is free, so each worker keeps that
    order on its own group. With `--dw-spread suite` the suite folder is the scope: a suite runs whole on one
    worker, in its order (by test still when the run holds fewer suites than workers)."""
    if not config.stash.get(SCOPED_KEY, False):
        return None
    from xdist.scheduler import LoadScopeScheduling

    spread = config.stash.get(SPREAD_KEY, "test")

    class SuiteScheduling(LoadScopeScheduling):
        by_test: bool | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.by_test is None:  # the collection is complete when xdist first asks
                self.by_test = spread_by_test(self.collection or [], len(self.nodes), spread)
            return nodeid if self.by_test else suite_of(nodeid)

        def remove_node(self, node: Any) -> str | None:
            """A crashed worker's test is reported as crashed and not handed to the next worker (xdist's
            scope scheduling would queue it again, so it would crash worker after worker, each building a
            group, up to the restart limit); the worker's other pending tests go back to the queue."""
            workload = self.assigned_work.get(node, {})
            crashed = next((nid for unit in workload.values() for nid, done in unit.items() if not done), None)
            for scope, unit in list(workload.items()):
                if crashed in unit:
                    unit[crashed] = True
                if all(unit.values()):
                    del workload[scope]
            super().remove_node(node)
            return crashed

    return SuiteScheduling(config, log)


def spread_by_test(nodeids: list[str], workers: int, spread: str = "test") -> bool:
    """Whether each test is a scope of its own: `--dw-spread test` (the default: measured as fast as whole
    suites on the quick set and not held up by the largest suite on the whole set), or `suite` when the
    tests come from fewer suites than there are workers, where whole suites would leave a worker idle."""
    return spread == "test" or len({suite_of(n) for n in nodeids}) < workers


def suite_of(nodeid: str) -> str:
    """suites/failover/test_x.py::t -> failover; any other test: the folder of its file."""
    parts = nodeid.split("::", 1)[0].split("/")
    if "suites" in parts[:-1]:
        return parts[parts.index("suites") + 1]
    return "/".join(parts[:-1]) or "."


def session_order(nodeids: list[str], destructive: set[str], auto: set[str],
                  known: dict[str, float] | None = None) -> list[str]:
    """The session's order of the test ids (stable: the collected or shuffled order breaks ties).

    Destructive tests first: each needs a freshly built group and leaves it for a rebuild, so grouped, a
    run (or a worker) builds once per destructive test plus once. Without durations (a serial run) the
    DW_MODE AUTO tests come last in each part: a mode change stops and starts the group, so grouped it
    happens once per part. With durations (`known`, an xdist worker's: the last runs' seconds per test)
    each part runs longest first, so the long tests are handed out early and no worker is left with one
    at the end; tests never timed count as longest (they may be long). There the destructive AUTO tests
    go by their own times (each gets a fresh group anyway) and the other AUTO tests stay together, placed
    as one test as long as all of them."""
    if known is None:
        return sorted(nodeids, key=lambda n: (n not in destructive, n in auto))

    def seconds(n: str) -> float:
        return known.get(n, float("inf"))

    together = [n for n in nodeids if n in auto and n not in destructive]
    block = sum(seconds(n) for n in together)
    return sorted(nodeids, key=lambda n: (n not in destructive, -block if n in together else -seconds(n),
                                          n in together, -seconds(n)))


def worker_durations(config: pytest.Config) -> dict[str, float] | None:
    """The durations the controller handed this xdist worker (the same on every worker, remote ones too:
    xdist requires one order on all); None outside a worker."""
    known = getattr(config, "workerinput", {}).get(DURATIONS_INPUT)
    return None if known is None else dict(known)


class Durations:
    """Each test's duration (setup + call + teardown, as the controller or a serial run sees it) in
    `<report dir>/durations.json`, merged over runs; handed to the xdist workers for `session_order`."""

    def __init__(self, report_dir: Path) -> None:
        self.path = report_dir / DURATIONS_FILE
        self.known = self._read()
        self.spent: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[DURATIONS_INPUT] = dict(self.known)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.spent[report.nodeid] = self.spent.get(report.nodeid, 0.0) + float(report.duration or 0.0)

    def pytest_sessionfinish(self) -> None:
        if not self.spent:
            return
        known = {**self._read(), **{nodeid: round(seconds, 1) for nodeid, seconds in self.spent.items()}}
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(known, indent=0, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
