"""Every exchange with a DM tool, kept for replay: `<run_dir>/transcripts/<host>-<tool>.jsonl`.

One JSON line per exchange: {time, host, tool, command, output, duration, note}. Passwords are masked
with harness.redact (the masking the report uses too) before anything reaches the disk, so a run
folder can be sent back as it is. `python -m harness.replay RUN_DIR` re-reads these files with today's
readers; the first run against a real DM8 build thus becomes a corpus and a bug report at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness import archive
from harness.redact import redact

_LOCK = threading.Lock()
Redact = Callable[[str], str]

# Verdicts that rest on wording only the emulator is known to print. Every reader in harness/ decides by
# state or by DM error codes; this stays empty, and a test asserts it. A reader that ever has to fall back
# on such wording calls unconfirmed() so that the report can mark the verdict.
UNCONFIRMED_WORDING: list[dict[str, str]] = []


def unconfirmed(reader: str, wording: str, decision: str) -> None:
    """Record that `decision` rested on `wording` no real capture confirms."""
    UNCONFIRMED_WORDING.append({"reader": reader, "wording": wording, "decision": decision,
                                "time": time.strftime("%Y-%m-%d %H:%M:%S")})


def _default_redact(text: str) -> str:
    return redact(text)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "x"


class Transcript:
    """Appends exchanges with one tool on one host to its JSONL file (no-op without a run_dir)."""

    def __init__(self, run_dir: Path | None, host: str, tool: str, *, redact: Redact | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.host, self.tool = host, tool
        self.path = run_dir / "transcripts" / f"{_safe(host)}-{_safe(tool)}.jsonl" if run_dir else None
        self._redact = redact
        self.secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "******")
        try:
            return (self._redact or _default_redact)(text)
        except Exception:  # noqa: BLE001 - the report may be being restructured; secrets are masked above
            return text

    def add(self, command: str, output: str, *, started: float | None = None, note: str = "") -> None:
        """Append one exchange (command sent, raw output read)."""
        if self.path is None:
            return
        now = time.time()
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started or now)), "host": self.host,
               "tool": self.tool, "command": self.redact(command), "output": self.redact(output),
               "duration": round(now - (started or now), 3), "note": note}
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def read(path: Path) -> list[dict[str, str]]:
    """The exchanges of one transcript file, plain or compressed (a torn last line is ignored)."""
    out = []
    for line in archive.read_text(path).splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
