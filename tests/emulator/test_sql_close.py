"""Regression: Database.close must not deadlock with sessions closing concurrently.

Database.close used to hold the database lock while closing each session, while SqlSession.close
takes the session lock and then the database lock: a session closing on another thread deadlocked
a shutdown. Each scenario runs in a child process with a timeout, so a deadlock fails the test
(and the child is killed) instead of hanging the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TIMEOUT = 30.0

_PRELUDE = """
import sys, threading, time
sys.path.insert(0, {tests!r})
from test_sql_support import Hooks, open_db
db = open_db({path!r}, Hooks())
"""

# The exact interleaving of the reported hang: a session thread holds its own lock, Database.close
# starts on another thread, then the session closes (needing the database lock).
_INTERLEAVED = """
s = db.session()
s.execute("create table t (id int)")
s.execute("insert into t values (1)")
s.autocommit = False
s.execute("insert into t values (2)")          # an open transaction: close must roll it back
held = threading.Event()
def session_closer():
    with s._lock:
        held.set()
        time.sleep(0.3)                         # let Database.close start meanwhile
        s.close()
a = threading.Thread(target=session_closer)
a.start()
held.wait()
b = threading.Thread(target=db.close)
b.start()
a.join(); b.join()
assert s._closed and not db._sessions
print("OK")
"""

# Many sessions, some mid-query, closing while the database closes.
_STRESS = """
sessions = [db.session() for _ in range(16)]
sessions[0].execute("create table t (id int)")
go = threading.Barrier(len(sessions) + 1)
def worker(s):
    go.wait()
    try:
        s.execute("select count(*) from t")
    except Exception:
        pass
    s.close()
ts = [threading.Thread(target=worker, args=(s,)) for s in sessions]
for t in ts:
    t.start()
go.wait()
db.close()
for t in ts:
    t.join()
assert all(s._closed for s in sessions) and not db._sessions
print("OK")
"""


def _run(tmp_path: Path, body: str, name: str = "c.db") -> None:
    code = textwrap.dedent(_PRELUDE).format(tests=str(Path(__file__).parent),
                                            path=str(tmp_path / name)) + body
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:               # subprocess.run kills the child
        raise AssertionError(f"Database.close deadlocked (no exit within {TIMEOUT} s)") from None
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stderr


def test_close_while_session_closes(tmp_path: Path) -> None:
    _run(tmp_path, _INTERLEAVED)


def test_close_with_many_sessions_closing(tmp_path: Path) -> None:
    for i in range(5):
        _run(tmp_path, _STRESS, f"c{i}.db")
