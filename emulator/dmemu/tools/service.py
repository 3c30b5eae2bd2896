"""dm_service_installer.sh / dm_service_uninstaller.sh: DM8's service registration (run as root).

`-t dmserver|dmwatcher|dmmonitor -p SUFFIX -dm_ini|-watcher_ini|-monitor_ini FILE [-m open|mount]`
copies a service script to DM_HOME/bin/<Name><SUFFIX> (its INI_PATH and START_MODE set) and writes the
systemd unit /usr/lib/systemd/system/<Name><SUFFIX>.service (Type=forking, PIDFile, ExecStart/ExecStop
calling the script), then enables it. Names and unit keys follow Dameng's script manual; see
emulator/README.md "Service units" for the sources and what is unverified. The script works without
systemd too: `DmServicemema1 start|stop|status|restart`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .. import bugs

# DMEMU_SERVICE_ROOT re-roots the unit directories (the emulator's own tests; default /)
_ROOT = Path(os.environ.get("DMEMU_SERVICE_ROOT", "/"))
UNIT_DIR = _ROOT / "usr/lib/systemd/system"
WANTS_DIR = _ROOT / "etc/systemd/system/multi-user.target.wants"
# service type -> (name prefix, ini option, program, unit description)
TYPES = {
    "dmserver": ("DmService", "-dm_ini", "dmserver", "Dameng Database Service"),
    "dmwatcher": ("DmWatcherService", "-watcher_ini", "dmwatcher", "Dameng Data Watcher Service"),
    "dmmonitor": ("DmMonitorService", "-monitor_ini", "dmmonitor", "Dameng Data Watch Monitor Service"),
}
USAGE = ("Usage: dm_service_installer.sh -t service_type [-p service_name_postfix] [-dm_ini dm_ini_file]\n"
         "[-watcher_ini watcher_ini_file ] [-monitor_ini monitor_ini_file] [-m open|mount]\n"
         "or dm_service_installer.sh -h\n"
         "-t 服务类型,包括dmserver,dmwatcher,dmmonitor\n"
         "-p 服务名后缀\n"
         "-m 设置服务器启动模式open或mount,只针对dmserver服务类型生效,可选\n")

# The service script (DM8 ships a template in bin/service_template and the installer fills INI_PATH and
# START_MODE). This one is the emulator's own: start the program as dmdba in the background, record its
# pid for systemd's PIDFile, find it again by its ini path for stop/status.
SCRIPT = r"""#!/bin/sh
# {name}: DM8 service script written by dm_service_installer.sh (dmemu)
DM_HOME="{dm_home}"
INI_PATH="{ini}"
START_MODE="{mode}"
PROG="{prog}"
NAME="{name}"
PID_FILE="$DM_HOME/bin/pids/$NAME.pid"
LOG_FILE="$DM_HOME/log/$NAME.out"
IS_DISABLED=false

find_pid() {{
    pgrep -f "^python3 -c .*$PROG.* $INI_PATH( |\$)" | head -n 1
}}

do_start() {{
    if [ -n "$(find_pid)" ]; then
        echo "$NAME (pid $(find_pid)) is running."
        return 0
    fi
    mkdir -p "$DM_HOME/bin/pids" "$DM_HOME/log"
    args="$INI_PATH"
    [ "$PROG" = dmserver ] && args="$INI_PATH -noconsole"
    [ "$PROG" = dmserver ] && [ "$START_MODE" = mount ] && args="$args mount"
    cmd="nohup $DM_HOME/bin/$PROG $args >>$LOG_FILE 2>&1 </dev/null & echo \$! >$PID_FILE"
    if [ "$(id -u)" = 0 ] && id dmdba >/dev/null 2>&1; then
        chown dmdba "$DM_HOME/bin/pids" "$DM_HOME/log" 2>/dev/null
        runuser -u dmdba -- sh -c "$cmd"
    else
        sh -c "$cmd"
    fi
    printf 'Starting %s: ' "$NAME"
    i=0
    while [ $i -lt 600 ]; do
        pid=$(cat "$PID_FILE" 2>/dev/null)
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "[ FAILED ]"
            return 1
        fi
        if [ "$PROG" != dmserver ] && [ $i -ge 10 ]; then break; fi
        if [ "$PROG" = dmserver ] && grep -q "SYSTEM IS READY" "$LOG_FILE" 2>/dev/null \
           && [ "$(grep -c "SYSTEM IS READY" "$LOG_FILE")" -gt "${{ready_before:-0}}" ]; then break; fi
        i=$((i + 1))
        sleep 0.1
    done
    echo "[ OK ]"
}}

do_stop() {{
    pid=$(find_pid)
    printf 'Stopping %s: ' "$NAME"
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then echo "[ FAILED ]"; return 1; fi
    fi
    rm -f "$PID_FILE"
    echo "[ OK ]"
}}

