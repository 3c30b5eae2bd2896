"""User-facing harness errors.

A HarnessError carries one sentence naming the thing to fix; the plugin prints it without a traceback.
StepError is a HarnessError raised by a failing procedure step and carries the step's output.
"""

from __future__ import annotations

import pytest


class HarnessError(Exception):
    """A problem the user can fix (bad option, missing image, port in use ...): one clear sentence."""


class UsageError(pytest.UsageError, HarnessError):
    """A wrong command-line option or config value (exit code 4, like pytest's own usage errors)."""


class CommandError(HarnessError):
    """A host command returned a non-zero status when the caller required success."""

    def __init__(self, host: str, cmd: str, rc: int, output: str) -> None:
        self.host, self.cmd, self.rc, self.output = host, cmd, rc, output
        tail = "\n".join(output.rstrip().splitlines()[-20:])
        super().__init__(f"command on {host} failed (rc={rc}): {cmd}\n{tail}")


class StepError(HarnessError):
    """A step of the seed procedure failed; names the step and shows its output."""

    def __init__(self, step: str, host: str, cmd: str, output: str, reason: str = "") -> None:
        self.step, self.host, self.cmd, self.output = step, host, cmd, output
        tail = "\n".join(output.rstrip().splitlines()[-30:])
        why = f": {reason}" if reason else ""
        super().__init__(f"procedure step '{step}' failed on {host}{why}\n  command: {cmd}\n{tail}")


class BackendLimit(HarnessError):
    """What the test asks is beyond this harness backend (an environment limit, not a DM8 failure, e.g. a
    fault the local backend cannot apply). Harness core raises it; the plugin reports the test skipped
    with this sentence."""
