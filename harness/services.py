"""The seed's service units (四.3, 十, 十二.3): dm_service_installer.sh, `systemctl`, the units read back.

On a host where systemd is PID 1 (the vagrant VMs; docker hosts with --dw-systemd) the procedure
registers `DmService<instance>` (`-t dmserver -dm_ini ... -m mount`) and `DmWatcherService<suffix>`
(`-t dmwatcher -watcher_ini ...`) as root, as the seed does, and starts and stops the watchers with
`systemctl`. Elsewhere the procedure keeps spawning the daemons itself. The seed registers the
instance's service in 四.3 before the group exists, without `-m`; the harness registers it once the
instance is a Data Watch member, with `-m mount` as Dameng's Data Watch manual asks (reference 6.4):
a DW instance must start in MOUNT and let its watcher open it.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.backends.base import Host
    from harness.dw import DataWatch, Node
    from harness.steps import StepLog
    from harness.topology import HostSpec, Topology

UNIT_DIR = "/usr/lib/systemd/system"


def instance_service(spec: HostSpec) -> str:
    """Seed 四.3: `-p mema1` -> DmServicemema1."""
    return f"DmService{spec.instance}"


def watcher_service(t: Topology) -> str:
    """Seed 十: `-p mema` -> DmWatcherServicemema (the suffix is [dw] watcher_service_suffix)."""
    return f"DmWatcherService{t.dw.watcher_service_suffix}"


def installer(t: Topology, h: Host) -> str:
    return h.path(f"{t.paths.dm_home}/script/root/dm_service_installer.sh")


def register(t: Topology, h: Host, spec: HostSpec, steps: StepLog) -> None:
    """Seed 四.3 and 十 on one DB host (as root): the instance's and the watcher's services."""
    inst = installer(t, h)
    steps.run(h, f"四.3 register {instance_service(spec)}",
              f"{inst} -t dmserver -dm_ini {shlex.quote(h.path(t.dm_ini))} -p {spec.instance} -m mount",
              user="root", timeout=60)
    steps.run(h, f"十 register {watcher_service(t)} on {spec.name}",
              f"{inst} -t dmwatcher -watcher_ini {shlex.quote(h.path(t.dmwatcher_ini))} "
              f"-p {t.dw.watcher_service_suffix}", user="root", timeout=60)


class Units:
    """The operator's view of one group's service units (the runbook's `units`): the unit files and
    scripts the installer wrote, `systemctl` state, and a host reboot. The units' names are the module's
    `instance_service` and `watcher_service`."""

    NEEDS = ("systemd as PID 1 on the DB hosts: --dw-backend docker --dw-systemd, or the vagrant VMs "
             "(--dw-backend vagrant)")

    def __init__(self, dw: DataWatch, host: Callable[[str | Node], Host]) -> None:
        """`host` resolves a node to its Host (the runbook's `host`, the one place that does)."""
        self.dw, self.proc, self.t, self.host = dw, dw.procedure, dw.t, host

    def available(self) -> bool:
        """True when every DB host runs systemd as PID 1 (the procedure registered the units there)."""
        return all(self.proc.hosts[s.name].systemd for s in self.t.db_hosts)

    def unit(self, node: str | Node, name: str) -> dict[str, str]:
        """The [Section] Key=value lines of /usr/lib/systemd/system/<name>.service the installer wrote on
        the node's host ({} when absent)."""
        h = self.host(node)
        if not h.exists(f"{UNIT_DIR}/{name}.service", mapped=True):
            return {}
        text = h.read_file(f"{UNIT_DIR}/{name}.service", mapped=True)
        return {m.group(1).strip(): m.group(2).strip() for m in re.finditer(r"(?m)^\s*([A-Za-z]+)\s*=(.*)$", text)}

    def script_setting(self, node: str | Node, name: str, key: str) -> str | None:
        """A setting of the service script DM_HOME/bin/<name> on the node's host (INI_PATH, START_MODE: the
        script parameters of Dameng's script manual), None when the script or the key is missing."""
        h = self.host(node)
        path = h.path(f"{self.t.paths.dm_home}/bin/{name}")
        if not h.exists(path, mapped=True):
            return None
        m = re.search(rf"(?m)^\s*{key}\s*=\s*\"?([^\"\n]*)\"?\s*$", h.read_file(path, mapped=True))
        return m.group(1).strip() if m else None

    def enabled(self, node: str | Node, name: str) -> bool:
        """True when the unit is enabled (started at boot) on the node's host."""
        return self.host(node).run(f"systemctl is-enabled {name}", user="root", check=False).stdout.strip() == "enabled"

    def active(self, node: str | Node, name: str) -> str:
        """`systemctl is-active <name>` on the node's host: active, inactive, failed, activating ..."""
        return self.host(node).run(f"systemctl is-active {name}", user="root", check=False).stdout.strip()

    def reboot(self, *nodes: str | Node) -> None:
        """Reboot the nodes' hosts (the docker backend restarts their containers; systemd stops the units
        in order and starts the enabled ones at boot). Nothing else is started by the harness."""
        backend = self.proc.backend
        if not hasattr(backend, "reboot"):
            raise HarnessError(f"the {backend.name} backend cannot reboot a host from the harness "
                               "(vagrant: `vagrant reload` by hand)")
        for node in nodes:
            spec = self.dw.spec(node)
            self.proc.servers.pop(spec.name, None)
            self.proc.watchers.pop(spec.name, None)
            backend.reboot(self.host(node))
