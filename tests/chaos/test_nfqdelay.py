"""harness/hostside/nfqdelay.py offline: nfnetlink message encoding and decoding against the kernel UAPI layout,
the delayer's hold/release order, and IptablesNet's NFQUEUE latency path with fake helpers."""

from __future__ import annotations

import socket
import struct

import pytest

from harness.chaos import IptablesNet, resolve_flows, select_streams
from harness.errors import HarnessError
from harness.hostside import nfqdelay as nfq
from harness.topology import Topology

QUEUE_TYPE = 3 << 8  # NFNL_SUBSYS_QUEUE in the high byte of nlmsg_type


def header(msg: bytes) -> tuple[int, int, int, int, int]:
    return struct.unpack_from("=IHHII", msg)


def test_config_bind_message_layout() -> None:
    msg = nfq.config_cmd(7, nfq.NFQNL_CFG_CMD_BIND, socket.AF_INET, seq=5)
    size, kind, flags, seq, pid = header(msg)
    assert (size, len(msg)) == (28, 28)  # nlmsghdr 16 + nfgenmsg 4 + attr (4 + 4)
    assert kind == QUEUE_TYPE | 2 and flags == 0x01 | 0x04 and seq == 5 and pid == 0
    assert msg[16:20] == bytes([socket.AF_UNSPEC, 0, 0, 7])  # family, version 0, res_id = queue, big-endian
    assert struct.unpack_from("=HH", msg, 20) == (8, 1)  # nla_len 8, NFQA_CFG_CMD
    assert msg[24:] == bytes([1, 0, 0, socket.AF_INET])  # command BIND, pad, pf big-endian


def test_config_params_padding_and_flags() -> None:
    msg = nfq.config_params(300, seq=9, maxlen=1024, flags=nfq.NFQA_CFG_F_FAIL_OPEN | nfq.NFQA_CFG_F_GSO)
    assert header(msg)[0] == len(msg) and len(msg) % 4 == 0
    assert msg[18:20] == struct.pack("!H", 300)
    attrs = msg[20:]
    nla_len, nla_type = struct.unpack_from("=HH", attrs)
    assert (nla_len, nla_type) == (9, 2)  # NFQA_CFG_PARAMS: 4 + packed (be32 range, u8 mode)
    assert attrs[4:9] == b"\0\0\0\0\x01" and attrs[9:12] == b"\0\0\0"  # copy META, padded to 12
    assert nfq.attributes(attrs) == {2: attrs[4:9], 3: struct.pack("!I", 1024),
                                     4: struct.pack("!I", 5), 5: struct.pack("!I", 5)}


def test_verdict_message() -> None:
    msg = nfq.verdict(7, 0xDEADBEEF, seq=1)
    size, kind, flags, _, _ = header(msg)
    assert size == len(msg) == 32 and kind == QUEUE_TYPE | 1 and flags == 0x01
    assert struct.unpack_from("=HH", msg, 20) == (12, 2)  # NFQA_VERDICT_HDR
    assert msg[24:] == struct.pack("!II", 1, 0xDEADBEEF)  # NF_ACCEPT, id: both big-endian


def test_align_and_attr() -> None:
    assert [nfq.align(n) for n in (0, 1, 4, 5, 8)] == [0, 4, 4, 8, 8]
    assert nfq.attr(9, b"abc") == struct.pack("=HH", 7, 9) + b"abc\0"


def packet_message(pid: int, seq: int = 0) -> bytes:
    """An NFQNL_MSG_PACKET as the kernel sends it with copy mode META (no payload attribute)."""
    attrs = (nfq.attr(nfq.NFQA_PACKET_HDR, struct.pack("!IHB", pid, 0x0800, 3))  # 7 bytes, padded to 8
             + nfq.attr(3, struct.pack("!I", 0))                                   # NFQA_MARK
             + nfq.attr(6, struct.pack("!I", 2)))                                  # NFQA_IFINDEX_OUTDEV
    body = struct.pack("!BBH", socket.AF_INET, 0, 7) + attrs
    return struct.pack("=IHHII", 16 + len(body), QUEUE_TYPE, 0, seq, 0) + body


def test_parse_packet_messages_in_one_datagram() -> None:
    data = packet_message(41) + packet_message(42, seq=1)
    parsed = list(nfq.messages(data))
    assert [(k, s) for k, _, s, _ in parsed] == [(QUEUE_TYPE, 0), (QUEUE_TYPE, 1)]
    assert [nfq.packet_id(p) for *_, p in parsed] == [41, 42]
    assert nfq.attributes(parsed[0][3][4:])[nfq.NFQA_PACKET_HDR] == struct.pack("!IHB", 41, 0x0800, 3)
    with pytest.raises(ValueError, match="truncated"):
        list(nfq.messages(data[:-3]))
    with pytest.raises(ValueError, match="NFQA_PACKET_HDR"):
        nfq.packet_id(struct.pack("!BBH", 2, 0, 7) + nfq.attr(3, b"\0\0\0\0"))


