"""Host faults through fault files: chaos writes them (harness/chaos/hostfiles.py), the emulator reads
them (emulator/dmemu/hostfaults.py): a full directory, a slow disk, a skewed clock; heal empties them."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from dmemu import hostfaults

from harness.chaos import Chaos, Unsupported
from harness.errors import HarnessError
from harness.topology import Topology


class FileHost:
    """Just enough of a Host: seed paths re-rooted under root/<name>, files, dm_home."""

    dm_home = "/opt/dm8"

    def __init__(self, name: str, root: Path, role: str) -> None:
        self.name, self.root, self.role, self.env = name, root, role, {}

    def path(self, p: str) -> str:
        return str(self.root / self.name) + p

    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        Path(p).write_text(text)

    def exists(self, p: str, *, mapped: bool = False) -> bool:
        return Path(p).exists()


class Backend:
    name = "fake"

    def __init__(self, target: str = "emulator") -> None:
        self.options = SimpleNamespace(target=target)

    def net_mechanism(self) -> str:
        return "blockfile"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    topo = Topology()
    hosts = {n: FileHost(n, tmp_path, h.role) for n, h in topo.hosts.items()}
    monkeypatch.setattr(hostfaults, "REREAD_S", 0.0)
    monkeypatch.setenv("DMEMU_FAULT_DIR", hosts["host1"].path("/opt/dm8/dmdw-faults"))
    return topo, hosts


def test_disk_full_makes_writes_under_that_directory_fail_until_healed(setup) -> None:
    topo, hosts = setup
    chaos = Chaos(Backend(), hosts, topo, None)
    arch = Path(hosts["host1"].path(topo.paths.arch_dir))
    arch.mkdir(parents=True)
    data = Path(hosts["host1"].path(topo.db_dir))
    with chaos.disk_full("host1", "archive") as rec:
        with pytest.raises(OSError) as e:
            hostfaults.check_space(str(arch / "ARCHIVE_LOCAL1_0x1.log"))
        assert e.value.errno == errno.ENOSPC
        hostfaults.check_space(str(data / "memadb01.log"))           # the data directory still has room
        with chaos.disk_full("host1", "archive"):
            pass
        with pytest.raises(OSError):                                 # the outer fault still holds
            hostfaults.check_space(str(arch / "x"))
        assert rec.name == "disk full archive@host1"
    hostfaults.check_space(str(arch / "x"))
    with pytest.raises(HarnessError, match="where"):
        chaos.disk_full("host1", "logs")


def test_clock_skew_moves_the_emulator_wall_clock_and_heals(setup) -> None:
    topo, hosts = setup
    chaos = Chaos(Backend(), hosts, topo, None)
    with chaos.clock_skew("host1", 90):
        assert Path(hosts["host1"].path("/opt/dm8/dmdw-faults/clock")).read_text() == "+90s\n"
        assert hostfaults.now() - time.time() == pytest.approx(90, abs=1)
    assert hostfaults.now() - time.time() == pytest.approx(0, abs=1)
    assert hostfaults.parse_offset("-2m") == -120 and hostfaults.parse_offset("+1.5s") == 1.5
    with pytest.raises(ValueError, match="libfaketime"):
        hostfaults.parse_offset("tomorrow")


def test_slow_disk_delays_each_fsync(setup) -> None:
    topo, hosts = setup
    chaos = Chaos(Backend(), hosts, topo, None)
    with chaos.slow_disk("host1", 120):
        t = time.monotonic()
        hostfaults.before_fsync()
        assert time.monotonic() - t >= 0.11
    t = time.monotonic()
    hostfaults.before_fsync()
    assert time.monotonic() - t < 0.05


def test_what_a_target_or_backend_cannot_do_is_unsupported_with_a_reason(setup) -> None:
    topo, hosts = setup
    dm8 = Chaos(Backend("dm8"), hosts, topo, None)
    assert "emulator" in dm8.unsupported("slow_disk")
    with pytest.raises(Unsupported):
        dm8.slow_disk("host1", 10).start()
    assert "libfaketime" in dm8.unsupported("clock_skew")
    emu = Chaos(Backend(), hosts, topo, None)
    assert emu.unsupported("slow_disk") == "" and emu.unsupported("clock_skew") == ""
    assert "iptables" in emu.unsupported("packets")
    with pytest.raises(Unsupported):
        emu.packets("MAL", loss=5).start()
    with pytest.raises(HarnessError, match="percentage"):
        emu.packets("MAL", loss=150)
