"""Bring-up time from nothing to a healthy group (seed 四..十一 through the harness's procedure).

    python benchmarks/bringup.py                       # local backend, emulator (target <= 20 s)
    python benchmarks/bringup.py --dw-backend docker   # docker backend (the docker helper's target <= 60 s)
    python benchmarks/bringup.py --dw-backend docker --dw-systemd   # hosts boot systemd; service units

Prints the total, the time to up() the hosts, and the slowest procedure steps. Everything started is
torn down at the end (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.errors import HarnessError  # noqa: E402
from harness.group import Group  # noqa: E402
from harness.settings import Settings  # noqa: E402
from harness.steps import StepLog  # noqa: E402


def bringup(backend_name: str, target: str, lang: str, image: str | None,
            systemd: bool = False) -> tuple[float, float, StepLog]:
    """One bring-up (harness.group, as the suites do it); returns (total seconds, host set-up seconds,
    step log)."""
    run_dir = Path(tempfile.mkdtemp(prefix="dmdw-bringup-"))
    settings = Settings.build(target=target, backend=backend_name, lang=lang, dm8_image=image, seed=0,
                              systemd=systemd)
    group = Group(settings, run_dir)
    t0 = time.monotonic()
    try:
        group.up()
        return time.monotonic() - t0, group.hosts_ready_seconds, group.steps
    finally:
        group.down()
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dw-backend", default="local", choices=["auto", "local", "docker", "vagrant"])
    ap.add_argument("--dw-target", default="emulator", choices=["emulator", "dm8"])
    ap.add_argument("--dm8-image", default=None)
    ap.add_argument("--dw-lang", default="cn", choices=["cn", "en"])
    ap.add_argument("--dw-systemd", action="store_true", help="docker hosts boot systemd (service units)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--top", type=int, default=6, help="slowest steps to print")
    args = ap.parse_args(argv)
    totals = []
    for i in range(args.runs):
        try:
            total, t_up, steps = bringup(args.dw_backend, args.dw_target, args.dw_lang, args.dm8_image,
                                           args.dw_systemd)
        except HarnessError as exc:
            print(f"bring-up failed: {exc}", file=sys.stderr)
            return 1
        totals.append(total)
        print(f"run {i + 1}: bring-up {total:.2f} s (hosts ready after {t_up:.2f} s, {len(steps.steps)} steps)")
        for s in sorted(steps.steps, key=lambda s: -s.duration)[:args.top]:
            print(f"    {s.duration:6.2f} s  {s.host:8} {s.step}")
    mode = "/systemd" if args.dw_systemd else ""
    print(f"bring-up ({args.dw_backend}{mode}/{args.dw_target}): best {min(totals):.2f} s, "
          f"mean {sum(totals) / len(totals):.2f} s over {len(totals)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
