"""Random valid histories: a serial execution split into concurrent operations with consistent timings.

Why: the checkers' property tests and the speed benchmark need histories that are correct by
construction. Operation i takes effect at time i (its linearization point); its invoke is drawn before
and its completion after that point, so any real-time order the checkers infer agrees with the serial
order. Processes are reused only once their previous operation has completed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from harness.history import History, RoleSample


class _Clock:
    """Hands out (process, invoke, complete) around linearization point i."""

    def __init__(self, rng: random.Random, spread: float) -> None:
        self.rng, self.spread = rng, spread
        self.free: list[tuple[float, str]] = []
        self.count = 0

    def span(self, i: int) -> tuple[str, float, float]:
        inv = i - self.rng.uniform(0.01, self.spread)
        comp = i + self.rng.uniform(0.01, self.spread)
        for n, (busy_until, proc) in enumerate(self.free):
            if busy_until < inv:
                self.free[n] = (comp, proc)
                return proc, inv, comp
        self.count += 1
        proc = f"p{self.count}"
        self.free.append((comp, proc))
        return proc, inv, comp


def _emit(n: int, rng: random.Random, spread: float, one: Callable[[int], tuple],
          instances: tuple[str, ...] = ("mema1",)) -> History:
    """Build a History from `one(i) -> (f, asked, result, outcome[, instance])` applied at points 0..n-1."""
    hist = History(seed=rng.randrange(1 << 30))
    clock = _Clock(rng, spread)
    events = []
    for i in range(n):
        proc, inv, comp = clock.span(i)
        f, asked, result, outcome, *node = one(i)
        node = node[0] if node and node[0] else rng.choice(instances)
        events.append((inv, proc, "invoke", f, asked, node))
        if outcome != "open":
            events.append((comp, proc, outcome, f, result, node))
    for t, proc, typ, f, value, node in sorted(events, key=lambda e: e[0]):
        hist.record(proc, typ, f, value, node=node, at=t)
    return hist


def list_append(n: int, seed: int = 0, keys: int = 5, spread: float = 3.0, fail: float = 0.05,
                info: float = 0.05, per_key: int = 32, standby: float = 0.0) -> History:
    """Txns of 1-4 appends / reads over `keys` active keys, each retired for a fresh one after about
    `per_key` appends (so lists stay short, as in Elle's workloads); some txns fail (no effect), some
    end info (applied or not). With `standby` > 0 that share of txns are reads served by "mema2", a
    standby lagging behind (but never going back), and the history's role samples say so."""
    rng = random.Random(seed)
    state: dict[int, list[int]] = {k: [] for k in range(keys)}
    active = list(range(keys))
    counter = [0]
    applied_states: list[dict[int, tuple]] = []
    lag = [0]

    def stale_read() -> tuple:
        lag[0] = rng.randint(lag[0], len(applied_states) - 1)
        snap = applied_states[lag[0]]
        ks = [rng.choice(sorted(snap)) for _ in range(rng.randint(1, 3))]
        return ("txn", [["r", k, None] for k in ks], [["r", k, list(snap[k])] for k in ks], "ok", "mema2")

    def one(i: int) -> tuple:
        if standby:
            applied_states.append({k: tuple(state[k]) for k in active})
            if rng.random() < standby:
                return stale_read()
        outcome = "fail" if rng.random() < fail else ("info" if rng.random() < info else "ok")
        applied = outcome == "ok" or (outcome == "info" and rng.random() < 0.5)
        for slot, k in enumerate(active):
            if len(state[k]) >= per_key and rng.random() < 0.5:
                active[slot] = max(state) + 1
                state[active[slot]] = []
        asked, result = [], []
        scratch = {k: list(state[k]) for k in active}
        for _ in range(rng.randint(1, 4)):
            k = rng.choice(active)
            if rng.random() < 0.5:
                counter[0] += 1
                scratch[k].append(counter[0])
                asked.append(["append", k, counter[0]])
                result.append(["append", k, counter[0]])
            else:
                asked.append(["r", k, None])
                result.append(["r", k, list(scratch[k])])
        if applied:
            state.update(scratch)
        if outcome == "info" and rng.random() < 0.5:
            outcome = "open"
        return "txn", asked, result if outcome == "ok" else asked, outcome, "mema1" if standby else None

    hist = _emit(n, rng, spread, one, ("mema1", "mema2"))
    if standby:
        hist.roles += [RoleSample(-spread - 1, "mema1", "PRIMARY", "OPEN"),
                       RoleSample(-spread - 1, "mema2", "STANDBY", "OPEN")]
    return hist


def register(n: int, seed: int = 0, keys: int = 3, spread: float = 2.0, info: float = 0.02) -> History:
    """read / write / cas on `keys` registers starting at None; a cas whose compare fails is a fail."""
    rng = random.Random(seed)
    state: dict[int, Any] = {k: None for k in range(keys)}

    def one(i: int) -> tuple[str, Any, Any, str]:
        k = rng.randrange(keys)
        r = rng.random()
        if r < 0.4:
            return "read", [k, None], [k, state[k]], "ok"
        if r < 0.7:
            outcome = "info" if rng.random() < info else "ok"
            state[k] = i
            return "write", [k, i], [k, i], outcome
        old = state[k] if rng.random() < 0.7 else -1
        if old == state[k]:
            state[k] = i
            return "cas", [k, [old, i]], [k, [old, i]], "ok"
        return "cas", [k, [old, i]], [k, [old, i]], "fail"

    return _emit(n, rng, spread, one)


def bank(n: int, seed: int = 0, accounts: int = 5, total: int = 1000, spread: float = 2.0) -> History:
    """Transfers between `accounts` accounts (never overdrawn; the ok value carries "seq", the commit
    order) and reads of all balances; every account starts at total // accounts."""
    rng = random.Random(seed)
    bal = {str(a): total // accounts for a in range(accounts)}

    def one(i: int) -> tuple[str, Any, Any, str]:
        if rng.random() < 0.5:
            return "read", None, dict(bal), "ok"
        a, b = rng.sample(sorted(bal), 2)
        amount = rng.randint(0, min(bal[a], 20))
        bal[a] -= amount
        bal[b] += amount
        t = {"from": a, "to": b, "amount": amount}
        return "transfer", t, {**t, "seq": i}, "ok"

    return _emit(n, rng, spread, one, ("mema1", "mema2"))


def unique_ids(n: int, seed: int = 0, spread: float = 2.0) -> History:
    """nextval calls handing out strictly increasing values."""
    rng = random.Random(seed)
    return _emit(n, rng, spread, lambda i: ("nextval", None, i + 1, "ok"))
