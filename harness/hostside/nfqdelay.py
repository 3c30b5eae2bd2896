"""Delay the packets of one NFQUEUE by N ms (± jitter), for latency faults on kernels without tc netem.

Run inside the network namespace whose iptables rules send packets to the queue
(`-j NFQUEUE --queue-num N --queue-bypass`), with CAP_NET_ADMIN:

    python3 nfqdelay.py --queue N --delay-ms 200 [--jitter-ms J]

It speaks nfnetlink directly (AF_NETLINK, NETLINK_NETFILTER; numbers from the kernel UAPI headers
linux/netfilter/nfnetlink.h and nfnetlink_queue.h), asks only for packet metadata, holds each packet id
until its due time and then issues an NF_ACCEPT verdict; verdicts may go out of order. Prints "ready ..."
once bound and "stopped ..." after SIGTERM/SIGINT, when everything still held has been accepted.
Standard library only: it is copied into hosts that have python3 and nothing else.
"""

from __future__ import annotations

import argparse
import errno
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator

NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x01
NLM_F_ACK = 0x04
NFNL_SUBSYS_QUEUE = 3
NFNETLINK_V0 = 0
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1 << 0
NFQA_CFG_F_GSO = 1 << 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_CFG_CMD_PF_BIND = 3
NFQNL_CFG_CMD_PF_UNBIND = 4
NFQNL_COPY_META = 1
NF_ACCEPT = 1
SO_RCVBUFFORCE = 33

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid: host byte order
NLATTR = struct.Struct("=HH")       # nla_len, nla_type: host byte order; payloads are big-endian
ALIGN = 4


def align(n: int) -> int:
    """NLMSG_ALIGN / NLA_ALIGN: round up to 4 bytes."""
    return (n + ALIGN - 1) & ~(ALIGN - 1)


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute: nla_len counts header and payload, padding to 4 bytes follows."""
    size = NLATTR.size + len(payload)
    return NLATTR.pack(size, kind) + payload + b"\0" * (align(size) - size)


def message(nfq_type: int, queue: int, attrs: bytes, *, seq: int, flags: int = NLM_F_REQUEST,
            family: int = socket.AF_UNSPEC) -> bytes:
    """An nfnetlink queue message: nlmsghdr, nfgenmsg (family, version, queue as big-endian res_id), attrs."""
    body = struct.pack("!BBH", family, NFNETLINK_V0, queue) + attrs
    size = NLMSGHDR.size + len(body)
    return NLMSGHDR.pack(size, (NFNL_SUBSYS_QUEUE << 8) | nfq_type, flags, seq, 0) + body


def config_cmd(queue: int, command: int, pf: int, *, seq: int) -> bytes:
    """NFQNL_MSG_CONFIG carrying NFQA_CFG_CMD (command, pad, pf), acknowledged by the kernel."""
    return message(NFQNL_MSG_CONFIG, queue, attr(NFQA_CFG_CMD, struct.pack("!BxH", command, pf)),
                   seq=seq, flags=NLM_F_REQUEST | NLM_F_ACK)


def config_params(queue: int, *, seq: int, maxlen: int, flags: int) -> bytes:
    """NFQNL_MSG_CONFIG: copy metadata only (no payload), the queue length and flags (with their mask)."""
    attrs = (attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
             + attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen))
             + attr(NFQA_CFG_MASK, struct.pack("!I", flags))
             + attr(NFQA_CFG_FLAGS, struct.pack("!I", flags)))
    return message(NFQNL_MSG_CONFIG, queue, attrs, seq=seq, flags=NLM_F_REQUEST | NLM_F_ACK)


def verdict(queue: int, packet_id: int, *, seq: int, decision: int = NF_ACCEPT) -> bytes:
    """NFQNL_MSG_VERDICT for one packet id (no ack requested: the kernel only answers errors)."""
    return message(NFQNL_MSG_VERDICT, queue, attr(NFQA_VERDICT_HDR, struct.pack("!II", decision, packet_id)),
                   seq=seq)


def messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload after nlmsghdr) for each netlink message in one datagram."""
    pos = 0
    while pos + NLMSGHDR.size <= len(data):
        size, kind, flags, seq, _pid = NLMSGHDR.unpack_from(data, pos)
        if size < NLMSGHDR.size or pos + size > len(data):
            raise ValueError(f"truncated netlink message at {pos}: length {size}, {len(data) - pos} left")
        yield kind, flags, seq, data[pos + NLMSGHDR.size:pos + size]
        pos += align(size)


