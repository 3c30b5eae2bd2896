"""Settings: what a run was asked for, typed and validated once (command-line options + --dw-config).

Why: the group (harness.group), the plugin and the benchmarks read the same values; building them in one
place gives one validation path, whose errors are one sentence naming the option (a UsageError).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.backends import resolve_name
from harness.config import load_config, preset
from harness.errors import UsageError
from harness.inventory import Inventory, load_inventory
from harness.topology import Timers, Topology

TARGETS = ("emulator", "dm8")
LANGS = ("cn", "en")
# Shorter DW timers for the emulator default (a --dw-config [timers] table overrides them); one dmtimer
# minute lasts 3 s there (DMEMU_TIMER_MINUTE_S), so a 1-minute ASYNC timer fires every 3 s.
EMULATOR_TIMERS = Timers(dw_error_time=4, inst_error_time=4, inst_recover_time=6, mal_check_interval=2,
                         mal_conn_fail_interval=3, timer_minute_s=3)


def default_topology(target: str, lang: str = "cn") -> Topology:
    """Seed defaults; the emulator default gets shorter DW timers (config files may override them)."""
    t = Topology(lang=lang)
    if target == "emulator":
        t.timers = Timers(**vars(EMULATOR_TIMERS))
    return t


@dataclasses.dataclass
class Settings:
    """One run's settings. `topology` is the requested one; the group adapts it to its backend."""

    target: str = "emulator"
    backend: str = "auto"
    lang: str = "cn"
    seed: int = 0
    bulk_rows: int = 10_000_000
    topology: Topology = dataclasses.field(default_factory=Topology)
    keep: bool = False
    dm8_image: str | None = None
    dm8_installer: str | None = None
    inventory: Inventory | None = None  # --dw-inventory: the hosts of an existing deployment (ssh backend)
    existing: bool = False  # --dw-existing: discover the group on the hosts instead of building it
    allow_destructive: bool = False  # --dw-allow-destructive: destructive tests may run on an existing group
    systemd: bool = False  # --dw-systemd: docker hosts boot systemd; the procedure uses the service units

    @classmethod
    def build(cls, *, target: str = "emulator", backend: str = "auto", lang: str = "cn",
              config: str | Path | None = None, dm8_image: str | None = None, dm8_installer: str | None = None,
              dm_home: str = "/opt/dm8", seed: Any = None, bulk_rows: Any = 10_000_000,
              keep: bool = False, topology: str | None = None, inventory: str | None = None,
              existing: bool = False, allow_destructive: bool = False, systemd: bool = False) -> Settings:
        """Validate every value; raise UsageError with one sentence naming the bad option."""
        _choice("--dw-target", target, TARGETS)
        _choice("--dw-lang", lang, LANGS)
        if backend != "auto":
            resolve_name(backend, target)  # the backend's own checks (choices; local runs the emulator only)
        inv = _existing_options(backend, inventory, existing, allow_destructive)
        if target == "dm8" and not (dm8_image or dm8_installer) and backend not in ("vagrant", "ssh"):
            raise UsageError("--dw-target dm8 needs --dm8-image IMAGE or --dm8-installer FILE")
        if target == "emulator" and (dm8_image or dm8_installer):
            raise UsageError("--dm8-image/--dm8-installer apply to --dw-target dm8 only")
        if dm8_installer and not Path(dm8_installer).is_file():
            raise UsageError(f"--dm8-installer {dm8_installer}: no such file")
        if not str(dm_home).startswith("/"):
            raise UsageError(f"--dm-home must be an absolute path; got {dm_home!r}")
        seed_n = _integer("--dw-seed", seed, 0) if seed is not None else random.randrange(2**31)
        rows = _integer("--bulk-rows", bulk_rows, 1)
        topo = load_config(config, base=preset(topology, default_topology(target, lang)))
        topo.paths.dm_home = dm_home
        if lang != "cn":  # an explicit --dw-lang wins over the config file's lang
            topo.lang = lang
        if systemd:
            if backend not in ("auto", "docker"):
                raise UsageError("--dw-systemd applies to --dw-backend docker (the vagrant VMs always run systemd)")
            topo.backend_options["systemd"] = True
        return cls(target=target, backend=backend, lang=topo.lang, seed=seed_n, bulk_rows=rows, topology=topo,
                   keep=bool(keep), dm8_image=dm8_image, dm8_installer=dm8_installer, inventory=inv,
                   existing=bool(existing), allow_destructive=bool(allow_destructive), systemd=bool(systemd))

    @classmethod
    def from_options(cls, option: Callable[[str], Any]) -> Settings:
        """From pytest's config.getoption (or any name -> value lookup of the --dw-* options)."""
        return cls.build(target=option("--dw-target"), backend=option("--dw-backend"), lang=option("--dw-lang"),
                         config=option("--dw-config"), dm8_image=option("--dm8-image"),
                         dm8_installer=option("--dm8-installer"), dm_home=option("--dm-home"),
                         seed=option("--dw-seed"), bulk_rows=option("--bulk-rows"),
                         keep=option("--keep-topology"), topology=option("--dw-topology"),
                         inventory=option("--dw-inventory"), existing=option("--dw-existing"),
                         allow_destructive=option("--dw-allow-destructive"), systemd=option("--dw-systemd"))

    def env(self) -> dict[str, Any]:
        """The run's environment for the report (the group updates backend, topology and build)."""
        return {"target": self.target, "backend": self.backend, "seed": self.seed, "lang": self.lang,
                "topology": self.topology.summary(), "timers": vars(self.topology.timers).copy(),
                "dm_build": {}, "bulk_rows": self.bulk_rows}


def _existing_options(backend: str, inventory: str | None, existing: bool, allow_destructive: bool) -> Inventory | None:
    """--dw-inventory, --dw-existing and --dw-allow-destructive go together with --dw-backend ssh."""
    if backend == "ssh" and not inventory:
        raise UsageError("--dw-backend ssh needs --dw-inventory site.toml")
    if inventory and backend != "ssh":
        raise UsageError("--dw-inventory applies to --dw-backend ssh only")
    if backend == "ssh" and not existing:
        raise UsageError("--dw-backend ssh accepts an existing deployment: add --dw-existing (building a "
                         "group on someone's hosts is not offered)")
    if existing and backend != "ssh":
        raise UsageError("--dw-existing needs --dw-backend ssh and --dw-inventory site.toml")
    if allow_destructive and not existing:
        raise UsageError("--dw-allow-destructive applies to --dw-existing only (built groups are always "
                         "the harness's own to break)")
    return load_inventory(inventory) if inventory else None


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _integer(name: str, raw: Any, minimum: int) -> int:
    try:
        value = int(str(raw).replace("_", "").replace(",", ""))
    except ValueError:
        raise UsageError(f"{name} must be an integer; got {raw!r}") from None
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}; got {value}")
    return value
