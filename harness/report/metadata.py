"""The Environment table (pytest-metadata): run id, target, backend, DM build, topology, seed, timers...

Filled from `config.dmdw_env`, which the core plugin keeps up to date (the DM build is known only after
bring-up, so the table is filled at session start and again at session end).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import pytest

from harness.redact import MASK, SECRET_KEY, redact, redact_value
from harness.report.state import run_of

_ENV_LABELS = {
    "target": "Target",
    "backend": "Backend",
    "dm_build": "DM build",
    "svr_version": "DM SVR_VERSION",
    "build_version": "DM BUILD_VERSION",
    "topology": "Topology",
    "seed": "Seed",
    "timers": "Timers",
    "images": "Image ids",
    "image_ids": "Image ids",
    "lang": "Message language",
    "bulk_rows": "Bulk load rows",
    "bringup_seconds": "Bring-up (s)",
    "cleanup": "Cleanup (--keep-topology)",
    "accepted": "Accepted deployment (--dw-existing: discovered)",
    "restores": "Restores after destructive tests (--dw-allow-destructive)",
}


def _metadata(config: pytest.Config) -> dict | None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def env_value(key: str, value: Any) -> Any:
    """A metadata value safe for pytest-html's environment table (rendered as HTML there)."""
    value = redact_value(key, value)
    if isinstance(value, Mapping):
        return {escape(k): escape(redact(plain(v))) for k, v in _flatten(value).items()}
    return escape(redact(plain(value)))


def _flatten(value: Mapping) -> dict[str, Any]:
    """A mapping of mappings one level down (hosts.host1: name=host1, role=primary, ...), so each host
    of a topology gets one line."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, Mapping) and v and any(isinstance(x, Mapping) for x in v.values()):
            out.update({f"{k}.{k2}": v2 for k2, v2 in v.items()})
        else:
            out[str(k)] = v
    return out


def plain(value: Any) -> str:
    """A value as one line of text: mappings as k=v, sequences comma-separated."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(plain(v) for v in value)
    return str(value)


def fill_metadata(config: pytest.Config) -> None:
    """Copy config.dmdw_env (target, backend, DM build, topology, seed, timers, image ids) into the table."""
    meta = _metadata(config)
    run = run_of(config)
    if meta is None or run is None:
        return
    meta["Run id"] = run.run_id
    if run.run_dir is not None:
        meta["Run folder"] = escape(str(run.run_dir))
    env = getattr(config, "dmdw_env", None) or {}
    for key, value in env.items():
        if key == "dm_build" and not value:
            value = "not known: no DM instance was started in this run"
        meta[_ENV_LABELS.get(key, str(key))] = env_value(key, value)
    for key in list(meta):
        if SECRET_KEY.search(str(key)):
            meta[key] = MASK
