"""List-append workload: transactions of 1-4 micro-ops over a small, slowly moving key window.

An append is `UPDATE ... SET V = V || ',x' WHERE K = ?`, or an INSERT when the key has no row yet (two
clients inserting the same key at once: one fails on the primary key, the txn is rolled back, a definite
fail). A read is `SELECT V FROM ... WHERE K = ?`, parsed back into the list. Append values are unique per
client (client number * 10^6 + counter). The key window moves on every `rotate` seconds so lists stay
short (Elle's advice: many short lists find more than a few long ones).
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

from harness.workloads.client import Tx


@dataclass
class ListAppend:
    """Model of the list-append workload over table `table`."""

    table: str
    keys: int = 6
    rotate: float = 10.0
    start: float = field(default_factory=time.monotonic)
    _values: Any = field(default_factory=lambda: itertools.count(1), repr=False, compare=False)

    # DM8's default isolation is READ COMMITTED (the emulator's too): read skew and write skew between
    # multi-key txns are allowed there, so these cycle classes are counted, not judged
    allowed = ("G-single", "G2", "G-single-realtime", "G2-realtime")
    pinned_readers = True  # a read-only client on each instance: the standby reads
    kind = "list-append"

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("table", "keys", "rotate", "start")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._values = itertools.count(1)

    def params(self) -> dict[str, Any]:
        return {"keys": self.keys, "rotate": self.rotate}

    def setup(self, tx: Tx) -> None:
        tx.execute(f"CREATE TABLE {self.table} (K INT PRIMARY KEY, V VARCHAR(4000))")
        tx.commit()

    def window(self, now: float | None = None) -> range:
        """The keys in use at `now`: `keys` of them, moving on by half every `rotate` seconds."""
        epoch = int(((time.monotonic() if now is None else now) - self.start) // self.rotate)
        base = epoch * max(1, self.keys // 2)
        return range(base, base + self.keys)

    def generate(self, rng: random.Random, spec: Any) -> tuple[str, Any]:
        keys = self.window()
        tag = int(spec.extra.get("number", 0)) * 1_000_000
        mops = []
        for _ in range(rng.randint(1, 4)):
            k = rng.choice(keys)
            if spec.reader or rng.random() < 0.5:
                mops.append(["r", k, None])
            else:
                mops.append(["append", k, tag + next(self._values)])
        return "txn", mops

    @staticmethod
    def readonly(f: str, value: Any) -> bool:
        return all(m[0] == "r" for m in value)

    def _read(self, tx: Tx, k: int) -> list[int]:
        rows = tx.query(f"SELECT V FROM {self.table} WHERE K = ?", (k,))
        text = rows[0][0] if rows else None
        return [int(x) for x in str(text).split(",") if x] if text else []

    def apply(self, tx: Tx, f: str, value: Any) -> Any:
        out = []
        for op, k, v in value:
            if op == "r":
                out.append(["r", k, self._read(tx, k)])
                continue
            if tx.execute(f"UPDATE {self.table} SET V = V || ? WHERE K = ?", (f",{v}", k)) == 0:
                tx.execute(f"INSERT INTO {self.table} (K, V) VALUES (?, ?)", (k, str(v)))
            out.append([op, k, v])
        tx.commit()
        return out

    def final_ops(self) -> list[tuple[str, Any]]:
        top = self.window().stop
        return [("txn", [["r", k, None] for k in range(top)])]
