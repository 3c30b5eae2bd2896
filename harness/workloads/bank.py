"""Bank workload: N accounts with a fixed total; transfers move money between two of them in one
transaction, reads fetch every balance in one statement (on the primary and, pinned, on the standby).

Each transfer also bumps a one-row counter in the same transaction and returns it as `seq`: the row lock
orders commits, so `seq` is the transfer's place in the primary's commit order and the bank checker can
hold every read to a prefix of that order (a standby may lag, never show a mix).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harness.workloads.client import Refused, Tx


@dataclass
class Bank:
    """Model of the bank workload over table `table` (and its counter `table`_SEQ)."""

    table: str
    accounts: int = 8
    total: int = 800
    max_amount: int = 5

    pinned_readers = True  # a read-only client on each instance: the standby reads
    kind = "bank"

    @property
    def initial(self) -> dict[str, int]:
        share, extra = divmod(self.total, self.accounts)
        return {str(i): share + (1 if i < extra else 0) for i in range(self.accounts)}

    def params(self) -> dict[str, Any]:
        return {"total": self.total, "accounts": [str(i) for i in range(self.accounts)], "initial": self.initial}

    def setup(self, tx: Tx) -> None:
        tx.execute(f"CREATE TABLE {self.table} (ID INT PRIMARY KEY, BAL BIGINT)")
        tx.execute(f"CREATE TABLE {self.table}_SEQ (ID INT PRIMARY KEY, N BIGINT)")
        for acct, bal in self.initial.items():
            tx.execute(f"INSERT INTO {self.table} (ID, BAL) VALUES (?, ?)", (int(acct), bal))
        tx.execute(f"INSERT INTO {self.table}_SEQ (ID, N) VALUES (1, 0)")
        tx.commit()

    def generate(self, rng: random.Random, spec: Any) -> tuple[str, Any]:
        if spec.reader or rng.random() < 0.25:
            return "read", None
        a, b = rng.sample(range(self.accounts), 2)
        return "transfer", {"from": str(a), "to": str(b), "amount": rng.randint(1, self.max_amount)}

    @staticmethod
    def readonly(f: str, value: Any) -> bool:
        return f == "read"

    def apply(self, tx: Tx, f: str, value: Any) -> Any:
        if f == "read":
            rows = tx.query(f"SELECT ID, BAL FROM {self.table} ORDER BY ID")
            tx.commit()
            return {str(int(i)): int(b) for i, b in rows}
        amount, src, dst = value["amount"], int(value["from"]), int(value["to"])
        if tx.execute(f"UPDATE {self.table} SET BAL = BAL - ? WHERE ID = ? AND BAL >= ?", (amount, src, amount)) != 1:
            tx.rollback()
            raise Refused(f"account {src} holds less than {amount}")
        tx.execute(f"UPDATE {self.table} SET BAL = BAL + ? WHERE ID = ?", (amount, dst))
        tx.execute(f"UPDATE {self.table}_SEQ SET N = N + 1 WHERE ID = 1")
        seq = int(tx.query(f"SELECT N FROM {self.table}_SEQ WHERE ID = 1")[0][0])
        tx.commit()
        return {**value, "seq": seq}

    def final_ops(self) -> list[tuple[str, Any]]:
        return [("read", None)]
