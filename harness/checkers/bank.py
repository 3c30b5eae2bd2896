"""Bank checker: reads of all balances must show whole transfers only.

Ops: f "transfer", value {"from": a, "to": b, "amount": n}; f "read", ok value {account: balance}.
Every ok read (on the primary or a standby) must sum to the configured total and hold no negative
balance; a read off the total by exactly one transfer's amount is reported as a partial transfer (one
row of the transaction visible without the other), naming the candidate transfers. When the committed
transfers are known in order (no two overlap in time, none indeterminate) and the initial balances are
given, every read must also equal one prefix state of that order.
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


def _prefix_states(transfers: list[Operation], initial: dict[str, float]) -> list[tuple[float, dict]]:
    """(time the state was reached, balances) after each transfer in completion order."""
    state = dict(initial)
    out = [(-math.inf, dict(state))]
    for t in sorted(transfers, key=lambda o: o.complete):
        a, b, n = _transfer(t)
        state[a] = state.get(a, 0) - n
        state[b] = state.get(b, 0) + n
        out.append((t.complete, dict(state)))
    return out


def _serial(transfers: list[Operation]) -> bool:
    ordered = sorted(transfers, key=lambda o: o.invoke)
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
    if initial is not None and _serial(committed) and len(maybe) == len(committed):
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
                prefixes: list[tuple[float, dict]] | None) -> bool:
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
    elif prefixes is not None and not any(state == bal for t, state in prefixes if t < r.complete):
        res.add(Anomaly("non-prefix-read", f"{where} matches no state reached by the committed transfers "
                        "in their (serial) order", [r], {"balances": bal}))
    return len(res.anomalies) > before
