"""Backend selection: --dw-backend auto|docker|local|vagrant|ssh -> a Backend instance.

Each backend module exposes a Backend subclass taking BackendOptions: local.LocalBackend,
docker.DockerBackend, vagrant.VagrantBackend, ssh.SshBackend (existing hosts). `auto` picks docker when an engine answers, else local.
"""

from __future__ import annotations

import importlib

from harness.backends.base import Backend, BackendOptions, CommandResult, Host, Process
from harness.errors import HarnessError, UsageError

__all__ = ["Backend", "BackendOptions", "CommandResult", "Host", "Process", "BACKENDS", "make_backend",
           "docker_available"]

BACKENDS = {"local": ("harness.backends.local", "LocalBackend"),
            "docker": ("harness.backends.docker", "DockerBackend"),
            "vagrant": ("harness.backends.vagrant", "VagrantBackend"),
            "ssh": ("harness.backends.ssh", "SshBackend")}


def docker_available(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers a ping (used by --dw-backend auto)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False


def resolve_name(name: str, target: str) -> str:
    """Resolve 'auto' and check the backend suits the target (local runs the emulator only)."""
    if name == "auto":
        name = "docker" if docker_available() and _module_present("docker") else "local"
    if name not in BACKENDS:
        raise UsageError(f"--dw-backend must be one of auto, {', '.join(BACKENDS)}; got {name!r}")
    if name == "local" and target != "emulator":
        raise UsageError("--dw-backend local runs the emulator only; use --dw-backend docker or vagrant "
                         "with --dw-target dm8")
    return name


def _module_present(name: str) -> bool:
    mod = BACKENDS[name][0]
    try:
        importlib.import_module(mod)
    except ImportError:
        return False
    return True


def make_backend(name: str, options: BackendOptions) -> Backend:
    """Instantiate the named backend ('auto' resolved first)."""
    name = resolve_name(name, options.target)
    mod_name, cls_name = BACKENDS[name]
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise HarnessError(f"the {name} backend is not available ({mod_name}: {exc}); "
                           f"choose another with --dw-backend") from None
    cls = getattr(mod, cls_name)
    return cls(options)
