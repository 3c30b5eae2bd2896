"""Offline Toxiproxy-compatible server (drop-in for Shopify's `toxiproxy-server` on air-gapped sites).

Speaks the Toxiproxy 2.x HTTP API (proxies, toxics, /reset, /populate, /version) so toxiproxy-python and
the official CLI drive it unchanged. Pure stdlib with relative imports only, so the package also runs
as a zip application copied into a host (harness.hostside.toxiproxy_zipapp()).
"""

from .model import VERSION, ApiError
from .server import ToxiproxyServer, main

__all__ = ["VERSION", "ApiError", "ToxiproxyServer", "main"]
