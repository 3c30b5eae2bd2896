"""systemd as PID 1 in the docker hosts (--dw-systemd): the run options it needs and its boot.

Off by default: the seed's service units (四.3, 十) are then stood in for by daemons the harness spawns.
With it, each container boots /lib/systemd/systemd so dm_service_installer.sh's units and `systemctl`
work as on the seed's hosts. systemd needs a writable cgroup tree (the engine's /sys/fs/cgroup bound rw,
host cgroup namespace: works for cgroup v1, the engine here; v2 is untested), tmpfs /run and /run/lock,
`container=docker`, no docker init (systemd is the init), and SIGRTMIN+3 as the stop signal.
"""

from __future__ import annotations

import shlex
from typing import Any

from harness.errors import UsageError
from harness.wait import wait_until

INIT = "/lib/systemd/systemd"
ENV_CONF = "/etc/systemd/system.conf.d/dmdw-env.conf"


def wanted(opts: dict[str, Any]) -> bool:
    """The `systemd` backend option (--dw-systemd or [backend_options] systemd = true)."""
    v = opts.get("systemd", False)
    if isinstance(v, str):
        v = v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


def host_config_args() -> dict[str, Any]:
    """Extra create_host_config() keyword arguments for a systemd container."""
    return {"init": False, "tmpfs": {"/run": "rw", "/run/lock": "rw"},
            "binds": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}}, "cgroupns": "host"}


def create_args() -> dict[str, Any]:
    """Extra create_container() keyword arguments: systemd as the command, its stop signal."""
    return {"command": [INIT], "stop_signal": "SIGRTMIN+3", "environment": {"container": "docker"}}


def check_start_error(image: str, err: Exception) -> None:
    """A container that cannot exec systemd: one sentence naming the image."""
    if INIT in str(err) or "no such file" in str(err).lower():
        raise UsageError(f"--dw-systemd: image {image} has no {INIT}; add systemd to containers/base/packages.txt "
                         "(the base image rebuilds) or run without --dw-systemd") from None


def wait_booted(host: Any, timeout: float = 60.0) -> None:
    """Wait until systemd reports the system running (or degraded: a unit the container cannot run)."""
    wait_until(lambda: host.run("systemctl is-system-running", user="root", check=False).stdout.strip(),
               timeout, f"systemd on {host.name} to finish booting",
               ok=lambda s: s in ("running", "degraded"), interval=0.3)


def pass_environment(host: Any, env: dict[str, str]) -> None:
    """Give units the host commands' environment (LANGUAGE, the emulator's switches): systemd does not pass
    the container's environment to services. Kept in system.conf.d so a reboot keeps it."""
    line = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
    host.write_file(ENV_CONF, f"[Manager]\nDefaultEnvironment={line}\n", owner="root")
    host.run("systemctl daemon-reexec", user="root", check=True)
