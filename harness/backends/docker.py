"""The docker backend: host1, host2 and monitor as containers on the seed's two networks.

Images come from harness.images (built locally, no registry). adapt() creates two user-defined bridge
networks, internal and external, with the seed's subnets when they are free on this machine (otherwise
free private /24s, keeping each host's last octet) and gives every host its static addresses there.
up() starts one long-running container per host (`--init`, NET_ADMIN for iptables/tc chaos, hostname
host1/host2/monitor). Commands run through `docker exec` as dmdba by default.

Everything this backend creates carries the labels dmdw.run=<run-id> and dmdw.owner=<machine>:<pid>:
<process start time>, so down() removes exactly its own objects and cleanup_stale() removes what a run
that was killed (SIGKILL, power loss) left behind: objects whose owner process no longer exists.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends import docker_systemd
from harness.backends.base import BackendOptions, CommandResult, Host, NetShell, ProxySite
from harness.backends.owner import owner_alive, owner_label
from harness.backends.shell import LOG_DIR, ShellBackend, ShellHost, ShellProcess, host_env, write_line
from harness.errors import HarnessError, UsageError
from harness.wait import wait_until

if TYPE_CHECKING:
    import pexpect

    from harness.topology import Topology

LABEL_RUN = "dmdw.run"
LABEL_OWNER = "dmdw.owner"
SEED_SUBNETS = {"internal": "192.168.56.0/24", "external": "192.168.0.0/24"}
# Fallbacks when the seed's subnets clash with this machine's networks: (internal, external) pairs.
FALLBACK_SUBNETS = [(f"10.56.{i}.0/24", f"10.57.{i}.0/24") for i in range(0, 250, 2)]
SUBNET_LOCK_PATH = Path(tempfile.gettempdir()) / "dmdw-subnets.lock"


def subnet_lock() -> contextlib.AbstractContextManager[None]:
    """Held around "pick free subnets + create the networks": parallel runs and xdist workers on this
    machine take turns, so two never pick the same free pair."""
    from harness.images import file_lock

    return file_lock(SUBNET_LOCK_PATH)


def cleanup_stale(client: Any) -> list[str]:
    """Remove labelled containers and networks whose owning process is gone; returns their names."""
    removed: list[str] = []
    for c in client.containers.list(all=True, filters={"label": LABEL_RUN}):
        if not owner_alive(c.labels.get(LABEL_OWNER, "")):
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed.append(c.name)
    for n in client.networks.list(filters={"label": LABEL_RUN}):
        if not owner_alive((n.attrs.get("Labels") or {}).get(LABEL_OWNER, "")):
            with contextlib.suppress(Exception):
                n.remove()
                removed.append(n.name)
    return removed


def _of_runs(client: Any, prefix: str) -> list[tuple[str, Any, str]]:
    """(kind, object, owner label) of labelled containers, then networks, whose run id starts with prefix."""
    out = [("container", c, c.labels.get(LABEL_OWNER, ""))
           for c in client.containers.list(all=True, filters={"label": LABEL_RUN})
           if c.labels.get(LABEL_RUN, "").startswith(prefix)]
    for n in client.networks.list(filters={"label": LABEL_RUN}):
        labels = n.attrs.get("Labels") or {}
        if labels.get(LABEL_RUN, "").startswith(prefix):
            out.append(("network", n, labels.get(LABEL_OWNER, "")))
    return out


def leftovers(prefix: str, client: Any | None = None) -> list[str]:
    """Names of containers and networks of runs whose id starts with prefix (an xdist controller's workers)."""
    from harness import images

    return [obj.name for _kind, obj, _owner in _of_runs(client or images.docker_client(), prefix)]


def sweep(prefix: str, *, force: bool = False, client: Any | None = None) -> list[str]:
    """Remove the objects of runs whose id starts with prefix and whose owner process is gone (with
    force: all of them); containers first, so their networks can go. Returns the removed names."""
    from harness import images

    removed = []
    for _kind, obj, owner in _of_runs(client or images.docker_client(), prefix):
        if force or not owner_alive(owner):
            with contextlib.suppress(Exception):
                obj.remove(force=True) if _kind == "container" else obj.remove()
                removed.append(obj.name)
    return removed


def labelled(client: Any, run_id: str | None = None) -> list[str]:
    """Names of containers and networks with a dmdw.run label (of one run, or of any run)."""
    flt = {"label": f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN}
    return ([c.name for c in client.containers.list(all=True, filters=flt)]
            + [n.name for n in client.networks.list(filters=flt)])


# ---- subnets ---------------------------------------------------------------------------------------
def used_networks(client: Any) -> list[ipaddress.IPv4Network]:
    """IPv4 networks already in use here: routes, interface addresses, Docker networks' subnets."""
    nets: list[ipaddress.IPv4Network] = []
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+/\d+)", out):
        nets.append(ipaddress.ip_interface(m.group(1)).network)
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        dest = line.split()[0] if line.split() else ""
        if dest in ("default", "broadcast", "local", "unreachable", "blackhole", "prohibit"):
            dest = line.split()[1] if dest != "default" and len(line.split()) > 1 else ""
        with contextlib.suppress(ValueError):
            if dest and dest != "0.0.0.0/0":
                net = ipaddress.ip_network(dest, strict=False)
                if net.prefixlen > 0 and not net.is_loopback:
                    nets.append(net)
    for n in client.networks.list():
        for cfg in ((n.attrs.get("IPAM") or {}).get("Config") or []):
            with contextlib.suppress(ValueError, KeyError):
                nets.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    return nets


