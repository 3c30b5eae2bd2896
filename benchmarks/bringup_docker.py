"""Docker bring-up time from nothing to a healthy group, with images cached and including image builds.

    python benchmarks/bringup_docker.py            # both: cached (target <= 60 s) and cold (target <= 8 min)
    python benchmarks/bringup_docker.py --cached   # only with the images already built
    python benchmarks/bringup_docker.py --cold     # only from no images at all

"Cold" builds the base image (docker pull, else debootstrap over the host's Debian mirror + docker
import) and the emulator image under a throw-away tag prefix (DMDW_IMAGE_PREFIX), so the cached images
other runs use are not touched; those throw-away images are removed at the end. The group bring-up
itself is benchmarks/bringup.py's (seed 四..十一 through the harness's procedure).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bringup import bringup  # noqa: E402

from harness.errors import HarnessError  # noqa: E402
from harness.images import Images, docker_client  # noqa: E402

TARGET_CACHED, TARGET_COLD = 60.0, 480.0


def timed_bringup(label: str) -> float:
    """One bring-up on the docker backend (emulator); prints and returns its total seconds."""
    t0 = time.monotonic()
    total, t_up, steps = bringup("docker", "emulator", "cn", None)
    wall = time.monotonic() - t0
    print(f"{label}: {wall:.1f} s from nothing to a healthy group "
          f"(hosts ready after {t_up:.1f} s incl. images, procedure {total - t_up:.1f} s, {len(steps.steps)} steps)")
    return wall


def cold(prefix: str) -> float:
    """Bring-up with every image built from scratch under prefix; the images are removed afterwards."""
    client = docker_client()
    os.environ["DMDW_IMAGE_PREFIX"] = prefix
    try:
        t0 = time.monotonic()
        images = Images(client, log=lambda m: print(f"    {m}"))
        images.emulator()
        t_images = time.monotonic() - t0
        print(f"    images built in {t_images:.1f} s")
        return t_images + timed_bringup("cold (images built)")
    finally:
        os.environ.pop("DMDW_IMAGE_PREFIX", None)
        for repo in (f"{prefix}/emulator", f"{prefix}/base"):
            for img in client.images.list(name=repo):
                with contextlib.suppress(Exception):
                    client.images.remove(img.id, force=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cached", action="store_true", help="only the bring-up with cached images")
    ap.add_argument("--cold", action="store_true", help="only the bring-up including image builds")
    args = ap.parse_args(argv)
    both = not (args.cached or args.cold)
    results: list[tuple[str, float, float]] = []
    try:
        if args.cached or both:
            Images(docker_client()).emulator()  # make sure the cache is warm: not part of the measure
            results.append(("docker, images cached", timed_bringup("cached"), TARGET_CACHED))
        if args.cold or both:
            results.append(("docker, including image builds", cold(f"dmdw-bench{os.getpid()}"), TARGET_COLD))
    except HarnessError as exc:
        print(f"bring-up failed: {exc}", file=sys.stderr)
        return 1
    for name, seconds, target in results:
        verdict = "ok" if seconds <= target else "OVER TARGET"
        print(f"bring-up ({name}): {seconds:.1f} s (target <= {target:.0f} s) {verdict}")
    return 0 if all(s <= t for _, s, t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
