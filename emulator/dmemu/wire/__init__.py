"""DM client wire protocol server of the emulator: `serve(server, host, port) -> WireServer`."""

from .server import WireServer, serve

__all__ = ["WireServer", "serve"]
