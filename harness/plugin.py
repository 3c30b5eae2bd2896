"""The dmdw-harness pytest plugin: options, markers, fixtures, test ordering (loaded by the root conftest.py).

Fixtures read like a runbook: `topology`, `hosts`, `dw`, `sql`, `monitor`, `runbook`, `chaos`, `workload`,
`inspect`, `run_dir`. The group (harness.group) is built once per session (`dw_group`) from the run's
Settings, checked (and repaired or rebuilt) between tests; a test marked `destructive` gets a freshly built
group, one marked `dw_auto` a group in DW_MODE AUTO. Teardown always runs (Ctrl-C included) unless
--keep-topology.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from harness.archive import compress_run_folder
from harness.errors import BackendLimit, HarnessError, UsageError
from harness.inventory import DESTRUCTIVE_SKIP
from harness.redact import redact_file
from harness.scheduling import (  # noqa: F401 - the hook
    Durations,
    default_dist,
    pytest_xdist_make_scheduler,
    session_order,
    suite_of,
    worker_durations,
)
from harness.settings import Settings

if TYPE_CHECKING:
    from harness.backends.base import Host
    from harness.dw import DataWatch
    from harness.group import Group
    from harness.inspector import Inspector
    from harness.runbook import Runbook
    from harness.topology import Topology

MARKERS = (
    "slow: long-running (bulk load, full matrices); run with -m slow",
    "destructive: breaks the group; gets a freshly built group (and the next test a rebuilt one); runs first",
    "dw_auto: runs the group in DW_MODE AUTO with the confirm monitor; such tests run next to each other",
    "seed_os: checks the seed's OS accounts and limits (三); skipped where the backend does not create them",
    "systemd: needs systemd as PID 1 on the DB hosts (--dw-systemd, vagrant); skipped elsewhere",
    "own_group(why): needs a group the harness owns (why it cannot be restored on an existing deployment); "
    "skipped on --dw-existing even with --dw-allow-destructive",
)
_NEXT_KEY = pytest.StashKey["pytest.Item | None"]()
_FAILED_KEY = pytest.StashKey[bool]()


# ---- options --------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("dmdw", "DM8 Data Watch harness")
    g.addoption("--dw-target", default="emulator", help="what runs as DM8: emulator (default) | dm8")
    g.addoption("--dw-backend", default="auto",
                help="where the hosts live: auto (docker if an engine answers, else local) | docker | local | vagrant")
    g.addoption("--dw-config", default=None, metavar="FILE", help="TOML overriding topology values")
    g.addoption("--dw-topology", default=None, metavar="PRESET",
                help="group shape preset: 1p1rt (the seed's, default) | 1p2rt1async (--dw-config applies on top)")
    g.addoption("--dm8-image", default=None, help="a Docker image that contains DM8 (target dm8)")
    g.addoption("--dm8-installer", default=None, metavar="FILE", help="DM8 installer (DMInstall.bin) to build an image")
    g.addoption("--dm-home", default="/opt/dm8", help="DM_HOME inside the hosts (default /opt/dm8)")
    g.addoption("--bulk-rows", default="10000000", help="rows for the seed's bulk insert (default 10,000,000)")
    g.addoption("--dw-seed", default=None, help="seed for workloads and Faker (default: random, printed)")
    g.addoption("--dw-lang", default="cn", help="DM message language: cn (default) | en")
    g.addoption("--dw-shard", default=None, metavar="I/N",
                help="run shard I of N: a deterministic slice of the tests (merge the shards with python -m harness.merge)")
    g.addoption("--dw-inventory", default=None, metavar="FILE",
                help="hosts of an existing deployment (TOML; with --dw-backend ssh); see README 'Accept an existing deployment'")
    g.addoption("--dw-existing", action="store_true", default=False,
                help="discover the group on the inventory's hosts instead of building one")
    g.addoption("--dw-allow-destructive", action="store_true", default=False,
                help="with --dw-existing: run destructive tests too, each restoring the starting roles")
    g.addoption("--dw-systemd", action="store_true", default=False,
                help="docker hosts boot systemd as PID 1; the procedure registers and drives the seed's service units")
    g.addoption("--dw-spread", default="test", choices=("suite", "test"),
                help="with -n: hand out single tests (default) or whole suites to the workers")
    g.addoption("--keep-topology", action="store_true", default=False,
                help="leave the hosts running after the run (prints how to clean up)")


# ---- configure -----------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    from harness import shard

    try:
        settings = Settings.from_options(config.getoption)
        sharding = shard.parse(config.getoption("--dw-shard"))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.dmdw_settings = settings  # type: ignore[attr-defined]
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    default_dist(config)
    from harness.report.runfolder import open_run_dir  # here: the report registers itself first

    folder = open_run_dir(config)  # the report picks the run id and makes the folder (config.dmdw_run_dir)
    if folder is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Durations(folder.parent), "dmdw-durations")
    config.dmdw_env = settings.env()  # type: ignore[attr-defined]  # read by harness.report
    if sharding:
        config.dmdw_env["shard"] = "{}/{}".format(*sharding)  # type: ignore[attr-defined]
        config.pluginmanager.register(shard.ShardFilter(*sharding), "dmdw-shard")
    if threading_main():
        _install_sigterm()


# ---- xdist: one group per worker, one run folder -------------------------------------------------
def _xdist_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep each worker's environment (its group's build, backend, topology)."""
    env = getattr(node.config, "dmdw_env", None)
    worker_env = getattr(node, "workeroutput", {}).get("dmdw_env")
    if env is None or not worker_env:
        return
    workers = env.setdefault("workers", {})
    workers[node.gateway.id] = worker_env
    if len(workers) == 1:  # the run's build, backend and topology: the first worker's (they share settings)
        for key in ("backend", "topology", "timers", "dm_build", "bringup_seconds"):
            if key in worker_env:
                env[key] = worker_env[key]
    env["builds"] = sum(w.get("builds", 0) for w in env["workers"].values())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Compress what is still plain in the run folder (harness.archive: a worker that crashed, a run
    without the report plugin). xdist controller: remove whatever a crashed or killed worker's group left (its run id
    is ours plus -gwN), once the workers are gone."""
    from harness.report.runfolder import run_id

    folder = getattr(config, "dmdw_run_dir", None)
    if folder is not None and Path(folder).is_dir():
        compress_run_folder(Path(folder), clean=redact_file)
    rid = run_id(config)
    settings = getattr(config, "dmdw_settings", None)
    if not rid or settings is None or settings.keep or not _xdist_controller(config):
        return
    from harness.group import sweep_run

    removed = sweep_run(rid + "-", settings.backend)
    if removed:
        print(f"dmdw: removed what the workers left: {', '.join(removed)}")


def _settings(config: pytest.Config) -> Settings:
    return config.dmdw_settings  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The session's order (harness.scheduling.session_order): destructive tests first, then the others;
    the DW_MODE AUTO tests last in each part, or on an xdist worker the longest first. On an existing
    deployment, what cannot be restored there is skipped."""
    by_id = {item.nodeid: item for item in items}
    order = session_order(list(by_id), {n for n, i in by_id.items() if _destructive(i)},
                          {n for n, i in by_id.items() if _wants_auto(i)}, worker_durations(config))
    items[:] = [by_id[n] for n in order]
    settings = _settings(config)
    if settings.existing:
        for item in items:
            own = item.get_closest_marker("own_group")
            if own is not None:
                why = own.args[0] if own.args else "it changes what the harness cannot put back"
                item.add_marker(pytest.mark.skip(reason=f"cannot be restored on an existing deployment: {why}"))
    if settings.existing and not settings.allow_destructive:
        for item in items:
            if not safe_on_existing(item) and item.get_closest_marker("own_group") is None:
                item.add_marker(pytest.mark.skip(reason=f"{DESTRUCTIVE_SKIP} ({suite_of(item.nodeid)}"
                                                 " suite): run with --dw-allow-destructive"))


