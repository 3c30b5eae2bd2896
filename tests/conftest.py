"""The project's own tests under `-n N` (`make test`): each test file stays on one worker, since many build
a group or an image in a module fixture; a file whose tests are independent and long says
`XDIST_SPREAD = True` and has its tests handed out one by one (`--dist loadgroup`)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if item.get_closest_marker("xdist_group") or getattr(module, "XDIST_SPREAD", False):
            continue
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
