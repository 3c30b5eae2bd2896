"""Backend limits: harness core raises BackendLimit (no pytest.skip in core); the plugin reports the test
skipped with that sentence."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.errors import BackendLimit, HarnessError
from harness.fault_matrix import start_fault

pytest_plugins = ["pytester"]


class _Fault:
    """A fault whose start fails as a network backend's does when it cannot apply the fault."""

    def start(self) -> None:
        raise HarnessError("no CLIENT link on block files")


def _dw(backend: str) -> SimpleNamespace:
    return SimpleNamespace(procedure=SimpleNamespace(backend=SimpleNamespace(name=backend)))


def test_start_fault_on_the_local_backend_raises_a_backend_limit() -> None:
    with pytest.raises(BackendLimit, match=r"the local backend cannot apply this fault \(no CLIENT link"):
        start_fault(_Fault(), _dw("local"))


def test_start_fault_elsewhere_lets_the_error_through() -> None:
    with pytest.raises(HarnessError) as err:
        start_fault(_Fault(), _dw("docker"))
    assert not isinstance(err.value, BackendLimit)


def test_the_plugin_skips_a_test_that_meets_a_backend_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="from harness.errors import BackendLimit\n\n"
                               "def test_x():\n    raise BackendLimit('the local backend cannot do it')\n")
    result = pytester.runpytest("-p", "harness.plugin", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*the local backend cannot do it*"])