def test_ack_and_error() -> None:
    assert nfq.nl_error(struct.pack("=i", 0) + b"\0" * 16) == 0
    assert nfq.nl_error(struct.pack("=i", -1) + b"\0" * 16) == 1  # EPERM: queue bound by another process


class Recorder:
    """Stands in for the netlink socket: keeps what the delayer sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: tuple[int, int]) -> None:
        self.sent.append(data)


def test_delayer_holds_then_releases_out_of_order() -> None:
    d = nfq.Delayer.__new__(nfq.Delayer)
    d.queue, d.jitter, d.held, d.seq = 7, 0.0, [], 0
    d.sock = Recorder()  # type: ignore[assignment]
    for pid, delay in ((1, 1.0), (2, 0.2)):  # as jitter may do: packet 2 due before packet 1
        d.delay = delay
        d._take(QUEUE_TYPE, next(nfq.messages(packet_message(pid)))[3])
    d._take(nfq.NLMSG_ERROR, b"\0" * 20)  # not a packet: ignored
    assert len(d.held) == 2
    due2 = min(t for t, _ in d.held)
    d._release(due2 - 0.01)
    assert d.sock.sent == []
    d._release(due2)
    d._release(float("inf"))
    ids = [nfq.attributes(p[4:])[nfq.NFQA_VERDICT_HDR] for msg in d.sock.sent for _, _, _, p in nfq.messages(msg)]
    assert ids == [struct.pack("!II", 1, 2), struct.pack("!II", 1, 1)]
    assert not d.held


class FakeHelper:
    """A helper on a kernel without netem: answers the probe, the delayer start and its readiness."""

    def __init__(self, ready: bool = True) -> None:
        self.cmds: list[str] = []
        self.ready = ready

    def sh(self, cmd: str, check: bool = True) -> str:
        self.cmds.append(cmd)
        if "netem delay 1ms" in cmd:
            return "Error: Specified qdisc kind is unknown.\n"
        if "& echo $!" in cmd:
            return "4242\n"
        if "^ready" in cmd:
            return "ready queue=1\n" if self.ready else "nfqdelay: [Errno 1] nfqueue bind (queue 1): Operation not permitted\n"
        return ""

    def close(self) -> None:
        pass


@pytest.fixture
def topo() -> Topology:
    t = Topology()
    t.hosts["host1"].internal_ip = "10.0.0.1"
    t.hosts["host2"].internal_ip = "10.0.0.2"
    return t


def test_latency_without_netem_uses_nfqueue(topo: Topology) -> None:
    helpers = {h: FakeHelper() for h in topo.hosts}
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    sel = select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), "host1->host2")
    heal = net.latency(sel, 200, 20)
    h1, h2 = helpers["host1"].cmds, helpers["host2"].cmds
    added = [c for c in h1 if c.startswith("iptables -t mangle -A DMDW_DELAY")]
    assert len(added) == 2 and not any("mangle" in c or "& echo $!" in c for c in h2)  # all on host1's egress
    queue = added[0].split("--queue-num ")[1].split()[0]
    assert f"-p tcp -d 10.0.0.2 --dport {topo.hosts['host2'].mal_port} " in added[0]  # host1 dialling host2
    assert f"-p tcp -d 10.0.0.2 --sport {topo.hosts['host1'].mal_port} " in added[1]  # host1 answering host2
    assert all(f"--queue-num {queue} --queue-bypass" in c for c in added)
    assert any(f"--queue {queue} --delay-ms 200 --jitter-ms 20" in c for c in h1)
    assert any("base64 -d > /tmp/dmdw-nfqdelay.py" in c for c in h1)
    assert not any("tc qdisc add dev eth0" in c for c in h1)
    heal()
    deleted = [c for c in h1 if c.startswith("iptables -t mangle -D DMDW_DELAY")]
    assert sorted(d.replace(" -D ", " -A ") for d in deleted) == sorted(added)
    assert h1.index(next(c for c in h1 if "-D DMDW_DELAY" in c)) < h1.index(next(c for c in h1 if "kill -TERM 4242" in c))
    net.latency(sel, 100, 0)
    assert sum("netem delay 1ms" in c for c in h1) == 1  # the probe runs once per host
    net.close()
    assert any(c == "iptables -t mangle -F DMDW_DELAY" for c in h1)
    assert sum("kill -TERM 4242" in c for c in h1) == 2


def test_delayer_that_cannot_bind_fails_clearly(topo: Topology) -> None:
    helpers = {h: FakeHelper(ready=False) for h in topo.hosts}
    net = IptablesNet(helpers, topo)  # type: ignore[arg-type]
    sel = select_streams(resolve_flows(topo, "MAL", ("host1", "host2")), "host1->host2")
    with pytest.raises(HarnessError, match="no tc netem.*Operation not permitted.*proxy=True"):
        net.latency(sel, 200, 0)
    assert not any("iptables -t mangle -A" in c for h in helpers.values() for c in h.cmds)
