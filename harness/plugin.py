"""The dmdw-harness pytest plugin: options, markers, fixtures (loaded by the root conftest.py).

Fixtures read like a runbook: `topology`, `hosts`, `dw`, `sql`, `monitor`, `chaos`, `workload`,
`run_dir`. The group is built once per session (`dw_group`) by the seed's procedure, checked (and
repaired or rebuilt) between tests; a test marked `destructive` gets a freshly built group.
Teardown always runs (Ctrl-C included) unless --keep-topology.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness.backends import BACKENDS, make_backend
from harness.backends.base import Backend, BackendOptions, Host
from harness.config import ConfigError, load_config
from harness.errors import HarnessError
from harness.topology import Timers, Topology

TARGETS = ("emulator", "dm8")
BACKEND_CHOICES = ("auto", *BACKENDS)
LANGS = ("cn", "en")
# Shorter DW timers for the emulator default (a --dw-config [timers] table overrides them).
EMULATOR_TIMERS = Timers(dw_error_time=4, inst_error_time=4, inst_recover_time=6, mal_check_interval=2,
                         mal_conn_fail_interval=3)
MARKERS = (
    "slow: long-running (bulk load, full matrices); run with -m slow",
    "destructive: breaks the group; gets a freshly built group (and the next test a rebuilt one); runs first",
    "dw_auto: runs the group in DW_MODE AUTO (the auto_mode fixture); such tests run next to each other",
)
_NEXT_KEY = pytest.StashKey["pytest.Item | None"]()
_FAILED_KEY = pytest.StashKey[bool]()
_LIVE: list[Group] = []  # groups to tear down at exit if pytest could not


# ---- options --------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("dmdw", "DM8 Data Watch harness")
    g.addoption("--dw-target", default="emulator", help="what runs as DM8: emulator (default) | dm8")
    g.addoption("--dw-backend", default="auto",
                help="where the hosts live: auto (docker if an engine answers, else local) | docker | local | vagrant")
    g.addoption("--dw-config", default=None, metavar="FILE", help="TOML overriding topology values")
    g.addoption("--dm8-image", default=None, help="a Docker image that contains DM8 (target dm8)")
    g.addoption("--dm8-installer", default=None, metavar="FILE", help="DM8 installer (DMInstall.bin) to build an image")
    g.addoption("--dm-home", default="/opt/dm8", help="DM_HOME inside the hosts (default /opt/dm8)")
    g.addoption("--bulk-rows", default="10000000", help="rows for the seed's bulk insert (default 10,000,000)")
    g.addoption("--dw-seed", default=None, help="seed for workloads and Faker (default: random, printed)")
    g.addoption("--dw-lang", default="cn", help="DM message language: cn (default) | en")
    g.addoption("--keep-topology", action="store_true", default=False,
                help="leave the hosts running after the run (prints how to clean up)")


def _int_option(config: pytest.Config, name: str, minimum: int) -> int:
    raw = config.getoption(name)
    try:
        value = int(str(raw).replace("_", "").replace(",", ""))
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer; got {raw!r}") from None
    if value < minimum:
        raise pytest.UsageError(f"{name} must be at least {minimum}; got {value}")
    return value


def validate_options(config: pytest.Config) -> dict[str, Any]:
    """Check every harness option; one UsageError sentence naming the bad option."""
    opt = config.getoption
    target, backend, lang = opt("--dw-target"), opt("--dw-backend"), opt("--dw-lang")
    if target not in TARGETS:
        raise pytest.UsageError(f"--dw-target must be one of {', '.join(TARGETS)}; got {target!r}")
    if backend not in BACKEND_CHOICES:
        raise pytest.UsageError(f"--dw-backend must be one of {', '.join(BACKEND_CHOICES)}; got {backend!r}")
    if lang not in LANGS:
        raise pytest.UsageError(f"--dw-lang must be one of {', '.join(LANGS)}; got {lang!r}")
    if backend == "local" and target == "dm8":
        raise pytest.UsageError("--dw-backend local runs the emulator only; use --dw-backend docker or vagrant "
                                "with --dw-target dm8")
    if target == "dm8" and not (opt("--dm8-image") or opt("--dm8-installer")) and backend != "vagrant":
        raise pytest.UsageError("--dw-target dm8 needs --dm8-image IMAGE or --dm8-installer FILE")
    if target == "emulator" and (opt("--dm8-image") or opt("--dm8-installer")):
        raise pytest.UsageError("--dm8-image/--dm8-installer apply to --dw-target dm8 only")
    inst = opt("--dm8-installer")
    if inst and not Path(inst).is_file():
        raise pytest.UsageError(f"--dm8-installer {inst}: no such file")
    dm_home = opt("--dm-home")
    if not str(dm_home).startswith("/"):
        raise pytest.UsageError(f"--dm-home must be an absolute path; got {dm_home!r}")
    seed = _int_option(config, "--dw-seed", 0) if opt("--dw-seed") is not None else random.randrange(2**31)
    bulk = _int_option(config, "--bulk-rows", 1)
    topo = load_config(opt("--dw-config"), base=default_topology(target, lang))
    topo.paths.dm_home = dm_home
    if lang != "cn":  # an explicit --dw-lang wins over the config file's lang
        topo.lang = lang
    return {"target": target, "backend": backend, "lang": topo.lang, "seed": seed, "bulk_rows": bulk,
            "topology": topo, "keep": bool(opt("--keep-topology"))}


def default_topology(target: str, lang: str = "cn") -> Topology:
    """Seed defaults; the emulator default gets shorter DW timers (config files may override them)."""
    t = Topology(lang=lang)
    if target == "emulator":
        t.timers = Timers(**vars(EMULATOR_TIMERS))
    return t


# ---- configure -----------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = validate_options(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.dmdw_settings = settings  # type: ignore[attr-defined]
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    from harness.report.runfolder import open_run_dir  # here: the report registers itself first

    open_run_dir(config)  # the report picks the run id and makes the folder (config.dmdw_run_dir)
    topo: Topology = settings["topology"]
    config.dmdw_env = {  # type: ignore[attr-defined]  # read by harness.report
        "target": settings["target"], "backend": settings["backend"], "seed": settings["seed"],
        "lang": settings["lang"], "topology": topo.summary(), "timers": vars(topo.timers).copy(),
        "dm_build": {}, "bulk_rows": settings["bulk_rows"],
    }
    if threading_main():
        _install_sigterm()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Destructive tests first, then the others, each part in its collected (or shuffled) order.

    A destructive test needs a freshly built group and leaves it for a rebuild, so every switch between
    destructive and other tests costs one build of the group; grouped, a run builds it once per destructive
    test plus once."""
    items[:] = sorted(items, key=lambda item: (item.get_closest_marker("destructive") is None, wants_auto(item)))


