"""Offline Toxiproxy-compatible server (drop-in for Shopify's `toxiproxy-server` on air-gapped sites).

Speaks the Toxiproxy 2.x HTTP API (proxies, toxics, /reset, /populate, /version) so toxiproxy-python and
the official CLI drive it unchanged. Pure stdlib; threads, one pipe per direction of each connection.
"""

from harness.toxiproxy.server import VERSION, ApiError, ToxiproxyServer, main

__all__ = ["VERSION", "ApiError", "ToxiproxyServer", "main"]