SAFE_ON_EXISTING = ("smoke", "conformance")  # suites that only read the group (smoke drops its one table)


def safe_on_existing(item: pytest.Item) -> bool:
    """True for a test that leaves an accepted group as it found it: a read-only suite, not marked
    destructive or dw_auto (a mode change restarts the group), using no chaos."""
    return (suite_of(item.nodeid) in SAFE_ON_EXISTING and not _destructive(item) and not _wants_auto(item)
            and "chaos" not in getattr(item, "fixturenames", ()))


def _destructive(item: pytest.Item) -> bool:
    return item.get_closest_marker("destructive") is not None


def _wants_auto(item: pytest.Item) -> bool:
    return item.get_closest_marker("dw_auto") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    item.stash[_NEXT_KEY] = nextitem


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test that meets a limit of this harness backend (harness core raised BackendLimit, e.g. a fault the
    local backend cannot apply) is skipped with that sentence, as `seed_os`/`systemd` tests are."""
    try:
        return (yield)
    except BackendLimit as exc:
        pytest.skip(str(exc))


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
    s: Settings | None = getattr(config, "dmdw_settings", None)
    if not s:
        return []
    return [f"dmdw: target={s.target} backend={s.backend} lang={s.lang} seed={s.seed} "
            f"run_dir={config.dmdw_run_dir}"]  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    env = getattr(config, "dmdw_env", {})
    if env.get("cleanup"):
        terminalreporter.write_line(f"dmdw: --keep-topology: {env['cleanup']}", yellow=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the environment for the report (run_dir/env.json) once the session ends."""
    config = session.config
    env = getattr(config, "dmdw_env", None)
    run = getattr(config, "dmdw_run_dir", None)
    if hasattr(config, "workerinput") and env is not None:
        config.workeroutput["dmdw_env"] = json.loads(json.dumps(env, default=str))  # type: ignore[attr-defined]
    if env is not None and run is not None and Path(run).is_dir():
        (Path(run) / "env.json").write_text(json.dumps(env, ensure_ascii=False, indent=2, default=str))


