"""Figures for a group beyond one standby (issue 14): primary + 2 real-time + 1 ASYNC standby.

    python benchmarks/topology_figures.py                        # local backend, emulator
    python benchmarks/topology_figures.py --dw-backend docker    # docker backend
    python benchmarks/topology_figures.py --dw-config examples/1p2rt1async.toml --samples 5

Prints, all measured on the running group through the harness (as the suites do it):
- bring-up time of the 4-database group (seed 四..十一 for every standby), hosts ready vs. procedure;
- ASYNC standby lag: seconds from a commit on the primary until the ASYNC standby's v$rlog CUR_LSN
  reaches it (one sample per commit; the timer period on this target is printed next to it);
- takeover time with 2 real-time standbys: the primary's watcher stopped and its dmserver killed (-9),
  then the time until `choose takeover` offers a candidate (detection) and the time `takeover` takes
  until the new primary is PRIMARY OPEN.
Everything started is torn down at the end (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.errors import HarnessError  # noqa: E402
from harness.group import Group  # noqa: E402
from harness.settings import Settings  # noqa: E402
from harness.wait import wait_until  # noqa: E402


def figures(group: Group, samples: int) -> None:
    """Bring the group up and print the three figures."""
    t0 = time.monotonic()
    group.up()
    total = time.monotonic() - t0
    t = group.topology
    print(f"bring-up of {len(t.db_hosts)} databases ({len(t.realtime_standbys())} real-time, "
          f"{len(t.async_standbys())} ASYNC standbys): {total:.2f} s "
          f"(hosts ready after {group.hosts_ready_seconds:.2f} s, {len(group.steps.steps)} steps)")
    dw, sql = group.dw, group.sql
    assert dw is not None and sql is not None
    p = dw.primary
    sql.execute(p.name, "create table bench_async (id int)")
    for node in dw.async_nodes():
        period = t.timers.async_period(dw.spec(node).timer_minutes)
        lags = []
        for i in range(samples):
            sql.execute(p.name, f"insert into bench_async values ({i})")
            lags.append(dw.wait_caught_up(node))
        print(f"ASYNC lag of {node.name} over {samples} commit(s): min {min(lags):.2f} s, mean "
              f"{sum(lags) / len(lags):.2f} s, max {max(lags):.2f} s (timer period {period:g} s here)")
    proc = group.procedure
    assert proc is not None
    spec = t.host_of(p.name)
    proc.stop_watcher(spec, "benchmark: stop the primary's watcher", with_instance=False)
    t_kill = time.monotonic()
    proc.host(spec).signal("dmserver", signal.SIGKILL)
    cands = wait_until(dw.monitor.choose_takeover, t.timers.failure_detect() + 60,
                       "`choose takeover` to offer a candidate", ok=bool, interval=0.2)
    detect = time.monotonic() - t_kill
    new = cands[0]
    dw.monitor.login()
    t_take = time.monotonic()
    dw.monitor.takeover(new)
    dw.wait_roles(primary=new)
    took = time.monotonic() - t_take
    print(f"takeover with {len(t.realtime_standbys())} real-time standbys: candidates {cands} offered "
          f"{detect:.2f} s after the primary died; `takeover {new}` to PRIMARY OPEN {took:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dw-backend", default="local", choices=["auto", "local", "docker"])
    ap.add_argument("--dw-config", default=None, help="a topology file (default: the 1p2rt1async preset)")
    ap.add_argument("--samples", type=int, default=3, help="commits timed for the ASYNC lag")
    args = ap.parse_args(argv)
    run_dir = Path(tempfile.mkdtemp(prefix="dmdw-topology-"))
    try:
        settings = Settings.build(backend=args.dw_backend, config=args.dw_config, seed=0,
                                  topology=None if args.dw_config else "1p2rt1async")
        if settings.topology.missing(realtime=2, asynchronous=1):
            print(f"benchmark: {settings.topology.missing(realtime=2, asynchronous=1)}", file=sys.stderr)
            return 2
        group = Group(settings, run_dir)
        try:
            figures(group, args.samples)
        finally:
            group.down()
    except HarnessError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
