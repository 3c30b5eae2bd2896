"""Transactional workloads (bank, list-append, register, unique ids) run by crash-proof client processes
and judged by harness.checkers. Suites get them from the `workloads` fixture:

    with workloads.bank(accounts=8).running() as history:
        monitor.switchover(...)
    verdict = history.check()
    assert verdict.valid, verdict.explain()
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from harness.workloads.bank import Bank
from harness.workloads.listappend import ListAppend
from harness.workloads.register import Register
from harness.workloads.runner import Measure, Run, TxnWorkload
from harness.workloads.uniqueids import UniqueIds

__all__ = ["Bank", "ListAppend", "Register", "Run", "TxnWorkload", "UniqueIds", "Workloads"]
_names = itertools.count(1)


class Workloads:
    """Makes each workload over a fresh table of the group, with the run's seed, SQL and chaos."""

    def __init__(self, sql: Any, topology: Any, run_dir: str | Path | None, seed: int, chaos: Any = None,
                 measure: Measure | None = None) -> None:
        self.sql, self.topology, self.run_dir, self.seed, self.chaos = sql, topology, run_dir, int(seed), chaos
        self.measure = measure
        self.made: list[TxnWorkload] = []

    @property
    def instances(self) -> list[str]:
        """The instances every workload made here reads in its final phase (runbook.leave_group narrows it)."""
        return [h.instance for h in self.topology.db_hosts]

    @instances.setter
    def instances(self, names: list[str]) -> None:
        for wl in self.made:
            wl.instances = list(names)

    def _table(self, stem: str) -> str:
        return f"DMDW_{stem}{self.seed % 100000}_{next(_names)}"

    def _make(self, model: Any, **kw: Any) -> TxnWorkload:
        kw.setdefault("measure", self.measure)
        wl = TxnWorkload(model, self.sql, self.topology, self.run_dir, self.seed, chaos=self.chaos, **kw)
        self.made.append(wl)
        return wl

    def bank(self, accounts: int = 8, total: int | None = None, **kw: Any) -> TxnWorkload:
        """Transfers between `accounts` accounts (total fixed) and reads of every balance, also on the standby."""
        return self._make(Bank(self._table("BANK"), accounts, total or accounts * 100), **kw)

    def list_append(self, keys: int = 6, **kw: Any) -> TxnWorkload:
        """Transactions of appends and reads over `keys` keys at a time, reads also on the standby."""
        return self._make(ListAppend(self._table("LA"), keys), **kw)

    def register(self, keys: int = 4, **kw: Any) -> TxnWorkload:
        """Per-key read / write / compare-and-set."""
        return self._make(Register(self._table("REG"), keys), **kw)

    KINDS = ("bank", "list-append", "register", "unique-ids")

    def make(self, kind: str, **kw: Any) -> TxnWorkload:
        """The workload of `kind` (one of KINDS) at the suites' usual size."""
        sized = {"bank": lambda: self.bank(accounts=8, **kw), "list-append": lambda: self.list_append(keys=6, **kw),
                 "register": lambda: self.register(keys=4, **kw), "unique-ids": lambda: self.unique_ids(**kw)}
        if kind not in sized:
            raise ValueError(f"workload kind {kind!r} is not one of {', '.join(self.KINDS)}")
        return sized[kind]()

    def unique_ids(self, **kw: Any) -> TxnWorkload:
        """Ids from a SEQUENCE and from an IDENTITY column."""
        return self._make(UniqueIds(self._table("UID")), **kw)
