"""`python -m harness.replay RUN_DIR`: re-read a run's DM tool transcripts with today's readers.

For each tool it prints how many exchanges were kept and what each yields (show: the roles table;
choose: the candidates; disql: an error code or grid rows; dmrman/dminit: an error code or none), then
every exchange a reader failed on. Exit status 1 if any reader raised, 2 if the folder has no
transcripts. `reports/latest` works as RUN_DIR. A folder from a run against real DM8 can be sent back
as it is (passwords were masked when written) and replayed here after a reader fix.
"""

from __future__ import annotations

import argparse
import collections
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from harness import show, toolout
from harness.transcript import UNCONFIRMED_WORDING, read


def _names(output: str) -> list[str]:
    """Instance names the replayed run knew: every INAME any show in the output reported."""
    return sorted({d.iname for d in show.parse_show(output).databases.values()})


def read_monitor(command: str, output: str, known: list[str]) -> str:
    """What today's readers make of one dmmonitor exchange."""
    words = command.split()
    verb = words[0].lower() if words else ""
    extra = ""
    if show.message_sources(output):
        extra = f"; messages from {show.message_sources(output)}"
    low = [w.lower() for w in words]
    if verb == "show" and (len(low) <= 2 and low[1:2] != ["global"] or low[:3] == ["show", "global", "info"]):
        st = show.parse_show(output)
        rows = ", ".join(f"{n}={'/'.join(v)}" for n, v in st.summary().items())
        return f"show group={st.group or '-'} {rows or 'no databases'}{extra}"
    code = show.error_code(output)
    if verb == "choose":
        return f"candidates {show.choose_candidates(output, known, command)}" + (f" error {code}" if code else "")
    if verb == "tip":
        return f"tip words: {show.tip_words(output)}{extra}"
    bad = show.refused(output)
    return (f"error {code}" if code else f"refused: {bad}" if bad else "no error") + \
        f"; {len(show.progress_lines(output))} progress lines{extra}"


def read_tool(tool: str, command: str, output: str) -> str:
    """What today's readers make of one disql / dmrman / dminit / dmserver / dmwatcher exchange."""
    err = toolout.dm_error(output)
    if tool == "disql":
        login = toolout.disql_login(output)
        grids = toolout.grids(output)
        rows = sum(len(g.rows) for g in grids)
        return (f"login {'ok' if login.ok else 'not seen'}; " + (f"error {err.code} line {err.line}" if err
                                                                 else f"{len(grids)} grids, {rows} rows"))
    return f"error {err.code}" if err else "no DM error"


def replay(run_dir: Path, out: Callable[[str], None] = print) -> int:
    """Replay every transcript under run_dir; return the exit status."""
    files = sorted(p for p in (run_dir / "transcripts").glob("*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz")))
    if not files:
        out(f"no transcripts under {run_dir / 'transcripts'}")
        return 2
    failures: list[str] = []
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    known: list[str] = []
    for f in files:
        for rec in read(f):
            tool, cmd, text = rec.get("tool", "?"), rec.get("command", ""), rec.get("output", "")
            try:
                if tool == "dmmonitor":
                    known = sorted(set(known) | set(_names(text)))
                    got = read_monitor(cmd, text, known)
                else:
                    got = read_tool(tool, cmd, text)
            except Exception:  # noqa: BLE001 - a reader bug is what replay is for
                failures.append(f"{f.name} {rec.get('time', '')} `{cmd[:60]}`:\n{traceback.format_exc(limit=3)}")
                continue
            verb = (cmd.split() or ["?"])[0].lower()
            counts[tool][verb if tool == "dmmonitor" else "error" if "error -" in got else "ok"] += 1
            out(f"{rec.get('time', '')} {rec.get('host', '?')} {tool}: `{cmd.splitlines()[0][:60] if cmd else ''}`"
                f" -> {got}")
    out("")
    for tool, c in sorted(counts.items()):
        out(f"{tool}: {sum(c.values())} exchanges ({', '.join(f'{k} {v}' for k, v in c.most_common())})")
    out(f"unconfirmed wording used by the readers: {len(UNCONFIRMED_WORDING)}")
    for fail in failures:
        out(f"READER FAILED: {fail}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.replay", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a run folder (reports/<run-id> or reports/latest)")
    args = ap.parse_args(argv)
    return replay(args.run_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