# ---- fixtures ------------------------------------------------------------------------------------
def _harness_fail(exc: HarnessError) -> NoReturn:
    pytest.fail(str(exc), pytrace=False)


def _guarded(fn: Any, *args: Any) -> Any:
    """fn(*args); a HarnessError fails the test with its one sentence (no chained traceback)."""
    error: HarnessError | None = None
    try:
        return fn(*args)
    except HarnessError as exc:
        error = exc
    _harness_fail(error)


@pytest.fixture(scope="session")
def dw_group(request: pytest.FixtureRequest) -> Group:
    """The session's group, built once by the seed's procedure; torn down at the end (Ctrl-C included)."""
    from harness.group import Group

    config = request.config
    from harness.report.runfolder import run_id

    group = Group(_settings(config), config.dmdw_run_dir, config.dmdw_env,  # type: ignore[attr-defined]
                  run_id=run_id(config) or None)
    request.addfinalizer(group.down)
    _guarded(group.up)
    return group


@pytest.fixture(scope="session")
def run_dir(request: pytest.FixtureRequest) -> Path:
    """reports/<run-id>/ of this run (created by harness.report when present)."""
    return Path(request.config.dmdw_run_dir)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def dw_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed (--dw-seed, or random and printed in the header)."""
    return _settings(request.config).seed


@pytest.fixture(scope="session")
def bulk_rows(request: pytest.FixtureRequest) -> int:
    return _settings(request.config).bulk_rows


@pytest.fixture
def dw(dw_group: Group, request: pytest.FixtureRequest) -> Iterator[DataWatch]:
    """The running group (harness.dw.DataWatch), healthy at the start of the test; in DW_MODE AUTO with
    the confirm monitor when the test is marked `dw_auto`."""
    item = request.node
    _guarded(dw_group.ensure_healthy, _destructive(item))
    if _wants_auto(item):
        _guarded(_enter_auto, dw_group)
    yield dw_group.dw
    if dw_group.existing:
        if _wants_auto(item):
            _leave_auto(dw_group, item)
        _restore_accepted(dw_group, item)
        return
    if _wants_auto(item):
        _leave_auto(dw_group, item)
    if _destructive(item):
        dw_group.dirty = True
    elif item.stash.get(_FAILED_KEY, False):
        dw_group.suspect = True  # one failure must not cascade: the next test gets a group healthy in `show`


def _restore_accepted(group: Group, item: pytest.Item) -> None:
    """After a test that may change an accepted group: back to its starting roles, checked by `show`; when
    that fails the run stops, saying what state the group is in."""
    if safe_on_existing(item) and not item.stash.get(_FAILED_KEY, False):
        return
    try:
        group.restore(after=item.nodeid)
    except Exception as exc:  # noqa: BLE001 - any failure to restore stops the run
        state = ""
        try:
            state = str(group.dw.monitor.show().summary())
        except Exception as show_exc:  # noqa: BLE001
            state = f"(`show` failed: {show_exc})"
        # session.shouldstop, not pytest.exit: an exception raised in teardown is grouped with the others
        item.session.shouldstop = (
            f"dmdw: restoring the accepted group after {item.nodeid} failed: {exc}; `show` now: {state}; "
            f"starting roles were {group.starting_roles}: recover by hand (start the watchers, then "
            "switchover to the starting primary in dmmonitor)")
        group.dirty = True
        raise


def _enter_auto(group: Group) -> None:
    from harness.runbook import Runbook

    runbook = Runbook(group.dw)
    try:
        if runbook.dw_mode() != "AUTO":
            runbook.set_dw_mode("AUTO")
    except BaseException:
        group.dirty = True  # stopped half-way between modes: the next test gets a fresh group
        raise


def _leave_auto(group: Group, item: pytest.Item) -> None:
    """Back to the topology's DW_MODE unless the next test runs in AUTO too (they run next to each other);
    a destructive test's group, or one that is not healthy, is left for a rebuild instead. A group the
    harness owns is left in AUTO when no test follows (it is torn down; --keep-topology hands it back in
    its mode) or the next one gets a fresh group (destructive): a mode change costs a restart of the group."""
    from harness.runbook import Runbook

    following = item.stash.get(_NEXT_KEY, None)
    next_in_auto = following is not None and _wants_auto(following) and not _destructive(following)
    torn_down_or_rebuilt = not group.existing and not group.keep and (following is None or _destructive(following))
    if _destructive(item) or group.dirty or next_in_auto or torn_down_or_rebuilt:
        return
    try:
        if not group.dw.healthy():
            raise RuntimeError("group not healthy")
        Runbook(group.dw).set_dw_mode(group.topology.dw.dw_mode)
    except Exception:  # noqa: BLE001 - any failure to restore: the next test gets a fresh group
        group.dirty = True


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
def sql(dw: DataWatch) -> Any:
    """harness.sql.Sql for the group (instances by name, the seed's service name, extra services)."""
    return dw.sql


@pytest.fixture
def monitor(dw: DataWatch) -> Any:
    """The group's dmmonitor (dw.monitor: one handle, valid when the session is restarted or rebuilt)."""
    return dw.monitor


@pytest.fixture
def runbook(request: pytest.FixtureRequest, dw: DataWatch) -> Runbook:
    """The operator's steps on the running group (seed 十二.2.4, 十二.3, DW_MODE, dmwatcher.ini). A
    `systemd` test is skipped where the DB hosts do not run systemd as PID 1."""
    from harness.runbook import Runbook

    book = Runbook(dw)
    if request.node.get_closest_marker("systemd") and not book.units.available():
        pytest.skip(f"needs {book.units.NEEDS}")
    return book


@pytest.fixture
def inspect(request: pytest.FixtureRequest, dw: DataWatch, dw_group: Group) -> Inspector:
    """Read-only access to the built hosts (files, OS accounts, ports). A `seed_os` test is skipped where
    the backend does not create the seed's OS accounts (三)."""
    from harness.inspector import Inspector

    inspector = Inspector(dw_group)
    if request.node.get_closest_marker("seed_os") and not inspector.provisions_os():
        pytest.skip(f"the {dw_group.backend.name} backend does not provision OS users, groups or limits "
                    "(seed 三); run with --dw-backend docker or vagrant")
    return inspector


@pytest.fixture
def steps(dw_group: Group) -> Any:
    """The run's StepLog (procedure and monitor steps)."""
    return dw_group.steps


@pytest.fixture
def chaos(dw: DataWatch, dw_group: Group, run_dir: Path) -> Iterator[Any]:
    """harness.chaos.Chaos for the group; every fault heals at teardown. A group left with a dmserver or
    dmwatcher missing afterwards is rebuilt before the next test (health by SQL does not see a watcher)."""
    from harness.chaos import Chaos

    c = Chaos(dw_group.backend, dw_group.hosts, dw_group.topology, run_dir)
    try:
        yield c
    finally:
        c.close()  # heals every fault and removes rules, helper containers and proxies
        if not dw_group.dirty and dw_group.daemons_missing():
            dw_group.dirty = True


@pytest.fixture
def workload(sql: Any, dw_group: Group, run_dir: Path, dw_seed: int, request: pytest.FixtureRequest) -> Any:
    """harness.workload.Workload writing through the seed's service name; when the test also injects
    faults, its history measures RTO around them."""
    from harness.workload import Workload

    wl = Workload(sql, dw_group.topology, run_dir, dw_seed)
    if "chaos" in request.fixturenames:
        wl.chaos = request.getfixturevalue("chaos")
    return wl


@pytest.fixture
def workloads(sql: Any, dw_group: Group, run_dir: Path, dw_seed: int, request: pytest.FixtureRequest) -> Any:
    """harness.workloads.Workloads: bank, list-append, register and unique-ids workloads run by client
    processes through the seed's service name (and, for reads, on each instance); with the test's chaos."""
    from harness.report import measure
    from harness.workloads import Workloads

    chaos = request.getfixturevalue("chaos") if "chaos" in request.fixturenames else None
    return Workloads(sql, dw_group.topology, run_dir, dw_seed, chaos,
                     measure=lambda name, value, unit, note="": measure(request, name, value, unit, note=note))
