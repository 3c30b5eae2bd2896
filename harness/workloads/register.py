"""Register workload: per-key read, write and compare-and-set over a few integer registers.

A compare-and-set is `UPDATE ... WHERE K = ? AND V = ?`; its rowcount decides: 1 = set, 0 = the compare
failed (a definite fail, rolled back). Every key starts at 0 (the checker's initial value).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harness.workloads.client import Refused, Tx


@dataclass
class Register:
    """Model of the register workload over table `table`."""

    table: str
    keys: int = 4
    values: int = 5

    kind = "register"

    def params(self) -> dict[str, Any]:
        return {"initial": 0, "keys": self.keys}

    def setup(self, tx: Tx) -> None:
        tx.execute(f"CREATE TABLE {self.table} (K INT PRIMARY KEY, V INT)")
        for k in range(self.keys):
            tx.execute(f"INSERT INTO {self.table} (K, V) VALUES (?, 0)", (k,))
        tx.commit()

    def generate(self, rng: random.Random, spec: Any) -> tuple[str, Any]:
        k = rng.randrange(self.keys)
        r = rng.random()
        if spec.reader or r < 0.4:
            return "read", [k, None]
        if r < 0.7:
            return "write", [k, rng.randrange(self.values)]
        return "cas", [k, [rng.randrange(self.values), rng.randrange(self.values)]]

    @staticmethod
    def readonly(f: str, value: Any) -> bool:
        return f == "read"

    def apply(self, tx: Tx, f: str, value: Any) -> Any:
        k, arg = value
        if f == "read":
            rows = tx.query(f"SELECT V FROM {self.table} WHERE K = ?", (k,))
            tx.commit()
            return [k, int(rows[0][0]) if rows and rows[0][0] is not None else None]
        if f == "write":
            tx.execute(f"UPDATE {self.table} SET V = ? WHERE K = ?", (arg, k))
        elif tx.execute(f"UPDATE {self.table} SET V = ? WHERE K = ? AND V = ?", (arg[1], k, arg[0])) != 1:
            tx.rollback()
            raise Refused(f"register {k} does not hold {arg[0]}")
        tx.commit()
        return value

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("read", [k, None]) for k in range(self.keys)]
