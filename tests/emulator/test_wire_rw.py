"""Read/write separation of the official DPI against dmemu.wire (emulator README, "Read/write separation on
the wire"): the standby named in the primary's login reply, SvrMode at reply @14, TrxStatus at @60."""

from __future__ import annotations

import pytest
from wire_fake import PASSWORD, FakeServer, FakeSession, connect, start_wire


class Served(FakeSession):
    """A FakeSession that records the SQL it ran on its server's `ran` list."""

    ran: list[str]

    def execute(self, sql, params=None):
        self.ran.append(sql)
        return super().execute(sql, params)

    @property
    def in_transaction(self) -> bool:
        return not self.autocommit and any(s.lstrip().upper().startswith("INSERT") for s in self.ran[-1:])


class Node(FakeServer):
    """A FakeServer that may name a standby in its login reply."""

    def __init__(self, path: str, mode: str):
        super().__init__(path, mode=mode, stat="OPEN")
        self.standby: tuple[str, int, int] | None = None
        self.ran: list[str] = []
        self.rw_logins: list[str] = []

    def standby_info(self):
        return self.standby

    def login(self, user, password, client):
        self.rw_logins.append(client["server_option"])
        s = super().login(user, password, client)
        s.__class__ = Served
        s.ran = self.ran
        return s


@pytest.fixture
def pair(tmp_path):
    p, s = Node(str(tmp_path / "p.sqlite"), "PRIMARY"), Node(str(tmp_path / "s.sqlite"), "STANDBY")
    wp, ws = start_wire(p), start_wire(s)
    for node, port in ((p, wp.port), (s, ws.port)):            # the same table on both sides, as replicated
        c = connect("dmPython", port)
        c.cursor().execute("create table T (ID int)")
        c.close()
        node.ran.clear()
    (tmp_path / "dm_svc.conf").write_text(
        f"RW=(127.0.0.1:{wp.port},127.0.0.1:{ws.port})\n[RW]\nLOGIN_MODE=(1)\nRW_SEPARATE=(1)\nRW_PERCENT=(0)\n"
        "SWITCH_TIME=(1)\nSWITCH_INTERVAL=(100)\n")
    yield p, s, ws.port, str(tmp_path)
    wp.close()
    ws.close()


def _user_sql(ran: list[str]) -> list[str]:
    return [x for x in ran if "V$DM_INI" not in x]


def test_reads_go_to_the_standby_named_in_the_login_reply(pair, monkeypatch, tmp_path):
    import dmPython
    p, s, s_port, svc = pair
    p.standby = ("127.0.0.1", s_port, 1)
    trace = tmp_path / "trace.txt"
    monkeypatch.setenv("DMEMU_WIRE_TRACE", str(trace))
    c = dmPython.connect(user="SYSDBA", password=PASSWORD, server="RW", dmsvc_path=svc)
    cur = c.cursor()
    for _ in range(3):
        cur.execute("select count(*) from T")
        assert cur.fetchone() == (0,)
    cur.execute("insert into T values (1)")
    c.close()
    assert _user_sql(s.ran) == ["select count(*) from T"] * 3
    assert _user_sql(p.ran) == ["insert into T values (1)"]
    assert any(f":{s_port} " in line and "rwStandby=1" in line for line in trace.read_text().splitlines())


def test_without_a_standby_in_the_login_reply_everything_stays_on_the_primary(pair):
    import dmPython
    p, s, _, svc = pair
    c = dmPython.connect(user="SYSDBA", password=PASSWORD, server="RW", dmsvc_path=svc)
    cur = c.cursor()
    cur.execute("select 1 from dual")
    c.close()
    assert _user_sql(p.ran) == ["select 1 from dual"]
    assert s.ran == []


def test_an_open_write_transaction_keeps_reads_on_the_primary(pair):
    import dmPython
    p, s, s_port, svc = pair
    p.standby = ("127.0.0.1", s_port, 1)
    c = dmPython.connect(user="SYSDBA", password=PASSWORD, server="RW", dmsvc_path=svc, autoCommit=False)
    cur = c.cursor()
    cur.execute("select count(*) from T")
    assert cur.fetchone() == (0,)
    cur.execute("insert into T values (1)")
    cur.execute("select count(*) from T")
    assert cur.fetchone() == (1,)
    c.close()
    assert _user_sql(s.ran) == ["select count(*) from T"]          # before the write: the standby
    assert _user_sql(p.ran)[-2:] == ["insert into T values (1)", "select count(*) from T"]
