"""Acknowledged writes per second of the workload on the emulator's Data Watch group (target >= 500/s).

Builds the group through the harness (pytest, local backend unless --dw-backend is given) and runs
tests/chaos/test_e2e_workload.py::test_acked_writes_per_second, which prints the figure.
Usage: python benchmarks/workload_rate.py [extra pytest options]
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    extra = sys.argv[1:] or ["--dw-backend", "local"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly",
           "tests/chaos/test_e2e_workload.py::test_acked_writes_per_second", *extra]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    m = re.search(r"acked writes per second: (\d+)", res.stdout)
    if not m:
        print(res.stdout[-3000:] + res.stderr[-2000:])
        print("FAIL: no figure (the run did not complete)")
        return 1
    rate = int(m.group(1))
    print(f"acked writes per second on the emulator: {rate} (target >= 500)")
    print("PASS" if rate >= 500 else "FAIL")
    return 0 if rate >= 500 else 1


if __name__ == "__main__":
    raise SystemExit(main())