do_status() {{
    pid=$(find_pid)
    if [ -n "$pid" ]; then echo "$NAME (pid $pid) is running."; return 0; fi
    echo "$NAME is stopped."
    return 3
}}

ready_before=$(grep -c "SYSTEM IS READY" "$LOG_FILE" 2>/dev/null || echo 0)
case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    restart) do_stop && do_start ;;
    *) echo "Usage: $0 {{start|stop|status|restart}}"; exit 1 ;;
esac
"""

UNIT = """[Unit]
Description={desc}({name}).
After=network.target remote-fs.target

[Service]
Type=forking
PIDFile={dm_home}/bin/pids/{name}.pid
ExecStart={dm_home}/bin/{name} start
ExecStop={dm_home}/bin/{name} stop
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""


def _dm_home() -> str:
    """DM_HOME: the environment's, else two levels above script/root."""
    return os.environ.get("DM_HOME") or str(Path(sys.argv[0]).resolve().parent.parent.parent)


def systemd_running() -> bool:
    """True when systemd is PID 1 on this host (its runtime directory exists)."""
    return Path("/run/systemd/system").is_dir()


def _parse(argv: list[str]) -> dict[str, str]:
    opts: dict[str, str] = {}
    it = iter(argv)
    for a in it:
        if a == "-h":
            opts["h"] = "1"
            continue
        if not a.startswith("-"):
            raise ValueError(f"无效的参数: {a}")
        try:
            opts[a[1:]] = next(it)
        except StopIteration:
            raise ValueError(f"参数 {a} 缺少值") from None
    return opts


def install(opts: dict[str, str], dm_home: str) -> str:
    """Write the script and the unit for one service; returns the service name."""
    kind = opts.get("t", "")
    if kind not in TYPES:
        raise ValueError(f"不支持的服务类型: {kind or '(none)'}")
    prefix, ini_opt, prog, desc = TYPES[kind]
    ini = opts.get(ini_opt[1:], "")
    if not ini:
        raise ValueError(f"服务类型 {kind} 需要 {ini_opt} 参数")
    if not Path(ini).is_file():
        raise ValueError(f"文件 {ini} 不存在")
    mode = opts.get("m", "open").lower()
    if mode not in ("open", "mount"):
        raise ValueError(f"无效的启动模式: {mode}")
    if kind != "dmserver" or bugs.active("service-ignores-mount"):
        mode = "open" if kind == "dmserver" else ""
    name = prefix + opts.get("p", "")
    script = Path(dm_home) / "bin" / name
    script.write_text(SCRIPT.format(name=name, dm_home=dm_home, ini=ini, mode=mode, prog=prog))
    script.chmod(0o755)
    UNIT_DIR.mkdir(parents=True, exist_ok=True)
    (UNIT_DIR / f"{name}.service").write_text(UNIT.format(desc=desc, name=name, dm_home=dm_home))
    _enable(name)
    return name


def _enable(name: str) -> None:
    unit = UNIT_DIR / f"{name}.service"
    link = WANTS_DIR / f"{name}.service"
    if bugs.active("service-not-enabled"):
        return
    if systemd_running():
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        subprocess.run(["systemctl", "enable", name], check=False)
        return
    WANTS_DIR.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(unit)
    print(f"Created symlink {link} → {unit}.")


def installer_main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = _parse(argv)
        if "h" in opts or not argv:
            print(USAGE, end="")
            return 0 if argv else 1
        if os.geteuid() != 0:
            raise ValueError("请使用root用户执行此脚本")
        name = install(opts, _dm_home())
    except ValueError as e:
        print(e)
        return 1
    print(f"创建服务({name})完成")
    return 0


def uninstall(name: str, dm_home: str) -> None:
    """Stop, disable and remove one service's unit and script."""
    unit, script = UNIT_DIR / f"{name}.service", Path(dm_home) / "bin" / name
    if not unit.exists() and not script.exists():
        raise ValueError(f"服务 {name} 不存在")
    if systemd_running():
        subprocess.run(["systemctl", "stop", name], check=False)
        subprocess.run(["systemctl", "disable", name], check=False)
    elif script.exists():
        subprocess.run([str(script), "stop"], check=False)
    for p in (WANTS_DIR / f"{name}.service", unit, script):
        p.unlink(missing_ok=True)
    if systemd_running():
        subprocess.run(["systemctl", "daemon-reload"], check=False)


def uninstaller_main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = _parse(argv)
        if "h" in opts or "n" not in opts:
            print("Usage: dm_service_uninstaller.sh -n service_name\n-n 服务名\n-h 帮助")
            return 0 if "h" in opts else 1
        if os.geteuid() != 0:
            raise ValueError("请使用root用户执行此脚本")
        uninstall(opts["n"], _dm_home())
    except ValueError as e:
        print(e)
        return 1
    print(f"删除服务({opts['n']})完成")
    return 0