def pick_subnets(wanted: dict[str, str] | None, used: list[ipaddress.IPv4Network]) -> dict[str, str]:
    """Subnets for internal/external: the wanted ones (validated), else the seed's if free, else a free pair."""
    def free(cidr: str) -> bool:
        net = ipaddress.ip_network(cidr)
        return not any(net.overlaps(u) for u in used)

    if wanted:
        for role in ("internal", "external"):
            cidr = wanted.get(role, "")
            try:
                net = ipaddress.ip_network(cidr)
            except ValueError:
                raise UsageError(f"docker {role}_subnet must be an IPv4 network like 192.168.56.0/24, not {cidr!r}") from None
            if net.prefixlen > 29:
                raise UsageError(f"docker {role}_subnet {cidr} is too small (need /29 or larger)")
            if not free(cidr):
                raise UsageError(f"docker {role}_subnet {cidr} overlaps a network of this machine; choose another")
        if ipaddress.ip_network(wanted["internal"]).overlaps(ipaddress.ip_network(wanted["external"])):
            raise UsageError("docker internal_subnet and external_subnet overlap; choose two distinct networks")
        return {"internal": wanted["internal"], "external": wanted["external"]}
    for internal, external in [(SEED_SUBNETS["internal"], SEED_SUBNETS["external"]), *FALLBACK_SUBNETS]:
        if free(internal) and free(external):
            return {"internal": internal, "external": external}
    raise HarnessError("no free private /24 pair for the docker networks; set docker internal_subnet/external_subnet")


def move_ip(ip: str, subnet: str) -> str:
    """The address with ip's host part inside subnet (192.168.56.201 -> 10.56.0.201 for 10.56.0.0/24)."""
    net = ipaddress.ip_network(subnet)
    addr = ipaddress.ip_address(ip)
    if addr in net:
        return ip
    host_bits = int(addr) & int(net.hostmask)
    moved = ipaddress.ip_address(int(net.network_address) | host_bits)
    if moved in (net.network_address, net.broadcast_address) or moved == next(net.hosts()):
        raise UsageError(f"host address {ip} cannot be moved into {subnet} (network, broadcast or gateway)")
    return str(moved)


