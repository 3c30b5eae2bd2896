"""Benchmark of the emulator's SQL engine on the seed's bulk load (附录: 10,000,000 random students).

Prints: the INSERT ... CONNECT BY LEVEL time, the COMMIT time (redo capture: every row image read and
written to a redo file, one pickled op at a time, as the instance's log writer would), the
`select count(*) from student` time, and the time to apply that redo on a second Database (a standby).

    python benchmarks/sql_bulk.py [ROWS]        # default 10000000
Targets on a 2-core machine: insert+commit <= 40 s, count <= 1 s, apply <= 30 s.
"""

from __future__ import annotations

import os
import pickle
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator

from _common import STUDENT_DDL, STUDENT_INSERT
from dmemu.sql import Database


class FileRedo:
    """before_commit hook streaming ops into a file (bounded memory), numbering one LSN per op."""

    def __init__(self, path: str):
        self.path = path
        self.lsn = 0
        self.f = open(path, "wb")  # noqa: SIM115 - closed in close()

    def before_commit(self, ops) -> int:
        for op in ops:
            self.lsn += 1
            pickle.dump((self.lsn, op), self.f, protocol=pickle.HIGHEST_PROTOCOL)
        self.f.flush()
        return self.lsn

    def close(self) -> None:
        self.f.close()

    def records(self) -> Iterator[tuple]:
        with open(self.path, "rb") as f:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    return


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    d = tempfile.mkdtemp(prefix="sqlbench-")
    try:
        redo = FileRedo(os.path.join(d, "redo.bin"))
        db = Database(os.path.join(d, "primary.dbf"), hooks=redo)
        sys_s = db.session("SYSDBA")
        sys_s.execute("CREATE USER MEMA IDENTIFIED BY Mema_1234")
        m = db.session("MEMA")
        m.execute(STUDENT_DDL)
        m.autocommit = False
        t0 = time.perf_counter()
        m.execute(STUDENT_INSERT.format(rows=n))
        t1 = time.perf_counter()
        m.commit()
        t2 = time.perf_counter()
        redo.close()
        t3 = time.perf_counter()
        count = list(m.execute("select count(*) from student").rows)[0][0]
        t4 = time.perf_counter()
        assert count == n, count
        standby = Database(os.path.join(d, "standby.dbf"))
        t5 = time.perf_counter()
        # one transaction: its ops streamed from the redo file into one apply (bounded memory)
        standby.apply((op for _, op in redo.records()), redo.lsn)
        t6 = time.perf_counter()
        s2 = standby.session("MEMA")
        c2 = list(s2.execute("select count(*), sum(math), max(name) from student").rows)[0]
        c1 = list(m.execute("select count(*), sum(math), max(name) from student").rows)[0]
        assert c1 == c2, (c1, c2)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = os.path.getsize(os.path.join(d, "redo.bin")) / 2 ** 20
        print(f"rows                      {n}")
        print(f"insert (connect by)       {t1 - t0:7.2f} s")
        print(f"commit (redo capture)     {t2 - t1:7.2f} s   redo file {size:.0f} MiB, {redo.lsn} ops")
        print(f"insert + commit           {t2 - t0:7.2f} s   (target <= 40 s)")
        print(f"select count(*)           {t4 - t3:7.3f} s   (target <= 1 s)")
        print(f"apply on standby          {t6 - t5:7.2f} s   (target <= 30 s)")
        print(f"max RSS                   {rss:7.0f} MiB")
        m.close()
        s2.close()
        db.close()
        standby.close()
        return 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
