"""Acked writes per second through the emulator's Data Watch group (issue target: >= 500/s).

Builds the seed's group on local processes (tests/emulator_dw/dwlab.py: primary + REALTIME standby +
two dmwatchers), then runs N writer threads, each with its own dmPython connection to the PRIMARY,
doing autocommit single-row INSERTs for a fixed time. Prints rate, median and p99 commit latency and
checks that the standby holds every acknowledged row.

    source .venv/dmdw.env && python benchmarks/emu_commit_rate.py [--threads 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from _common import use_tests

use_tests("emulator_dw")


def writer(node, tid: int, stop: threading.Event, lat: list[float], errors: list[str]) -> None:
    """One client: autocommit INSERTs until `stop`; records each acknowledged commit's latency."""
    try:
        c = node.connect(autoCommit=True)
    except Exception as e:                       # noqa: BLE001 - reported below
        errors.append(f"connect: {e}")
        return
    cur = c.cursor()
    i = 0
    while not stop.is_set():
        t = time.perf_counter()
        try:
            cur.execute("insert into BENCH_W(ID, T, V) values (?, ?, ?)", (tid * 10_000_000 + i, tid, "x" * 20))
        except Exception as e:                   # noqa: BLE001
            errors.append(str(e))
            break
        lat.append(time.perf_counter() - t)
        i += 1
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--target", type=float, default=500.0)
    a = ap.parse_args()
    from dwlab import Lab, wait_for
    lab = Lab()
    try:
        t0 = time.perf_counter()
        lab.build()
        print(f"group built in {time.perf_counter() - t0:.1f} s")
        p, s = lab.n1, lab.n2
        p.sql("create table BENCH_W(ID bigint primary key, T int, V varchar(50))")
        stop = threading.Event()
        lats: list[list[float]] = [[] for _ in range(a.threads)]
        errors: list[str] = []
        ths = [threading.Thread(target=writer, args=(p, i, stop, lats[i], errors)) for i in range(a.threads)]
        start = time.perf_counter()
        for t in ths:
            t.start()
        time.sleep(a.seconds)
        stop.set()
        for t in ths:
            t.join(30)
        elapsed = time.perf_counter() - start
        all_l = sorted(x for lst in lats for x in lst)
        n = len(all_l)
        rate = n / elapsed
        p99 = all_l[min(n - 1, int(n * 0.99))] if n else 0.0
        print(f"{a.threads} writers, {elapsed:.1f} s: {n} acked commits, {rate:.0f}/s; latency median "
              f"{statistics.median(all_l) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {all_l[-1] * 1000:.1f} ms"
              if n else "no commits")
        if errors:
            print(f"errors: {len(errors)}, first: {errors[0]}")
        wait_for(lambda: int(s.one("select count(*) from BENCH_W")) >= n, 30, "standby has every acked row",
                 lambda: s.one("select count(*) from BENCH_W"))
        print(f"standby rows: {s.one('select count(*) from BENCH_W')} (acked {n})")
        ok = rate >= a.target and not errors
        print("PASS" if ok else "FAIL", f"(target >= {a.target:.0f}/s)")
        return 0 if ok else 1
    finally:
        lab.close()


if __name__ == "__main__":
    raise SystemExit(main())
