"""What tests and suites call: attach(), measure(), test_failed() and the `report` fixture's Recorder.

Attachments and measurements are queued on the test item and rendered into its entry when pytest makes
the phase's report (harness.report.plugin).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import pytest

from harness.report.attachments import KINDS, render
from harness.report.state import (
    CURRENT,
    FAILED_KEY,
    MEASURED_KEY,
    PENDING_KEY,
    TIMELINE_KEY,
    Measurement,
    run_of,
)


def _item_of(target: Any) -> Any:
    """A pytest Item from an Item, a FixtureRequest, or None (the running test); a Config/Session for run-level."""
    if target is None:
        target = CURRENT["item"]
        if target is None:
            raise RuntimeError("report.attach(None, ...) outside a running test: pass the request or item")
    if isinstance(target, (pytest.Item, pytest.Config, pytest.Session)):
        return target
    node = getattr(target, "node", None)  # FixtureRequest
    if isinstance(node, pytest.Item):
        return node
    if isinstance(node, (pytest.Collector)):  # a module/session-scoped request: run level
        return node.session
    raise TypeError(f"report.attach: cannot attach to {type(target).__name__}; pass request or item")


def attach(target: Any, kind: str, payload: Any, *, name: str | None = None) -> None:
    """Attach data to a test (or to the run when target is the Config/Session/a session-scoped request).

    kind:
      steps     list of step dicts {host, step, command, rc, output, duration, ok} (or one dict)
      show      monitor `show` output (str); the last one is shown when the test fails
      log       {host, name, text} or a str (name= names it); shown (tail) when the test fails
      timeline  {samples, faults, history, rto, title} -> plots.timeline, always embedded
      apply_lag {samples, title} or a list of samples -> plots.apply_lag, always embedded
    Everything is also written (redacted) under <run-dir>/tests/<test>/ or <run-dir>/run/.
    """
    if kind not in KINDS:
        raise ValueError(f"report.attach: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    target = _item_of(target)
    if isinstance(target, pytest.Item):
        target.stash.setdefault(PENDING_KEY, []).append((kind, payload, name))
        if kind == "timeline":
            target.stash[TIMELINE_KEY] = True
        return
    run = run_of(target if isinstance(target, pytest.Config) else target.config)
    if run is not None:
        render(run, "run", kind, payload, name, failed=False)


def measure(target: Any, name: str, value: float, unit: str, *, note: str = "") -> Measurement:
    """Record a measured figure of a test (target: request, item or None = the running test).

    It goes into the test's user_properties (so junit.xml has it), its entry in the HTML, the run's
    measurements table at the top of the page and <run-dir>/measurements.json."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"report.measure: the name must be a non-empty string; got {name!r}")
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"report.measure({name!r}): the value must be a finite number; got {value!r}")
    if not isinstance(unit, str):
        raise ValueError(f"report.measure({name!r}): the unit must be a string; got {unit!r}")
    item = _item_of(target)
    if not isinstance(item, pytest.Item):
        raise TypeError(f"report.measure({name!r}): measurements belong to a test; pass its request or item")
    value = value if isinstance(value, int) else float(value)
    m = Measurement(item.nodeid, name.strip(), value, unit, str(note))
    item.user_properties.append((m.name, f"{value} {unit}".strip() + (f" ({m.note})" if m.note else "")))
    item.stash.setdefault(MEASURED_KEY, []).append(m)
    run = run_of(item.config)
    if run is not None:
        run.measurements.append(m)
    return m


def test_failed(target: Any) -> bool:
    """True when a phase (setup/call/teardown so far) of this test failed — e.g. to collect DM logs."""
    item = _item_of(target)
    return bool(isinstance(item, pytest.Item) and item.stash.get(FAILED_KEY, False))


test_failed.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


class Recorder:
    """The `report` fixture: attach() and measure() bound to the running test, one method per kind."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def attach(self, kind: str, payload: Any, *, name: str | None = None) -> None:
        attach(self.item, kind, payload, name=name)

    def measure(self, name: str, value: float, unit: str, *, note: str = "") -> Measurement:
        """A named measured figure, e.g. `report.measure("RTO", 8.2, "s", note="takeover after isolation")`."""
        return measure(self.item, name, value, unit, note=note)

    def steps(self, steps: Any) -> None:
        attach(self.item, "steps", steps)

    def show(self, text: str) -> None:
        attach(self.item, "show", text)

    def log(self, host: str, name: str, text: str) -> None:
        attach(self.item, "log", {"host": host, "name": name, "text": text})

    def timeline(self, history: Any = None, *, samples: Any = None, faults: Any = None, rto: Any = None,
                 title: str | None = None) -> None:
        payload = {"history": history, "samples": samples, "faults": faults, "rto": rto}
        if title:
            payload["title"] = title
        attach(self.item, "timeline", payload)

    def apply_lag(self, samples: Any, *, title: str | None = None) -> None:
        attach(self.item, "apply_lag", {"samples": samples, **({"title": title} if title else {})})

    @property
    def failed(self) -> bool:
        return test_failed(self.item)
