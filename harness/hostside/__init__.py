"""Programs the harness runs on the hosts (or beside them) rather than in the pytest process.

nfqdelay.py   stdlib-only NFQUEUE packet delayer, copied into a host's network namespace (one file)
toxiproxy/    the offline Toxiproxy-compatible server (`toxiproxy-server`), stdlib-only; shipped into a
              container as one zip application
Both import nothing from the harness, so they run on any host with a Python 3 interpreter.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZIP_PACKAGE = "dmdw_toxiproxy"  # the server's package name inside the zip (not toxiproxy-python's)


def nfqdelay_source() -> bytes:
    """The NFQUEUE delayer as one Python file."""
    return (HERE / "nfqdelay.py").read_bytes()


def toxiproxy_sources() -> list[Path]:
    """The server's source files (for content hashes of images that carry it)."""
    return sorted((HERE / "toxiproxy").glob("*.py"))


def toxiproxy_zipapp() -> bytes:
    """The server as a zip application: `python3 server.pyz -host 0.0.0.0 -port 8474`."""
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for src in toxiproxy_sources():
            if src.name != "__main__.py":
                z.writestr(zipfile.ZipInfo(f"{ZIP_PACKAGE}/{src.name}", (2020, 1, 1, 0, 0, 0)), src.read_bytes())
        z.writestr(zipfile.ZipInfo("__main__.py", (2020, 1, 1, 0, 0, 0)),
                   f"from {ZIP_PACKAGE}.server import main\nraise SystemExit(main())\n")
    return buf.getvalue()