# ---- hosts -----------------------------------------------------------------------------------------
class DockerHost(ShellHost):
    """A host as a running container; every command is a `docker exec`."""

    def __init__(self, backend: DockerBackend, name: str, role: str, internal_ip: str,
                 external_ip: str | None, container: str, dm_home: str, lang: str) -> None:
        self.backend, self.name, self.role = backend, name, role
        self.internal_ip, self.external_ip = internal_ip, external_ip
        self.container, self.dm_home = container, dm_home
        self.env = host_env(dm_home, lang)
        self._ti: Any = None
        self.processes: list[ShellProcess] = []

    @property
    def ti(self) -> Any:  # type: ignore[override]
        """testinfra host docker://root@<container>."""
        if self._ti is None:
            import testinfra

            self._ti = testinfra.get_host(f"docker://root@{self.container}")
        return self._ti

    def _env_args(self, env: dict[str, str] | None) -> list[str]:
        full = {**self.env, **self.backend.extra_env, **(env or {})}
        args: list[str] = []
        for k, v in full.items():
            args += ["-e", f"{k}={v}"]
        return args

    def _exec(self, argv: list[str], *, user: str, env: dict[str, str] | None, stdin: bytes | None,
              timeout: float, interactive: bool = False) -> subprocess.CompletedProcess:
        home = "/root" if user == "root" else f"/home/{user}"
        cmd = ["docker", "exec", "-u", user, "-w", home, *(["-i"] if interactive else []),
               *self._env_args(env), self.container, *argv]
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)

    def run(self, cmd: str, *, user: str = "dmdba", timeout: float = 60, check: bool = True,
            env: dict[str, str] | None = None) -> CommandResult:
        t0 = time.monotonic()
        # `timeout` inside the container kills the command itself, not only the docker client.
        argv = ["timeout", "-k", "5", f"{max(timeout, 1):.0f}", "bash", "-c", cmd]
        try:
            p = self._exec(argv, user=user, env=env, stdin=None, timeout=timeout + 30)
            rc, out, err = p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            rc, out, err = -9, (e.stdout or b"").decode(errors="replace"), "docker exec did not return"
        if rc == 124:
            err += f"\n[harness] timed out after {timeout}s"
        res = CommandResult(cmd, rc, out, err, time.monotonic() - t0, self.name)
        return res.check() if check else res

    def interactive(self, cmd: str, *, env: dict[str, str] | None = None,
                    encoding: str = "utf-8") -> pexpect.spawn:
        import pexpect

        args = ["exec", "-it", "-u", "dmdba", "-w", "/home/dmdba", *self._env_args(env), self.container,
                "bash", "-c", "exec " + cmd]
        return pexpect.spawn("docker", args, encoding=encoding, codec_errors="replace", timeout=30,
                             dimensions=(200, 400))

    def read_file(self, p: str, *, mapped: bool = False) -> str:
        r = self._exec(["cat", p], user="root", env=None, stdin=None, timeout=60)
        if r.returncode != 0:
            raise FileNotFoundError(f"{self.name}:{p}: {r.stderr.decode(errors='replace').strip()}")
        return r.stdout.decode(errors="replace")

    def write_file(self, p: str, text: str, owner: str = "dmdba", *, mapped: bool = False) -> None:
        script = write_line(shlex.quote(p), owner, "cat")
        r = self._exec(["sh", "-c", script], user="root", env=None, stdin=text.encode(), timeout=60,
                       interactive=True)
        if r.returncode != 0:
            raise HarnessError(f"writing {p} on {self.name} failed: {r.stderr.decode(errors='replace').strip()}")

