"""Host faults on a DB host's disk and clock: a full archive or data directory, a slow disk (fsync
delay), a clock jump or skew.

Why files: the emulator reads `$DM_HOME/dmdw-faults/{full,fsync_delay_ms,clock}` (emulator/dmemu/
hostfaults.py), the way it reads DMEMU_NET_BLOCK_FILE for the network, so the same fault works on
every backend without root or a special filesystem. The `clock` file is libfaketime's relative form
(`+5s`), the file real DM8 binaries read when started with LD_PRELOAD=libfaketime and
FAKETIME_TIMESTAMP_FILE pointing at it. On real DM8 a full directory is a ballast file filling the
directory's filesystem, refused unless that filesystem is small (BALLAST_MAX_FREE_MB); a slow disk has
no real-DM8 mechanism here and says so (mechanism.Unsupported).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from harness.chaos.mechanism import Heal, Unsupported
from harness.errors import HarnessError

FAULT_DIR = "dmdw-faults"       # under DM_HOME on every host
BALLAST = ".dmdw-ballast"
BALLAST_MAX_FREE_MB = 1024      # a ballast never fills more than this: point ARCH_DEST at a small filesystem
WHERE = ("archive", "data")
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


class HostFaultFiles:
    """The fault files of each DB host; counted per line so overlapping faults heal independently."""

    def __init__(self, hosts: dict[str, Any], topology: Any, target: str = "emulator") -> None:
        self.hosts, self.topology, self.target = hosts, topology, target
        self._full: dict[str, Counter] = {}
        self._lock = threading.Lock()

    def _file(self, host: Any, name: str) -> str:
        return host.path(f"{host.dm_home}/{FAULT_DIR}/{name}")

    def _write(self, host: Any, name: str, text: str) -> None:
        host.write_file(self._file(host, name), text, mapped=True)

    def directory(self, host: Any, where: str) -> str:
        """The mapped path of the host's archive (ARCH_DEST) or data directory."""
        if where not in WHERE:
            raise HarnessError(f"disk_full where={where!r} is not one of {', '.join(WHERE)}")
        p = self.topology.paths
        return host.path(p.arch_dir if where == "archive" else self.topology.db_dir)

    def unsupported(self, kind: str) -> str:
        """Why `kind` (disk_full, slow_disk, clock_skew) cannot run against this target; "" when it can."""
        if self.target == "emulator":
            return ""
        if kind == "slow_disk":
            return "slow disk needs the emulator's fsync hook (real DM8 would need dm-delay or a FUSE layer)"
        if kind == "clock_skew":
            host = next(iter(self.hosts.values()))
            if not any(host.exists(lib, mapped=True) for lib in FAKETIME_LIBS):
                return "clock skew on real DM8 needs libfaketime on the hosts (apt package faketime)"
        return ""

    def _require(self, kind: str) -> None:
        why = self.unsupported(kind)
        if why:
            raise Unsupported(why)

    # ---- disk full -------------------------------------------------------------------------------
    def disk_full(self, name: str, where: str) -> Heal:
        host = self.hosts[name]
        d = self.directory(host, where)
        if self.target != "emulator":
            return self._ballast(host, d)
        with self._lock:
            lines = self._full.setdefault(name, Counter())
            lines[d] += 1
            self._write(host, "full", "".join(f"{x}\n" for x in lines))

        def heal() -> None:
            with self._lock:
                lines[d] -= 1
                if lines[d] <= 0:
                    del lines[d]
                self._write(host, "full", "".join(f"{x}\n" for x in lines))

        return heal

    def _ballast(self, host: Any, d: str) -> Heal:
        """Fill the filesystem of `d` with a ballast file (only a small one: see BALLAST_MAX_FREE_MB)."""
        free = int(host.run(f"df -Pm '{d}' | awk 'NR==2{{print $4}}'", user="root").stdout.strip() or 0)
        if free > BALLAST_MAX_FREE_MB:
            raise Unsupported(f"{d} has {free} MB free: mount a filesystem under {BALLAST_MAX_FREE_MB} "
                                       "MB there to fill it with a ballast file")
        path = f"{d}/{BALLAST}"
        host.run(f"fallocate -l {free}M '{path}' 2>/dev/null || dd if=/dev/zero of='{path}' bs=1M 2>/dev/null; "
                 "sync", user="root", check=False, timeout=300)
        return lambda: host.run(f"rm -f '{path}'", user="root", check=False)

    # ---- slow disk and clock ---------------------------------------------------------------------
    def slow_disk(self, name: str, ms: int) -> Heal:
        self._require("slow_disk")
        host = self.hosts[name]
        self._write(host, "fsync_delay_ms", f"{int(ms)}\n")
        return lambda: self._write(host, "fsync_delay_ms", "")

    def clock_skew(self, name: str, seconds: float) -> Heal:
        self._require("clock_skew")
        host = self.hosts[name]
        self._write(host, "clock", f"{seconds:+g}s\n")
        return lambda: self._write(host, "clock", "+0s\n")

    def close(self) -> None:
        """Empty every fault file this object wrote (heal_all has normally done it already)."""
        for host in self.hosts.values():
            if getattr(host, "role", "") == "monitor":
                continue
            for f in ("full", "fsync_delay_ms", "clock"):
                try:
                    if host.exists(self._file(host, f), mapped=True):
                        self._write(host, f, "")
                except Exception:  # noqa: BLE001 - best effort at teardown
                    pass
