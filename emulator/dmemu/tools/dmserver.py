"""dmserver <dm.ini> [mount] [-noconsole]: one DM8 instance serving the DM wire protocol on PORT_NUM.

With MAL_INI=1 it also starts the Data Watch instance side (dmemu.dw.start_for_instance).
SIGTERM/SIGINT, SQL SHUTDOWN or `exit` on a console TTY stop it normally; the log goes to
<LOG_PATH or <db dir>/log>/dm_<INSTANCE>_<yyyymm>.log.
"""

from __future__ import annotations

import datetime as _dt
import errno
import faulthandler
import os
import signal
import socket
import socketserver
import sys
import threading

from .. import BUILD_VERSION, SERVER_VERSION
from ..errors import DmError, err
from ..instance import Instance

USAGE = "格式: dmserver [ini_file_path] [-noconsole] [mount] [path=<ini>]"


class Console:
    """Prints DM8-style server lines to stdout and the server log."""

    def __init__(self):
        self.log = None

    def open_log(self, inst: Instance) -> None:
        d = inst.ini.get("LOG_PATH") or os.path.join(inst.path, "log")
        os.makedirs(d, exist_ok=True)
        self.log = open(os.path.join(d, f"dm_{inst.name}_{_dt.datetime.now():%Y%m}.log"), "a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        if self.log:
            self.log.write(f"{_dt.datetime.now():%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" [INFO] database P{os.getpid():010d} "
                           f"T{threading.get_ident() % 10**10:010d}  {line}\n")
            self.log.flush()


def parse_args(argv: list[str]) -> tuple[str, bool]:
    ini, mount = None, False
    for a in argv:
        low = a.lower()
        if low == "mount":
            mount = True
        elif low.startswith("path="):
            ini = a.split("=", 1)[1]
        elif low in ("-noconsole", "-console") or "=" in low:
            continue
        elif ini is None:
            ini = a
        else:
            raise DmError(-803, f"{USAGE}")
    if ini is None:
        ini = os.path.join(os.getcwd(), "dm.ini")
    return os.path.abspath(ini), mount


def listen_host(inst: Instance) -> str:
    """Listening address: dm.ini LISTEN_IP, else DMEMU_LISTEN_HOST (emulator-only), else all interfaces."""
    return inst.ini.get("LISTEN_IP") or os.environ.get("DMEMU_LISTEN_HOST") or "0.0.0.0"


def check_port(host: str, port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            raise err(-8520, "port_in_use", port=port) from None
        raise
    finally:
        s.close()


class _Listener:
    """Adapts a socketserver to the Instance's listener protocol (stop())."""

    def __init__(self, srv):
        self.srv = srv

    def stop(self) -> None:
        if isinstance(self.srv, socketserver.BaseServer):
            self.srv.shutdown()
            self.srv.server_close()
        elif hasattr(self.srv, "stop"):
            self.srv.stop()
        else:
            self.srv.close()


def start_wire(inst: Instance, host: str, port: int) -> None:
    from ..wire.server import serve
    inst.listeners.append(_Listener(serve(inst, host, port)))


def start_dw(inst: Instance) -> None:
    """MAL_INI=1: start the Data Watch instance side (MAL + the watcher channel) from dmemu.dw."""
    from ..dw import start_for_instance
    start_for_instance(inst)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    say = Console()
    stop = threading.Event()
    try:
        ini_path, mount = parse_args(argv)
        inst = Instance(ini_path)
        host, port = listen_host(inst), int(inst.ini.get("PORT_NUM", "5236"))
        check_port(host, port)
        say.open_log(inst)
        say("file dm.key not found, use default license!")
        say("version info: develop")
        say(f"DM Database Server 64 V{SERVER_VERSION}-{BUILD_VERSION} startup...")
        for pool in ("FAST", "DEFAULT", "RECYCLE", "KEEP", "ROLL"):
            say(f"Normal of {pool}")
        say(f"Database mode = {['NORMAL', 'PRIMARY', 'STANDBY'].index(inst.mode)}, oguid = {inst.oguid}")
        say(f"License will expire on {(_dt.date.today() + _dt.timedelta(days=365)):%Y-%m-%d}")
        inst.start(mount)
        inst.on_shutdown_request = stop.set
        say(f"file lsn: {inst.file_lsn}")
        say("ndct db load finished")
        say("pseg recv finished")
        say("nsvr_startup end.")
        say("aud sys init success.")
        say("systables desc init success.")
        try:
            start_wire(inst, host, port)
            if inst.ini.get("MAL_INI", "0") == "1":
                start_dw(inst)
        except BaseException:
            inst.shutdown()
            raise
        say("SYSTEM IS READY.")
        if inst.status != "OPEN":
            say(f"database is in {inst.status} state, mode {inst.mode}")
    except DmError as e:
        print(f"[{e.code}]:{e.message}" if e.code != -803 else e.message, file=sys.stderr, flush=True)
        return 1
    except OSError as e:
        print(f"{e.strerror}: {e.filename or ''}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:                       # noqa: BLE001 - one line, not a traceback
        print(f"dmserver: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1

    def _sig(signum, frame):
        stop.set()

    faulthandler.register(signal.SIGUSR1, all_threads=True)   # `kill -USR1` dumps every thread's stack
    signal.signal(signal.SIGTERM, _sig)
    signal.signal(signal.SIGINT, _sig)
    if sys.stdin is not None and sys.stdin.isatty():
        def _console():
            for line in sys.stdin:
                if line.strip().lower() in ("exit", "quit"):
                    stop.set()
                    return
        threading.Thread(target=_console, daemon=True).start()
    while not stop.wait(1.0):
        pass
    say("Server is stopping...")
    inst.shutdown(normal=True)
    say("DM Database Server shutdown successfully.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