def attributes(data: bytes) -> dict[int, bytes]:
    """Attribute payloads by type (nested/byte-order flag bits masked off)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos + NLATTR.size <= len(data):
        size, kind = NLATTR.unpack_from(data, pos)
        if size < NLATTR.size:
            break
        out[kind & 0x3FFF] = data[pos + NLATTR.size:pos + size]
        pos += align(size)
    return out


def packet_id(payload: bytes) -> int:
    """The packet id of an NFQNL_MSG_PACKET payload (nfgenmsg, then attributes; NFQA_PACKET_HDR first field)."""
    hdr = attributes(payload[4:]).get(NFQA_PACKET_HDR)
    if hdr is None or len(hdr) < 4:
        raise ValueError("packet message without NFQA_PACKET_HDR")
    return struct.unpack_from("!I", hdr)[0]


def nl_error(payload: bytes) -> int:
    """The (positive) errno of an NLMSG_ERROR payload; 0 is an acknowledgement."""
    return -struct.unpack_from("=i", payload)[0]


class Delayer:
    """Holds the packets of one queue for delay_ms ± jitter_ms, then accepts them."""

    def __init__(self, queue: int, delay_ms: float, jitter_ms: float = 0.0, maxlen: int = 16384) -> None:
        self.queue = queue
        self.delay = delay_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.maxlen = maxlen
        self.held: list[tuple[float, int]] = []
        self.seq = 0
        self.rcvbuf = 1 << 22
        self.stopping = False
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self._grow(self.rcvbuf)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _grow(self, size: int) -> None:
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        self.rcvbuf = size

    def _request(self, msg: bytes, what: str) -> None:
        """Send a config message and wait for its ack; packets arriving meanwhile are held as usual."""
        seq = NLMSGHDR.unpack_from(msg)[3]
        self.sock.sendto(msg, (0, 0))
        while True:
            for kind, _flags, got, payload in messages(self.sock.recv(1 << 16)):
                if kind == NLMSG_ERROR and got == seq:
                    err = nl_error(payload)
                    if err:
                        raise OSError(err, f"nfqueue {what} (queue {self.queue}): {os.strerror(err)}")
                    return
                self._take(kind, payload)

    def bind(self) -> None:
        """Bind the queue for IPv4 and ask for metadata only; fail-open so a full queue passes traffic."""
        for cmd in (NFQNL_CFG_CMD_PF_UNBIND, NFQNL_CFG_CMD_PF_BIND):  # no-ops on current kernels, customary
            self._request(config_cmd(0, cmd, socket.AF_INET, seq=self._next_seq()), "pf bind")
        self._request(config_cmd(self.queue, NFQNL_CFG_CMD_BIND, socket.AF_INET, seq=self._next_seq()), "bind")
        self._request(config_params(self.queue, seq=self._next_seq(), maxlen=self.maxlen,
                                    flags=NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO), "params")

    def _take(self, kind: int, payload: bytes) -> None:
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            delay = self.delay + (random.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
            heapq.heappush(self.held, (time.monotonic() + max(0.0, delay), packet_id(payload)))

    def _receive(self) -> None:
        """Read every datagram waiting on the socket; on ENOBUFS (lost messages) enlarge the buffer."""
        while True:
            try:
                data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                self._grow(min(self.rcvbuf * 2, 1 << 27))
                continue
            for kind, _flags, _seq, payload in messages(data):
                self._take(kind, payload)

    def _release(self, until: float) -> None:
        """Accept every held packet due by `until`, batching verdicts into few datagrams."""
        batch = bytearray()
        while self.held and self.held[0][0] <= until:
            batch += verdict(self.queue, heapq.heappop(self.held)[1], seq=self._next_seq())
            if len(batch) > 60000:
                self.sock.sendto(bytes(batch), (0, 0))
                batch.clear()
        if batch:
            self.sock.sendto(bytes(batch), (0, 0))

    def run(self) -> None:
        """Hold and release packets until SIGTERM/SIGINT, then accept what is left and unbind."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        try:
            while not self.stopping:
                timeout = max(0.0, self.held[0][0] - time.monotonic()) if self.held else None
                ready, _, _ = select.select([self.sock, wake_r], [], [], timeout)
                if self.sock in ready:
                    self._receive()
                self._release(time.monotonic())
        finally:
            self._release(float("inf"))
            self.sock.sendto(config_cmd(self.queue, NFQNL_CFG_CMD_UNBIND, socket.AF_INET, seq=self._next_seq()),
                             (0, 0))
            signal.set_wakeup_fd(-1)
            wake_r.close()
            wake_w.close()
            self.sock.close()

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True


def main(argv: list[str] | None = None) -> int:
    """Command line: bind the queue, say "ready", delay until signalled, say "stopped"."""
    ap = argparse.ArgumentParser(description="Delay the packets of an NFQUEUE by N ms (no tc netem needed).")
    ap.add_argument("--queue", type=int, required=True, help="NFQUEUE number (iptables --queue-num)")
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="uniform in ±J ms (reorders, as netem does)")
    ap.add_argument("--maxlen", type=int, default=16384, help="packets the kernel may hold for this queue")
    args = ap.parse_args(argv)
    delayer = Delayer(args.queue, args.delay_ms, args.jitter_ms, args.maxlen)
    try:
        delayer.bind()
    except OSError as e:
        print(f"nfqdelay: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"ready queue={args.queue} delay={args.delay_ms}ms jitter={args.jitter_ms}ms", flush=True)
    delayer.run()
    print(f"stopped queue={args.queue}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
