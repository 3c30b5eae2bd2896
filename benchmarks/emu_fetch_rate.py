"""dmPython fetch rate from a real emulated dmserver (issue target: >= 200,000 rows/s).

dminit + dmserver on local processes (tests/emulator_dw/dwlab.py), a 5-INT-column table filled by
SQL, then `select * from T` with fetchall (and fetchmany) through the official dmPython driver.

    source .venv/dmdw.env && python benchmarks/emu_fetch_rate.py [--rows 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from _common import drain, use_tests

use_tests("emulator_dw")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", type=float, default=200_000.0)
    a = ap.parse_args()
    from dwlab import Lab
    lab = Lab()
    try:
        lab.dminit(lab.n1)
        lab.n1.start_server()
        c = lab.n1.connect()
        cur = c.cursor()
        cur.execute("create table T(A int, B int, C int, D int, E int)")
        cur.execute(f"insert into T select level, level * 2, level * 3, mod(level, 1000), -level "
                    f"from dual connect by level <= {a.rows}")
        c.commit()
        best = {}
        for mode in ("fetchall", "fetchmany"):
            for _ in range(a.repeat):
                t = time.perf_counter()
                cur.execute("select * from T")
                n = drain(cur, mode)
                rate = n / (time.perf_counter() - t)
                assert n == a.rows, f"fetched {n} rows, expected {a.rows}"
                best[mode] = max(best.get(mode, 0.0), rate)
            print(f"dmPython {mode:9s}: best of {a.repeat}: {best[mode]:,.0f} rows/s ({a.rows} rows x 5 INT)")
        c.close()
        ok = best["fetchall"] >= a.target
        print("PASS" if ok else "FAIL", f"(target fetchall >= {a.target:,.0f} rows/s)")
        return 0 if ok else 1
    finally:
        lab.close()


if __name__ == "__main__":
    raise SystemExit(main())
