"""Bank checker: reads of all balances must show whole transfers only.

Ops: f "transfer", value {"from": a, "to": b, "amount": n}; f "read", ok value {account: balance}.
Every ok read (on the primary or a standby) must sum to the configured total and hold no negative
balance; a read off the total by exactly one transfer's amount is reported as a partial transfer (one
row of the transaction visible without the other), naming the candidate transfers. When the commit
order of the transfers is known (each ok transfer's value carries "seq", its place in the primary's
commit order, or no two overlap in time; none indeterminate) and the initial balances are given, every
read must also equal the state after some prefix of that order.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from harness.checkers.model import Anomaly, Operation, Result


def _balances(value: Any) -> dict[str, float]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _transfer(op: Operation) -> tuple[str, str, float]:
    v = op.asked if isinstance(op.asked, dict) else op.value
    return str(v["from"]), str(v["to"]), v["amount"]


def _infer_total(reads: list[dict[str, float]]) -> float | None:
    totals = Counter(sum(b.values()) for b in reads if b)
    return totals.most_common(1)[0][0] if totals else None


def _prefix_states(transfers: list[Operation], initial: dict[str, float]) -> dict[frozenset, float]:
    """Each state reached by a prefix of the transfers in commit order, with the earliest time it can have
    been reached (the latest invoke among the prefix)."""
    state = dict(initial)
    out = {frozenset(state.items()): -math.inf}
    reached = -math.inf
    for t in sorted(transfers, key=_commit_key):
        a, b, n = _transfer(t)
        state[a] = state.get(a, 0) - n
        state[b] = state.get(b, 0) + n
        reached = max(reached, t.invoke)
        out.setdefault(frozenset(state.items()), reached)
    return out


def _commit_key(t: Operation) -> tuple:
    v = t.value if isinstance(t.value, dict) else {}
    return (v.get("seq", 0), t.complete)


def _ordered(committed: list[Operation], maybe: list[Operation]) -> bool:
    """Whether the commit order is known: every ok transfer carries its "seq" (its place in the primary's
    commit order), or the transfers never overlap in time; and no transfer is indeterminate."""
    if len(maybe) != len(committed):
        return False
    if all(isinstance(t.value, dict) and "seq" in t.value for t in committed):
        return True
    ordered = sorted(committed, key=lambda o: o.invoke)
    return all(x.complete < y.invoke for x, y in zip(ordered, ordered[1:], strict=False))


def check(ops: list[Operation], total: float | None = None, accounts: list[Any] | None = None,
          initial: dict[Any, float] | None = None) -> Result:
    """Judge a bank history (see the module docstring); `total` defaults to the most common read sum."""
    res = Result("bank")
    reads = [op for op in ops if op.f == "read" and op.ok]
    transfers = [op for op in ops if op.f == "transfer"]
    committed = [t for t in transfers if t.ok]
    maybe = [t for t in transfers if t.type != "fail"]
    balances = [_balances(r.value) for r in reads]
    if total is None:
        total = _infer_total(balances)
    names = {str(a) for a in accounts} if accounts else None
    per_inst: Counter[str] = Counter()
    bad_inst: Counter[str] = Counter()
    prefixes = None
    if initial is not None and _ordered(committed, maybe):
        prefixes = _prefix_states(committed, {str(k): v for k, v in initial.items()})
    for r, bal in zip(reads, balances, strict=True):
        inst = r.instance or "?"
        per_inst[inst] += 1
        found = _judge_read(res, r, bal, total, names, maybe, prefixes)
        if found:
            bad_inst[inst] += 1
    res.stats = {"reads": len(reads), "transfers_ok": len(committed), "total": total}
    res.stats.update({f"reads@{i}": f"{per_inst[i]} ({bad_inst[i]} bad)" for i in sorted(per_inst)})
    return res


def _judge_read(res: Result, r: Operation, bal: dict[str, float], total: float | None,
                names: set[str] | None, maybe: list[Operation],
                prefixes: dict[frozenset, float] | None) -> bool:
    where = f"read on {r.instance or '?'} at {r.invoke:.3f}"
    before = len(res.anomalies)
    if names is not None and set(bal) != names:
        res.add(Anomaly("missing-account", f"{where} holds accounts {sorted(bal)}, expected {sorted(names)}",
                        [r]))
    neg = {k: v for k, v in bal.items() if v < 0}
    if neg:
        res.add(Anomaly("negative-balance", f"{where} shows negative balances {neg}", [r], {"balances": bal}))
    s = sum(bal.values())
    if total is not None and s != total:
        diff = s - total
        cands = [t for t in maybe if _transfer(t)[2] == abs(diff)]
        cands.sort(key=lambda t: abs(t.invoke - r.invoke))
        if cands:
            half = "credit without its debit" if diff > 0 else "debit without its credit"
            res.add(Anomaly("partial-transfer", f"{where} sums to {s}, not {total}: a {half} of "
                            f"{abs(diff)}, as in {len(cands)} transfer(s)", [r] + cands[:3],
                            {"sum": s, "total": total, "balances": bal}))
        else:
            res.add(Anomaly("wrong-total", f"{where} sums to {s}, not {total}", [r],
                            {"sum": s, "total": total, "balances": bal}))
    elif prefixes is not None and prefixes.get(frozenset(bal.items()), math.inf) >= r.complete:
        res.add(Anomaly("non-prefix-read", f"{where} matches no state reached by a prefix of the committed "
                        "transfers in commit order", [r], {"balances": bal}))
    return len(res.anomalies) > before
