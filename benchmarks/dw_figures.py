"""Data Watch figures on the emulator (local processes, no Docker).

Builds the seed's group (tests/emulator_dw/dwlab.py), then prints:
- the seed's bulk insert (student table, dbms_random rows, `connect by level <= N`) on the primary and the
  time from its commit until the standby's count and checksum equal the primary's (target <= 30 s);
- the redo shipping rate of that transaction's RLOG_PKG (bytes / send time, target >= 50 MB/s);
- switchover duration as the monitor reports it (target <= 5 s);
- takeover duration once the monitor decides (target <= 3 s), after isolating the primary's host.

Usage: python benchmarks/dw_figures.py [rows]      (default 200000; the seed uses 10000000)
"""

from __future__ import annotations

import re
import sys
import time

from _common import STUDENT_DDL, STUDENT_INSERT, use_tests

use_tests("emulator_dw")
from dwlab import Lab, wait_for  # noqa: E402

CHECK = "select count(*), sum(id), sum(math), sum(english), sum(science), sum(length(name)) from student"


def main(argv: list[str]) -> int:
    rows = int(argv[1]) if len(argv) > 1 else 200_000
    lab = Lab()
    try:
        lab.build()
        n1, n2 = lab.n1, lab.n2
        n1.sql(STUDENT_DDL)
        before, before_t, before_n = n1.sql("select send_bytes, total_send_time, send_num from v$arch_send_info")[0]
        t0 = time.monotonic()
        n1.sql(STUDENT_INSERT.format(rows=rows))
        t_commit = time.monotonic()
        want = n1.sql(CHECK)[0]
        wait_for(lambda: n2.sql(CHECK)[0] == want, 600, "standby count and checksum")
        lag = time.monotonic() - t_commit
        sent = n1.sql("select send_bytes, total_send_time, send_num from v$arch_send_info")[0]
        nbytes = sent[0] - before
        send_s = max(sent[1] - before_t, 1) / 1e6
        npkg = sent[2] - before_n
        print(f"bulk insert: {rows} rows, insert+commit {t_commit - t0:.2f}s on the primary")
        print(f"standby equal (count {want[0]}, checksums) {lag:.2f}s after the commit   [target <= 30 s]")
        print(f"redo shipped {nbytes / 1e6:.1f} MB (compressed) in {npkg} RLOG_PKG, {send_s * 1000:.0f} ms of "
              f"send+ack -> {nbytes / 1e6 / send_s:.0f} MB/s   [target >= 50 MB/s]")
        m = lab.monitor()
        m.login()
        out = m.cmd("switchover mema2", ["Y"])
        sw = float(re.search(r"切换实例mema2成功 \(用时([\d.]+)秒\)", out).group(1))
        lab.wait_open("mema2")
        print(f"switchover: {sw:.3f}s as the monitor timed it   [target <= 5 s]")
        lab.isolate(n2)
        m.expect(r"Received message timeout from\(mema2\)", timeout=30)
        t = time.monotonic()
        out = m.cmd("takeover mema1", ["Y"])
        tk = float(re.search(r"实例mema1接管成功 \(用时([\d.]+)秒\)", out).group(1))
        print(f"takeover: {tk:.3f}s once the monitor decided ({time.monotonic() - t:.3f}s for the whole "
              f"command)   [target <= 3 s]")
        return 0
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
