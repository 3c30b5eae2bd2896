"""What several benchmarks share: the seed's student load, draining a cursor, reaching test helpers.

Benchmarks run as scripts (`python benchmarks/x.py`), so this folder is on sys.path and
`import _common` works from each of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The seed's 附录 table and bulk load (random students); `{rows}` is the CONNECT BY bound.
STUDENT_DDL = "create table student (id int, name varchar(20), math int, english int, science int)"
STUDENT_INSERT = """insert into student select rownum as id,
dbms_random.string('1',trunc(dbms_random.value(3,8))),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100)),
trunc(dbms_random.value(0,100))
from dual connect by level <={rows}"""


def use_tests(area: str) -> None:
    """Put tests/<area> on sys.path, for the labs and fakes the tests build on (dwlab, wire_fake, ...)."""
    path = str(ROOT / "tests" / area)
    if path not in sys.path:
        sys.path.insert(0, path)


def drain(cur: Any, mode: str = "fetchmany", batch: int = 10_000) -> int:
    """Fetch every row of the cursor's result by `fetchall` or `fetchmany(batch)` and return the count."""
    if mode == "fetchall":
        return len(cur.fetchall())
    n = 0
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            return n
        n += len(rows)
