"""Unique-ids workload: values drawn from a SEQUENCE (`NEXTVAL`) and from an IDENTITY column.

No value may be handed out twice, none may go backwards on one primary lineage. The IDENTITY value is
read back by a tag unique to the operation (client process and op number), which needs no dialect
function.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from harness.workloads.client import Tx


@dataclass
class UniqueIds:
    """Model of the unique-ids workload: sequence `table`_SQ and identity table `table`."""

    table: str
    _tags: Any = field(default_factory=lambda: itertools.count(1), repr=False, compare=False)

    kind = "unique-ids"

    def __getstate__(self) -> dict[str, Any]:
        return {"table": self.table}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.table, self._tags = state["table"], itertools.count(1)

    def params(self) -> dict[str, Any]:
        return {}

    def setup(self, tx: Tx) -> None:
        tx.execute(f"CREATE SEQUENCE {self.table}_SQ START WITH 1 INCREMENT BY 1")
        tx.execute(f"CREATE TABLE {self.table} (ID BIGINT IDENTITY(1, 1), TAG VARCHAR(64))")
        tx.commit()

    def generate(self, rng: random.Random, spec: Any) -> tuple[str, Any]:
        if rng.random() < 0.5:
            return "nextval", None
        return "identity", f"{spec.process}-{next(self._tags)}"

    @staticmethod
    def readonly(f: str, value: Any) -> bool:
        return False

    def apply(self, tx: Tx, f: str, value: Any) -> Any:
        if f == "nextval":
            v = int(tx.query(f"SELECT {self.table}_SQ.NEXTVAL FROM DUAL")[0][0])
            tx.commit()
            return v
        tx.execute(f"INSERT INTO {self.table} (TAG) VALUES (?)", (value,))
        v = int(tx.query(f"SELECT ID FROM {self.table} WHERE TAG = ?", (value,))[0][0])
        tx.commit()
        return v

    def final_ops(self) -> list[tuple[str, Any]]:
        return []
