"""The seed's bulk insert (附录: 10,000,000 random students) on one emulated instance, through dmPython.

Prints: dminit + first start time, connect+login ms, INSERT ... CONNECT BY time and rows/s, COMMIT time,
count(*) time, dmPython fetch rows/s, and the redo/archive bytes written.

    python benchmarks/bulk_insert.py                 # 10,000,000 rows (the seed's figure)
    python benchmarks/bulk_insert.py --rows 200000   # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import STUDENT_DDL, STUDENT_INSERT, drain

PWD = "Mema_1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not os.path.exists(path):
        raise SystemExit(f"{name} not found: install the emulator (pip install -e emulator)")
    return path


def start_server(ini: Path, log: Path, env: dict) -> subprocess.Popen:
    out = open(log, "w")
    p = subprocess.Popen([tool("dmserver"), str(ini)], stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while "SYSTEM IS READY." not in log.read_text():
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"dmserver did not start: {log.read_text()}")
        time.sleep(0.05)
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--fetch-rows", type=int, default=1_000_000, help="rows fetched for the fetch rate")
    ap.add_argument("--logins", type=int, default=20, help="connects averaged for connect+login ms")
    ap.add_argument("--archive", action="store_true", help="turn on local archiving first (as the seed)")
    ap.add_argument("--keep", action="store_true", help="keep the temp database directory")
    args = ap.parse_args()
    try:
        import dmPython
    except ImportError:
        raise SystemExit("dmPython is not installed (pip install dmPython)") from None

    root = Path(tempfile.mkdtemp(prefix="dmemu-bench-"))
    env = dict(os.environ, DMEMU_LISTEN_HOST="127.0.0.1")
    env.pop("DMEMU_BUGS", None)
    port = free_port()
    server = None
    try:
        t0 = time.perf_counter()
        subprocess.run([tool("dminit"), f"PATH={root}", "DB_NAME=memadb", "INSTANCE_NAME=mema1", f"PORT_NUM={port}",
                        "PAGE_SIZE=32", "EXTENT_SIZE=32", "CHARSET=1", "CASE_SENSITIVE=0", "LENGTH_IN_CHAR=0",
                        "BLANK_PAD_MODE=1", f"SYSDBA_PWD={PWD}"], check=True, capture_output=True, env=env)
        server = start_server(root / "memadb/dm.ini", root / "dmserver.out", env)
        print(f"dminit + first start        {time.perf_counter() - t0:10.2f} s")

        samples = []
        for _ in range(args.logins):
            t = time.perf_counter()
            c = dmPython.connect(user="SYSDBA", password=PWD, server="127.0.0.1", port=port)
            samples.append((time.perf_counter() - t) * 1000)
            c.close()
        samples.sort()
        print(f"connect+login (median of {args.logins}) {samples[len(samples) // 2]:8.2f} ms")

        conn = dmPython.connect(user="SYSDBA", password=PWD, server="127.0.0.1", port=port, autoCommit=False)
        cur = conn.cursor()
        if args.archive:
            for s in ("alter database mount",
                      f"alter database add archivelog 'DEST={root / 'memadb/arch'},TYPE=local,FILE_SIZE=128,"
                      "space_limit=0'", "alter database archivelog", "alter database open"):
                cur.execute(s)
        cur.execute(STUDENT_DDL)
        t = time.perf_counter()
        cur.execute(STUDENT_INSERT.format(rows=args.rows))
        t_ins = time.perf_counter() - t
        t = time.perf_counter()
        conn.commit()
        t_cmt = time.perf_counter() - t
        print(f"insert {args.rows:,} rows".ljust(28) + f"{t_ins:10.2f} s  ({args.rows / max(t_ins, 1e-9):,.0f} rows/s)")
        print(f"commit (redo + fsync)       {t_cmt:10.2f} s")
        t = time.perf_counter()
        cur.execute("select count(*) from student")
        n = cur.fetchone()[0]
        print(f"count(*) = {n:,}".ljust(28) + f"{time.perf_counter() - t:10.3f} s")
        assert n == args.rows, n
        want = min(args.fetch_rows, args.rows)
        t = time.perf_counter()
        cur.execute(f"select * from student where id <= {want}")
        got = drain(cur)
        dt = time.perf_counter() - t
        print(f"fetch {got:,} rows".ljust(28) + f"{dt:10.2f} s  ({got / max(dt, 1e-9):,.0f} rows/s)")
        conn.close()
        redo = sum(f.stat().st_size for f in (root / "memadb").glob("memadb0?.log"))
        arch = sum(f.stat().st_size for f in (root / "memadb/arch").glob("*.log")) if args.archive else 0
        print(f"online redo bytes           {redo:>14,}")
        if args.archive:
            print(f"archive bytes               {arch:>14,}")
        return 0
    finally:
        if server is not None and server.poll() is None:
            t = time.perf_counter()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(300)
                print("shutdown (SIGTERM)".ljust(28) + f"{time.perf_counter() - t:10.2f} s")
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
