"""dmrman: offline backup/restore/recover, UPDATE DB_MAGIC and repair archivelog.

Interactive (`RMAN>` prompt, statements end with ';' or a newline) or one statement with CTLSTMT="...".
Exit status: 0 when every statement succeeded, 1 otherwise.
"""

from __future__ import annotations

import re
import sys
import time

from .. import backup
from ..errors import DmError, err
from ..storage import ControlFile

_Q = r"'([^']*)'"
STATEMENTS = [
    ("backup", re.compile(rf"BACKUP\s+DATABASE\s+{_Q}\s+FULL(?:\s+TO\s+\w+)?\s+BACKUPSET\s+{_Q}$", re.I)),
    ("restore", re.compile(rf"RESTORE\s+DATABASE\s+{_Q}\s+FROM\s+BACKUPSET\s+{_Q}$", re.I)),
    ("recover", re.compile(rf"RECOVER\s+DATABASE\s+{_Q}\s+FROM\s+BACKUPSET\s+{_Q}$", re.I)),
    ("update_magic", re.compile(rf"RECOVER\s+DATABASE\s+{_Q}\s+UPDATE\s+DB_MAGIC$", re.I)),
    ("repair", re.compile(rf"REPAIR\s+ARCHIVELOG\s+DATABASE\s+{_Q}$", re.I)),
]
# the progress line as real dmrman leaves it (padded to 100 columns; tests/corpus/dm8/dmrman/backup-full-*)
PERCENT_DONE = f"{'[Percent:100.00%][Speed:0.00M/s][Cost:00:00:00][Remaining:00:00:00]':<100}"


def run_statement(stmt: str, out=sys.stdout) -> bool:
    """Execute one dmrman statement, printing DM8-like progress; returns success."""
    s = stmt.strip().rstrip(";").strip()
    t0 = time.time()
    try:
        for kind, rx in STATEMENTS:
            m = rx.match(s)
            if not m:
                continue
            ini = m.group(1)
            _print_db_header(ini, out)
            if kind == "backup":
                backup.backup_offline(ini, m.group(2))
                out.write(f"Processing backupset {m.group(2)}\n{PERCENT_DONE}\nbackup successfully!\n")
            elif kind == "restore":
                backup.restore(ini, m.group(2))
                out.write(f"{PERCENT_DONE}\nrestore successfully.\n")
            elif kind == "recover":
                backup.recover_from_backupset(ini, m.group(2))
                out.write("recover successfully!\n")
            elif kind == "update_magic":
                backup.update_db_magic(ini)
                out.write("recover successfully!\n")
            else:
                _, cur, flsn = backup.repair_archivelog(ini)
                out.write(f"EP[0]'s cur_lsn[{cur}], file_lsn[{flsn}]\n")
                out.write("repair archive log successfully.\n")
            out.write(f"time used: {backup.elapsed(t0)}\n")
            return True
        raise err(-2007)
    except DmError as e:
        out.write(f"[{e.code}]:{e.message}\n")
        return False
    except OSError as e:
        out.write(f"{e.strerror}: {e.filename or ''}\n")
        return False


def _print_db_header(ini: str, out) -> None:
    try:
        from ..instance import db_paths
        ctl = ControlFile.load(db_paths(ini)["ctl"])
        mode = ["NORMAL", "PRIMARY", "STANDBY"].index(ctl["mode"])
        out.write(f"Database mode = {mode}, oguid = {ctl['oguid']}\n")
        for pool in ("FAST", "DEFAULT", "RECYCLE", "KEEP", "ROLL"):
            out.write(f"Normal of {pool}\n")
    except (DmError, OSError, ValueError):
        pass                                    # the statement itself reports the bad path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout
    ctl_stmts = []
    for a in argv:
        if a.upper().startswith("CTLSTMT="):
            ctl_stmts.append(a.split("=", 1)[1].strip().strip('"'))
        elif a.lower() in ("help", "-h", "--help"):
            out.write('格式: dmrman [CTLSTMT="statement"] [DCR_INI=path] [USE_AP=1|2]\n')
            return 0
        elif "=" in a:
            continue                             # DCR_INI=, USE_AP=, ... accepted and ignored
        else:
            out.write(f"[-803]:invalid argument {a}\n")
            return 1
    out.write("dmrman V8\n")
    if ctl_stmts:
        ok = True
        for s in ctl_stmts:
            out.write("file dm.key not found, use default license!\n")
            ok = run_statement(s, out) and ok
        out.flush()
        return 0 if ok else 1
    ok = True
    interactive = sys.stdin.isatty()
    buf = ""
    while True:
        if interactive or not buf:
            out.write("RMAN> ")
            out.flush()
        line = sys.stdin.readline()
        if not line:
            if buf.strip():
                ok = run_statement(buf, out) and ok
            break
        text = line.strip()
        if not interactive:
            out.write(text + "\n")
        if not buf and text.lower().rstrip(";") in ("exit", "quit"):
            break
        if not text:
            continue
        buf = f"{buf} {text}".strip()
        complete = buf.endswith(";") or any(rx.match(buf.rstrip(";").strip()) for _, rx in STATEMENTS)
        if complete:
            out.write("file dm.key not found, use default license!\n")
            ok = run_statement(buf, out) and ok
            buf = ""
    out.write("\n")
    out.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
