"""StepLog: every step of the procedure (host, command, output, duration, ok), for the report.

Written as JSON lines to <run_dir>/steps.jsonl as steps finish, so a run interrupted mid-build still
shows how far it got.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

from harness.backends.base import CommandResult, Host
from harness.errors import CommandError, StepError
from harness.progress import progress


@dataclasses.dataclass
class Step:
    """One recorded step."""

    host: str
    step: str
    command: str
    rc: int | None
    output: str
    duration: float
    ok: bool
    started: float  # wall clock (time.time()) for the report's timeline

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


class StepLog:
    """Append-only log of procedure steps; run() executes a host command as a named step."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.steps: list[Step] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, step: Step) -> Step:
        with self._lock:
            self.steps.append(step)
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(step.as_json() + "\n")
        progress(f"{step.host}: {step.step} ({step.duration:.1f}s){'' if step.ok else ' FAILED'}")
        return step

    def run(self, host: Host, step: str, cmd: str, *, timeout: float = 120, expect: str | None = None,
            env: dict[str, str] | None = None, user: str = "dmdba") -> CommandResult:
        """Run cmd on host as step `step`; raise StepError if rc != 0 or `expect` is not in the output."""
        started = time.time()
        try:
            res = host.run(cmd, user=user, timeout=timeout, check=False, env=env)
        except CommandError as exc:  # a backend may raise on its own transport problems
            self.record(Step(host.name, step, cmd, exc.rc, exc.output, time.time() - started, False, started))
            raise StepError(step, host.name, cmd, exc.output, f"rc={exc.rc}") from None
        reason = ""
        if res.rc != 0:
            reason = f"rc={res.rc}"
        elif expect is not None and expect not in res.output:
            reason = f"output lacks {expect!r}"
        self.record(Step(host.name, step, cmd, res.rc, res.output, res.duration, not reason, started))
        if reason:
            raise StepError(step, host.name, cmd, res.output, reason)
        return res

    def note(self, host: str, step: str, what: str, output: str = "", *, ok: bool = True,
             duration: float = 0.0) -> Step:
        """Record a step that is not a single command (a file written, a wait, a monitor exchange)."""
        return self.record(Step(host, step, what, 0 if ok else None, output, duration, ok,
                                time.time() - duration))

    def timed(self, host: str, step: str, what: str) -> _Timed:
        """Context manager recording a non-command step with its duration and outcome (error text on failure)."""
        return _Timed(self, host, step, what)


class _Timed:
    def __init__(self, log: StepLog, host: str, step: str, what: str) -> None:
        self.log, self.host, self.step, self.what = log, host, step, what
        self.output = ""

    def __enter__(self) -> _Timed:
        self.t0 = time.time()
        return self

    def __exit__(self, et, ev, tb) -> None:
        ok = et is None
        out = self.output if ok else f"{self.output}\n{et.__name__}: {ev}".strip()
        self.log.record(Step(self.host, self.step, self.what, 0 if ok else None, out, time.time() - self.t0,
                             ok, self.t0))
