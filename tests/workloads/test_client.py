"""The workload client's recording: ok / fail / info by where an operation stopped (no DM8)."""

from __future__ import annotations

import random
import threading

import fakedb
import pytest

from harness.workload import StatementTimeout
from harness.workloads import Bank, ListAppend, Register, UniqueIds
from harness.workloads.client import Client, ClientSpec, Refused, outcome


def _client(model, fail=None, reader=False, timeout=2.0):
    events: list[tuple] = []
    spec = ClientSpec("p1", model, 7, {"fail": fail}, reader=reader, timeout=timeout, connector="fakedb:connect")
    c = Client(spec, events.append, threading.Event())
    c._connect()
    return c, events


def _outcomes(events):
    return [e[1] for e in events]


@pytest.mark.parametrize(("exc", "committing", "readonly", "want"), [
    (Refused("no"), False, False, "fail"),
    (fakedb.DmError(-2018, "standby"), True, False, "fail"),
    (fakedb.DmError(-6602, "dup"), False, False, "fail"),
    (fakedb.DmError(-70019, "lost"), True, False, "info"),
    (fakedb.DmError(-70019, "lost"), True, True, "fail"),
    (StatementTimeout("slow"), False, False, "info"),
    (StatementTimeout("slow"), False, True, "fail"),
])
def test_outcome_rules(exc, committing, readonly, want) -> None:
    assert outcome(exc, committing, readonly) == want


def test_bank_transfer_ok_carries_the_commit_sequence_and_node() -> None:
    c, events = _client(Bank("B", 2, 100))
    c.rng = random.Random(1)
    while not any(e[1] == "ok" and e[2] == "transfer" for e in events):
        c.step()
    ok = next(e for e in events if e[1] == "ok" and e[2] == "transfer")
    assert set(ok[3]) == {"from", "to", "amount", "seq"} and ok[5] == "FAKE1"
    assert _outcomes(events)[0] == "invoke"


def test_bank_reader_reads_every_balance() -> None:
    c, events = _client(Bank("B", 2, 100), reader=True)
    c.step()
    assert [e[1:4] for e in events] == [("invoke", "read", None), ("ok", "read", {"0": 50, "1": 50})]


def test_failed_commit_is_info_and_drops_the_connection() -> None:
    c, events = _client(Register("R", 2), fail="commit")
    c.rng = random.Random(3)
    while not any(e[2] != "read" and e[1] != "invoke" for e in events):
        c.step() if c.conn is not None else c._connect()
    done = next(e for e in events if e[2] != "read" and e[1] != "invoke")
    assert done[1] in ("info", "fail")
    assert done[1] == "info" or "does not hold" in done[6]


def test_error_before_commit_is_fail() -> None:
    c, events = _client(ListAppend("L", 2), fail="execute")
    c.rng = random.Random(5)
    while not any(e[1] == "fail" for e in events):
        c.step() if c.conn is not None else c._connect()
    fail = next(e for e in events if e[1] == "fail")
    assert any(m[0] == "append" for m in fail[3]) and fail[6].startswith("-6602")


def test_refusal_is_fail() -> None:
    c, events = _client(UniqueIds("U"), fail="refuse")
    c.rng = random.Random(2)  # first op: identity (an INSERT)
    while not any(e[2] == "identity" and e[1] != "invoke" for e in events):
        c.step() if c.conn is not None else c._connect()
    assert next(e for e in events if e[2] == "identity" and e[1] != "invoke")[1] == "fail"


def test_a_hung_write_is_info_and_abandons_the_connection() -> None:
    c, events = _client(UniqueIds("U"), fail="hang", timeout=0.3)
    c.rng = random.Random(2)
    while not any(e[2] == "identity" and e[1] != "invoke" for e in events):
        c.step() if c.conn is not None else c._connect()
    done = next(e for e in events if e[2] == "identity" and e[1] != "invoke")
    assert done[1] == "info" and "no answer within" in done[6]
    assert c.conn is None


def test_cas_that_does_not_match_is_fail_and_rolled_back() -> None:
    c, events = _client(Register("R", 1))
    conn = c.conn
    c.rng = random.Random(0)
    while not any(e[2] == "cas" and e[1] != "invoke" for e in events):
        c.step()
    done = [e for e in events if e[2] == "cas" and e[1] != "invoke"][0]
    invoked = [e for e in events if e[2] == "cas" and e[1] == "invoke"][0]
    assert done[1] == ("ok" if invoked[3][1][0] == 0 else "fail")
    assert done[1] == "ok" or conn.rollbacks >= 1
