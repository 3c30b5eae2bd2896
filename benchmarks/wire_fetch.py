"""Benchmark of dmemu.wire: connect+login latency and fetch throughput with dmPython and dm-pure.

The server (dmemu.wire over the SQLite fake from tests/emulator/wire_fake.py) runs in a child
process, as dmserver would, so client and server do not share one GIL.

    source .venv/dmdw.env && python benchmarks/wire_fetch.py [--rows 300000] [--logins 20]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from _common import drain, use_tests

use_tests("emulator")


def serve(db_path: str, rows: int) -> None:
    """Child process: load a 5-INT-column table, serve it, print the port, run until stdin closes."""
    from dmemu import api
    from wire_fake import FakeServer, start_wire
    fake = FakeServer(db_path)
    con = sqlite3.connect(db_path)
    con.execute('CREATE TABLE BENCH ("A", "B", "C", "D", "E")')
    con.executemany("INSERT INTO BENCH VALUES (?, ?, ?, ?, ?)",
                    ((i, i * 2, i * 3, i % 1000, -i) for i in range(rows)))
    con.commit()
    con.close()
    fake.db.catalog["BENCH"] = {c: api.Column(c, "INT", 10) for c in "ABCDE"}
    ws = start_wire(fake)
    print(ws.port, flush=True)
    sys.stdin.read()
    ws.close()


def connect(driver: str, port: int):
    if driver == "dmPython":
        import dmPython
        return dmPython.connect(user="SYSDBA", password="Dmsys_123", server="127.0.0.1", port=port)
    import dmpy
    return dmpy.connect(host="127.0.0.1", port=port, user="SYSDBA", password="Dmsys_123")


def bench(driver: str, port: int, rows: int, logins: int) -> None:
    times = []
    for _ in range(logins):
        t = time.perf_counter()
        c = connect(driver, port)
        times.append(time.perf_counter() - t)
        c.close()
    print(f"{driver:9s} connect+login: median {statistics.median(times) * 1000:6.1f} ms, "
          f"max {max(times) * 1000:6.1f} ms over {logins}")
    c = connect(driver, port)
    for mode in ("fetchall", "fetchmany"):
        cur = c.cursor()
        cur.arraysize = 5000
        t = time.perf_counter()
        cur.execute("SELECT A, B, C, D, E FROM BENCH")
        n = drain(cur, mode, 5000)
        el = time.perf_counter() - t
        assert n == rows, (n, rows)
        print(f"{driver:9s} {mode:9s}: {n} rows x 5 INT in {el:5.2f} s = {n / el:9,.0f} rows/s")
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--logins", type=int, default=20)
    ap.add_argument("--drivers", default="dmPython,dmpy")
    ap.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.rows)
        return 0
    with tempfile.TemporaryDirectory() as d:
        child = subprocess.Popen([sys.executable, __file__, "--serve", os.path.join(d, "bench.sqlite"),
                                  "--rows", str(a.rows)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            if not line.strip().isdigit():
                print("benchmark server failed to start", file=sys.stderr)
                return 1
            port = int(line)
            for drv in a.drivers.split(","):
                bench(drv, port, a.rows, a.logins)
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