def wants_auto(item: pytest.Item) -> bool:
    """The test runs the group in DW_MODE AUTO: the `dw_auto` marker or the `auto_mode` fixture. These run
    after the others in each part (destructive / not), so the mode changes (a stop and start of the whole
    group each) happen once per run rather than twice per test."""
    return item.get_closest_marker("dw_auto") is not None or "auto_mode" in getattr(item, "fixturenames", ())


def next_test(item: pytest.Item) -> pytest.Item | None:
    """The test that runs after `item` (None for the last), e.g. to keep a group setting it needs too."""
    return item.stash.get(_NEXT_KEY, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    item.stash[_NEXT_KEY] = nextitem


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Remember a failed phase, so the `dw` fixture hands the next test a group checked by `show` too."""
    outcome = yield
    if outcome.get_result().failed:
        item.stash[_FAILED_KEY] = True


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _install_sigterm() -> None:
    """SIGTERM behaves like Ctrl-C, so fixture teardown runs when a CI job is cancelled."""
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = getattr(config, "dmdw_settings", None)
    if not s:
        return []
    return [f"dmdw: target={s['target']} backend={s['backend']} lang={s['lang']} seed={s['seed']} "
            f"run_dir={config.dmdw_run_dir}"]  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    env = getattr(config, "dmdw_env", {})
    if env.get("cleanup"):
        terminalreporter.write_line(f"dmdw: --keep-topology: {env['cleanup']}", yellow=True)


# ---- the group -----------------------------------------------------------------------------------
class Group:
    """Backend + hosts + procedure + SQL + DataWatch for one session."""

    def __init__(self, config: pytest.Config) -> None:
        from harness.steps import StepLog

        s = config.dmdw_settings  # type: ignore[attr-defined]
        self.config, self.settings = config, s
        self.run_dir: Path = Path(config.dmdw_run_dir)  # type: ignore[attr-defined]
        self.keep = s["keep"]
        self.steps = StepLog(self.run_dir / "steps.jsonl")
        self.backend: Backend | None = None
        self.hosts: dict[str, Host] = {}
        self.topology: Topology = s["topology"]
        self.procedure: Any = None
        self.sql: Any = None
        self.dw: Any = None
        self.used = False  # a test ran on the current build
        self.dirty = False  # a destructive test ran: rebuild before the next test
        self.suspect = False  # a test failed on it: the next one checks `show` too before trusting it
        self.builds = 0

    def up(self) -> None:
        from harness.dw import DataWatch
        from harness.procedure import Procedure
        from harness.sql import Sql

        s = self.settings
        opts = BackendOptions(target=s["target"], dm_home=self.topology.paths.dm_home,
                              dm8_image=self.config.getoption("--dm8-image"),
                              dm8_installer=self.config.getoption("--dm8-installer"), lang=s["lang"],
                              run_id=self.run_dir.name, run_dir=str(self.run_dir), keep=self.keep)
        self.backend = make_backend(s["backend"], opts)
        if s["target"] == "emulator" and os.environ.get("DMEMU_BUGS"):
            # emulator-only: seeded defects reach every host's DM processes (the kill matrix uses it)
            self.backend.extra_env["DMEMU_BUGS"] = os.environ["DMEMU_BUGS"]
        _LIVE.append(self)
        self.config.dmdw_env["backend"] = self.backend.name  # type: ignore[attr-defined]
        self.topology = self.backend.adapt(self.topology)
        env = self.config.dmdw_env  # type: ignore[attr-defined]  # updated in place: the report holds it
        env["topology"].clear()
        env["topology"].update(self.topology.summary())
        env["timers"].clear()
        env["timers"].update(vars(self.topology.timers))
        self.hosts = self.backend.up(self.topology)
        self.procedure = Procedure(self.backend, self.hosts, self.topology, self.steps, self.run_dir)
        self.sql = Sql(self.topology, self.backend, self.hosts, self.run_dir)
        self.dw = DataWatch(self.procedure, self.sql)
        self.build()

    def build(self) -> None:
        t0 = time.monotonic()
        self.procedure.build()
        self.builds += 1
        self.used = self.dirty = False
        env = self.config.dmdw_env  # type: ignore[attr-defined]
        env.setdefault("bringup_seconds", round(time.monotonic() - t0, 2))
        env["dm_build"].update(self.dw.build_info())
        env["builds"] = self.builds

    def rebuild(self) -> None:
        self.sql.close_all()
        self.procedure.kill_everything()
        self.procedure.wipe()
        self.build()

    def ensure_healthy(self, fresh: bool) -> None:
        """Before a test: a fresh build if asked (destructive) or the group is dirty; else check health
        and wait for it within the recovery timers; rebuild when that fails."""
        if self.dirty or (fresh and self.used):
            self.rebuild()
        elif self.suspect or not self.dw.healthy():
            if self.procedure.monitor is None or not self.procedure.monitor.alive():
                self.procedure.start_monitor()
            try:
                self.dw.wait_healthy(self.topology.timers.recovery(), via_monitor=self.suspect)
            except Exception:  # noqa: BLE001 - any failure to recover means rebuild
                self.rebuild()
        if self.procedure.monitor is None or not self.procedure.monitor.alive():
            self.procedure.start_monitor()
        self.used, self.suspect = True, False

    def collect_logs(self) -> None:
        """Copy every daemon's output into run_dir/logs/<host>/ for the report."""
        if self.procedure is None:
            return
        for proc in self.procedure.spawned:
            dest = self.run_dir / "logs" / proc.host.name / f"{proc.name}.log"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(proc.log())

    def down(self) -> None:
        """Collect logs, stop every process, remove the hosts (idempotent; atexit retries if interrupted)."""
        try:
            if self.sql is not None:
                self.sql.close_all()
            self.collect_logs()
            if self.keep:
                if self.procedure and self.procedure.monitor:
                    self.procedure.monitor.close()
                hint = self.backend.cleanup_hint() if self.backend else ""
                self.config.dmdw_env["cleanup"] = hint  # type: ignore[attr-defined]
                if self in _LIVE:
                    _LIVE.remove(self)
                return
            if self.procedure is not None:
                self.procedure.kill_everything()
        finally:
            if self.backend is not None and not self.keep:
                self.backend.down()
            if self in _LIVE:
                _LIVE.remove(self)


@atexit.register
def _teardown_leftovers() -> None:
    for g in list(_LIVE):
        try:
            g.down()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def _harness_fail(exc: HarnessError) -> NoReturn:
    pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def dw_group(request: pytest.FixtureRequest) -> Any:
    """The session's group, built once by the seed's procedure; torn down at the end (Ctrl-C included)."""
    group = Group(request.config)
    request.addfinalizer(group.down)
    error: HarnessError | None = None
    try:
        group.up()
    except HarnessError as exc:
        error = exc
    if error is not None:  # outside the except block: one message, no chained traceback
        _harness_fail(error)
    return group


@pytest.fixture(scope="session")
def run_dir(request: pytest.FixtureRequest) -> Path:
    """reports/<run-id>/ of this run (created by harness.report when present)."""
    return Path(request.config.dmdw_run_dir)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def dw_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed (--dw-seed, or random and printed in the header)."""
    return int(request.config.dmdw_settings["seed"])  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def bulk_rows(request: pytest.FixtureRequest) -> int:
    return int(request.config.dmdw_settings["bulk_rows"])  # type: ignore[attr-defined]


@pytest.fixture
def dw(dw_group: Group, request: pytest.FixtureRequest) -> Any:
    """The running group (harness.dw.DataWatch), healthy at the start of the test."""
    destructive = request.node.get_closest_marker("destructive") is not None
    error: HarnessError | None = None
    try:
        dw_group.ensure_healthy(fresh=destructive)
    except HarnessError as exc:
        error = exc
    if error is not None:
        _harness_fail(error)
    yield dw_group.dw
    if destructive:
        dw_group.dirty = True
    elif request.node.stash.get(_FAILED_KEY, False):
        dw_group.suspect = True  # one failure must not cascade: the next test gets a group healthy in `show`


@pytest.fixture
def topology(dw_group: Group) -> Topology:
    """The topology as the backend runs it (addresses and ports adapted)."""
    return dw_group.topology


class Hosts(dict):
    """Hosts by name (host1, host2, monitor) and by initial role (primary, standby, monitor)."""

    def __getattr__(self, item: str) -> Host:
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None


@pytest.fixture
def hosts(dw_group: Group) -> Hosts:
    """The backend's hosts (each with .ti, a testinfra host) by name and by initial role."""
    out = Hosts(dw_group.hosts)
    for h in dw_group.hosts.values():
        out.setdefault(h.role, h)
    return out


@pytest.fixture
def sql(dw: Any) -> Any:
    """harness.sql.Sql for the group (instances by name, the seed's service name, extra services)."""
    return dw.sql


@pytest.fixture
def monitor(dw: Any) -> Any:
    """The group's dmmonitor session (harness.monitor.Monitor); restarted if it exited."""
    proc = dw.procedure
    if proc.monitor is None or not proc.monitor.alive():
        proc.start_monitor()
    return proc.monitor


@pytest.fixture
def steps(dw_group: Group) -> Any:
    """The run's StepLog (procedure and monitor steps)."""
    return dw_group.steps


@pytest.fixture
def chaos(dw: Any, dw_group: Group, run_dir: Path) -> Any:
    """harness.chaos.Chaos for the group; every fault heals at teardown."""
    try:
        from harness.chaos import Chaos
    except ImportError as exc:
        _harness_fail(HarnessError(f"the chaos module (harness/chaos.py) is not available: {exc}"))
    c = Chaos(dw_group.backend, dw_group.hosts, dw_group.topology, run_dir)
    try:
        yield c
    finally:
        c.close()  # heals every fault and removes rules, helper containers and proxies


@pytest.fixture
def workload(sql: Any, dw_group: Group, run_dir: Path, dw_seed: int, request: pytest.FixtureRequest) -> Any:
    """harness.workload.Workload writing through the seed's service name; when the test also injects
    faults, its history measures RTO around them."""
    try:
        from harness.workload import Workload
    except ImportError as exc:
        _harness_fail(HarnessError(f"the workload module (harness/workload.py) is not available: {exc}"))
    wl = Workload(sql, dw_group.topology, run_dir, dw_seed)
    if "chaos" in request.fixturenames:
        wl.chaos = request.getfixturevalue("chaos")
    return wl


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the environment for the report (run_dir/env.json) once the session ends."""
    config = session.config
    env = getattr(config, "dmdw_env", None)
    run = getattr(config, "dmdw_run_dir", None)
    if env is not None and run is not None and Path(run).is_dir():
        (Path(run) / "env.json").write_text(json.dumps(env, ensure_ascii=False, indent=2, default=str))
