"""The contract of a network mechanism: each fault applies at once and returns the function that heals it."""

from __future__ import annotations

from collections.abc import Callable

from harness.chaos.flows import Selection
from harness.errors import HarnessError

Heal = Callable[[], None]


class Unsupported(HarnessError):
    """A fault with no mechanism on this backend or for this target (suites skip with the reason)."""


class NetBackend:
    """A way to apply link faults; each method applies at once and returns the function that heals it."""

    name = "none"

    def prepare(self) -> None:
        """Install steering before the group starts (proxies); default: nothing to do."""

    def cut(self, sel: Selection, mode: str) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot cut links")

    def latency(self, sel: Selection, ms: int, jitter: int) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot add latency; use the toxiproxy or "
                           "iptables network backend")

    def bandwidth(self, sel: Selection, kbps: int) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot limit bandwidth; use the toxiproxy or "
                           "iptables network backend")

    def packets(self, sel: Selection, loss: float, duplicate: float, reorder: float) -> Heal:
        raise Unsupported(f"the {self.name} network backend cannot lose, duplicate or reorder packets; the "
                          "iptables backend (docker, vagrant) can")

    def isolate(self, host: str) -> Heal:
        raise HarnessError(f"the {self.name} network backend cannot isolate a host")

    def close(self) -> None:
        """Remove everything this backend installed (rules, proxies, helper containers)."""

