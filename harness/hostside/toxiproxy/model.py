"""The Toxiproxy model shared by the server's modules: constants, the API error, toxics.

Toxics apply to live and new connections: latency (latency, jitter ms), bandwidth (rate KB/s), timeout
(timeout ms; 0 = black hole forever), reset_peer (timeout ms, then TCP RST), slow_close (delay ms),
limit_data (bytes), slicer (average_size, size_variation bytes, delay µs), noop. `toxicity` is the
chance that a toxic affects a given connection. Bodies reach Toxic already checked by schema.py.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

VERSION = "2.12.0-dmdw"
CHUNK = 1024 * 1024
POLL = 0.02  # seconds: how often an idle pipe re-reads its toxics (bounds the reaction to a new toxic)

TOXIC_DEFAULTS: dict[str, dict[str, int]] = {
    "noop": {},
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
STREAMS = ("upstream", "downstream")


class ApiError(Exception):
    """An API failure with its HTTP status, rendered as Toxiproxy does: {"error": ..., "status": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_T = TypeVar("_T")


def find(table: dict[str, _T], name: str, what: str) -> _T:
    """``table[name]``, or the API's 404 "<what> not found" (proxies and toxics answer alike)."""
    obj = table.get(name)
    if obj is None:
        raise ApiError(404, f"{what} not found")
    return obj


def claim(table: dict[str, Any], name: str, what: str) -> None:
    """Refuse a name already taken with the API's 409 "<what> already exists"."""
    if name in table:
        raise ApiError(409, f"{what} already exists")


class Toxic:
    """One toxic: a named, typed, per-stream fault with attributes (from a body schema.toxic_spec checked)."""

    _ids = itertools.count(1)

    def __init__(self, spec: dict[str, Any]) -> None:
        self.type: str = spec["type"]
        self.stream: str = spec.get("stream") or "downstream"
        self.name: str = spec.get("name") or f"{self.type}_{self.stream}"
        self.toxicity: float = 1.0
        self.attributes: dict[str, int] = dict(TOXIC_DEFAULTS[self.type])
        self.uid = next(self._ids)
        self.update(spec)

    def update(self, spec: dict[str, Any]) -> None:
        """Apply `toxicity` and the known `attributes` of a checked create or update body."""
        if spec.get("toxicity") is not None:
            self.toxicity = float(spec["toxicity"])
        for key, value in (spec.get("attributes") or {}).items():
            if key in self.attributes:
                self.attributes[key] = value
        self.uid = next(self._ids)  # live connections restart the toxic's timers, as Toxiproxy does

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}
