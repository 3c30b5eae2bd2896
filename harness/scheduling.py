"""How `-n N` spreads the tests over xdist workers: xdist's own scope scheduling, with the suite folder
as the scope or each test as its own (`--dw-spread`), so every worker keeps the suites' ordering rules on
its own group (destructive first, dw_auto tests together): the session's order already puts every
destructive test first and the dw_auto ones last, and xdist hands equal-sized scopes out in that order.
"""

from __future__ import annotations

from typing import Any

import pytest

SCOPED_KEY = pytest.StashKey[bool]()
SPREAD_KEY = pytest.StashKey[str]()


def default_dist(config: pytest.Config) -> None:
    """`-n N` without --dist hands out single tests (or whole suites, `--dw-spread suite`) in the session's
    order (xdist's own default, load, sends tests in chunks out of order); see pytest_xdist_make_scheduler."""
    given = any(a == "-d" or a.startswith("--dist") for a in config.invocation_params.args)
    by_suite = bool(getattr(config.option, "numprocesses", None)) and config.option.dist == "load" and not given
    config.stash[SCOPED_KEY] = by_suite and not hasattr(config, "workerinput")
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