# ---- backend ---------------------------------------------------------------------------------------
class DockerBackend(ShellBackend):
    """Three containers on two labelled bridge networks; nothing outlives down()."""

    name = "docker"

    def __init__(self, options: BackendOptions, client: Any | None = None) -> None:
        from harness import images

        self.options = options
        self.client = client or images.docker_client()
        self.images = images.Images(self.client, log=options.extra.get("log", lambda _m: None))
        self.run_id = f"{options.run_id}-{uuid.uuid4().hex[:8]}"
        self.owner = owner_label()
        self.labels = {LABEL_RUN: self.run_id, LABEL_OWNER: self.owner}
        self.hosts: dict[str, Host] = {}
        self.networks: dict[str, Any] = {}
        self.subnets: dict[str, str] = {}
        self.extra_env: dict[str, str] = {}  # added to every host command (e.g. DMEMU_BUGS)
        self.systemd = False  # systemd as PID 1 in the containers (--dw-systemd)
        self.image: str | None = None
        self.helper_image: str | None = None  # dmdw/base: iptables, tc, python3 (chaos helpers, toxiproxy)
        self._adapted: Topology | None = None
        self._down = False
        if options.target not in ("emulator", "dm8"):
            raise UsageError(f"--dw-target must be emulator or dm8, not '{options.target}'")
        if options.target == "dm8":
            images.check_dm8_args(options.dm8_installer, options.dm8_image, options.dm_home)
        atexit.register(self._atexit)

    # ---- topology ------------------------------------------------------------------------------
    def _wanted_subnets(self, topology: Topology) -> dict[str, str] | None:
        opts = {**topology.backend_options, **self.options.extra}
        internal, external = opts.get("internal_subnet"), opts.get("external_subnet")
        if internal is None and external is None:
            return None
        if not (internal and external):
            raise UsageError("set both docker internal_subnet and external_subnet, or neither")
        return {"internal": str(internal), "external": str(external)}

    def adapt(self, topology: Topology) -> Topology:
        """Create the two networks (free subnets) and move the hosts' addresses into them."""
        if self._adapted is not None:
            return self._adapted
        cleanup_stale(self.client)
        t = topology.copy()
        t.paths.dm_home = self.options.dm_home or t.paths.dm_home
        wanted = self._wanted_subnets(t)
        with subnet_lock():
            for attempt in range(5):
                self.subnets = pick_subnets(wanted, used_networks(self.client))
                try:
                    for role in ("internal", "external"):
                        self.networks[role] = self._create_network(role, self.subnets[role])
                    break
                except Exception as e:  # noqa: BLE001 - a concurrent run took the subnet: pick again
                    self._remove_networks()
                    if wanted or attempt == 4 or "overlap" not in str(e).lower():
                        raise HarnessError(f"creating the docker networks {self.subnets} failed: {e}") from None
        for h in t.hosts.values():
            h.internal_ip = move_ip(h.internal_ip, self.subnets["internal"])
            if h.external_ip:
                h.external_ip = move_ip(h.external_ip, self.subnets["external"])
        self._adapted = t
        return t

    def _create_network(self, role: str, subnet: str) -> Any:
        import docker.types

        net = ipaddress.ip_network(subnet)
        gateway = str(next(net.hosts()))
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
        return self.client.networks.create(
            f"dmdw-{self.run_id}-{role}", driver="bridge", ipam=ipam, labels=self.labels, check_duplicate=True,
        )

    # ---- lifecycle -----------------------------------------------------------------------------
    def up(self, topology: Topology) -> dict[str, Host]:
        """Images (cached or built), then one container per host with its static addresses."""
        try:
            return self._up(topology)
        except BaseException as e:
            self.down()
            if isinstance(e, HarnessError | KeyboardInterrupt):
                raise
            raise HarnessError(f"starting the docker topology failed: {str(e).splitlines()[0]}") from None

    def _up(self, topology: Topology) -> dict[str, Host]:
        t = self.adapt(topology)
        self.image = self.images.for_target(self.options.target, dm8_installer=self.options.dm8_installer,
                                            dm8_image=self.options.dm8_image, dm_home=t.paths.dm_home)
        self.helper_image = self.images.base()
        etc_hosts = {h.name: h.internal_ip for h in t.hosts.values()}
        self.systemd = docker_systemd.wanted({**t.backend_options, **self.options.extra})
        for spec in t.hosts.values():
            self._start_container(spec.name, spec.internal_ip, spec.external_ip, etc_hosts)
            self.hosts[spec.name] = DockerHost(self, spec.name, spec.role, spec.internal_ip, spec.external_ip,
                                               f"dmdw-{self.run_id}-{spec.name}", t.paths.dm_home, self.options.lang)
            self.hosts[spec.name].systemd = self.systemd
        if self.systemd:
            for h in self.hosts.values():
                docker_systemd.wait_booted(h)
                docker_systemd.pass_environment(h, {**h.env, **self.extra_env})
        for h in self.hosts.values():
            wait_until(lambda h=h: h.run("id -u dmdba", user="root", check=False).stdout.strip() == str(t.os.uid),
                       60, f"container {h.name} to run with user dmdba (uid {t.os.uid})")
            h.run(f"mkdir -p {LOG_DIR} && chmod 1777 {LOG_DIR}", user="root")
        return self.hosts

    def _start_container(self, name: str, internal_ip: str, external_ip: str | None,
                         etc_hosts: dict[str, str]) -> None:
        api = self.client.api
        cname = f"dmdw-{self.run_id}-{name}"
        import resource

        import docker.types

        # the seed's 三.2 limits (nofile 65536, nproc 10240), which a container cannot raise by itself;
        # nofile is capped by the engine's own hard limit (conformance reports the cap)
        nofile = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        limits = [docker.types.Ulimit(name="nofile", soft=nofile, hard=nofile),
                  docker.types.Ulimit(name="nproc", soft=10240, hard=10240)]
        sd = self.systemd
        host_config = api.create_host_config(cap_add=["NET_ADMIN"], extra_hosts=etc_hosts, ulimits=limits,
                                             **(docker_systemd.host_config_args() if sd else {"init": True}))
        net_config = api.create_networking_config(
            {self.networks["internal"].name: api.create_endpoint_config(ipv4_address=internal_ip)}
        )
        run = docker_systemd.create_args() if sd else {"command": ["sleep", "infinity"], "environment": {}}
        api.create_container(self.image, command=run["command"], name=cname, hostname=name,
                             labels={**self.labels, "dmdw.host": name}, host_config=host_config,
                             networking_config=net_config, stop_signal=run.get("stop_signal"),
                             environment={"LANGUAGE": self.options.lang, **run["environment"]})
        if external_ip:
            api.connect_container_to_network(cname, self.networks["external"].name, ipv4_address=external_ip)
        try:
            api.start(cname)
        except Exception as e:  # noqa: BLE001 - an image without systemd: one sentence
            if sd:
                docker_systemd.check_start_error(self.image or "", e)
            raise

    def reboot(self, host: Host) -> None:
        """A host reboot: restart its container (systemd's stop signal, then its boot); wait for systemd."""
        if not self.systemd:
            raise UsageError("a host reboot that brings services back needs --dw-systemd")
        self.client.api.restart(host.container, timeout=60)  # type: ignore[attr-defined]
        docker_systemd.wait_booted(host)

    def _remove(self) -> None:
        """Remove this run's containers and networks (found by label, so a half-made run goes too)."""
        flt = {"label": f"{LABEL_RUN}={self.run_id}"}
        for c in self.client.containers.list(all=True, filters=flt):
            with contextlib.suppress(Exception):
                c.remove(force=True)
        self._remove_networks()
        for n in self.client.networks.list(filters=flt):
            with contextlib.suppress(Exception):
                n.remove()

    def _remove_networks(self) -> None:
        for role, net in list(self.networks.items()):
            with contextlib.suppress(Exception):
                net.remove()
            self.networks.pop(role, None)

    # ---- what chaos needs ------------------------------------------------------------------------
    def net_mechanism(self) -> str:
        return "iptables"

    def _helper_image(self) -> str:
        image = self.helper_image or self.image
        if not image:
            raise HarnessError("the docker backend has no image for the network helper (dmdw/base); call up() first")
        return image

    def net_shell(self, host: Host) -> NetShell:
        """A helper container in the host container's network namespace (NET_ADMIN; iptables, tc, python3)."""
        from harness.backends.docker_net import NetnsHelper

        return NetnsHelper(host.container, self._helper_image(), dict(self.labels))  # type: ignore[attr-defined]

    def proxy_site(self, *, binary: str | None = None, image: str | None = None,
                   log_path: str | None = None) -> ProxySite:
        """A Toxiproxy container on the internal network; dials are DNATed into it."""
        from harness.backends.docker_net import ToxiproxyContainer

        server = ToxiproxyContainer(self.networks["internal"].name, self._helper_image(), dict(self.labels),
                                    f"dmdw-{self.run_id}-toxiproxy", image=image)
        return ProxySite(server.api, "0.0.0.0", "dnat", server.close, dnat_ip=server.ip,
                         ports=iter(range(21000, 22000)))

    # ---- access from the pytest process ------------------------------------------------------------
    def cleanup_hint(self) -> str:
        flt = f"label={LABEL_RUN}={self.run_id}"
        return (f"docker rm -f $(docker ps -aq --filter {flt}); "
                f"docker network rm $(docker network ls -q --filter {flt})")
