"""Checks on every API request body before it touches the registry: JSON types, required fields,
address forms, port ranges, toxic types, streams and attributes. Anything else is a 400 that names
the field, so a malformed or hostile request changes nothing and the server keeps serving."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from .model import STREAMS, TOXIC_DEFAULTS, ApiError

MAX_NAME = 200
MAX_ATTRIBUTE = 2**31 - 1
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
PROXY_FIELDS = {"name": str, "listen": str, "upstream": str, "enabled": bool}
TOXIC_FIELDS = {"name": str, "type": str, "stream": str}


def obj(body: Any, what: str = "request body") -> dict[str, Any]:
    """The body as a JSON object, else 400."""
    if not isinstance(body, dict):
        raise ApiError(400, f"bad {what}: a JSON object is required")
    return body


def _typed(body: dict[str, Any], fields: dict[str, type]) -> None:
    for key, kind in fields.items():
        value = body.get(key)
        if value is not None and not (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))):
            raise ApiError(400, f"field {key} must be a {'boolean' if kind is bool else 'string'}")


def name(value: Any, what: str) -> str:
    """A proxy or toxic name: 1..200 printable characters, no '/' (it must fit in an API path)."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"missing required field: {what}")
    if len(value) > MAX_NAME or "/" in value or not value.isprintable():
        raise ApiError(400, f"{what} must be 1 to {MAX_NAME} printable characters without '/'")
    return value


def split_addr(addr: Any, what: str, *, any_host: bool = False, any_port: bool = False) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port). The host is an IP address or a DNS name (empty only
    when any_host: all interfaces); the port is 1..65535 (0 too when any_port: pick a free one)."""
    m = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):(\d{1,5})", addr) if isinstance(addr, str) else None
    if not m:
        raise ApiError(400, f"{what} address {addr!r} must be host:port")
    host, port = m.group(1) or m.group(2) or "", int(m.group(3))
    if port > 65535 or (port == 0 and not any_port):
        raise ApiError(400, f"{what} port {port} out of range (1-65535{', or 0' if any_port else ''})")
    if not host:
        if any_host:
            return host, port
        raise ApiError(400, f"{what} address {addr!r} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if m.group(1) or not _HOSTNAME.fullmatch(host):
            raise ApiError(400, f"{what} host {host!r} is neither an IP address nor a host name") from None
    return host, port


def proxy_spec(body: Any, *, partial: bool = False) -> dict[str, Any]:
    """A checked proxy body; `partial` (an update) needs no field, a create needs name and upstream."""
    body = obj(body)
    _typed(body, PROXY_FIELDS)
    if not partial or body.get("name") is not None:
        name(body.get("name"), "name")
    if body.get("upstream") is not None or not partial:
        if body.get("upstream") is None:
            raise ApiError(400, "missing required field: upstream")
        split_addr(body["upstream"], "upstream")
    if body.get("listen") is not None:
        split_addr(body["listen"], "listen", any_host=True, any_port=True)
    return body


def toxic_spec(body: Any, *, partial: bool = False) -> dict[str, Any]:
    """A checked toxic body: a known type (required unless `partial`, an update), stream and name when
    given, toxicity in [0, 1], integer attributes in 0..2^31-1 (unknown attribute names are ignored by
    the toxic, as Toxiproxy does)."""
    body = obj(body)
    _typed(body, TOXIC_FIELDS)
    if (not partial or body.get("type") is not None) and body.get("type") not in TOXIC_DEFAULTS:
        raise ApiError(400, f"invalid toxic type: {body.get('type')!r}")
    if body.get("stream") not in (None, "", *STREAMS):
        raise ApiError(400, "stream was invalid, can be either upstream or downstream")
    if body.get("name") is not None:
        name(body["name"], "toxic name")
    tox = body.get("toxicity")
    if tox is not None:
        if isinstance(tox, bool) or not isinstance(tox, int | float) or not math.isfinite(tox):
            raise ApiError(400, "toxicity must be a number")
        if not 0.0 <= tox <= 1.0:
            raise ApiError(400, "toxicity must be between 0 and 1")
    attrs = body.get("attributes")
    if attrs is not None:
        for key, value in obj(attrs, "attributes").items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApiError(400, f"attribute {key} must be an integer")
            if not 0 <= value <= MAX_ATTRIBUTE:
                raise ApiError(400, f"attribute {key} must be between 0 and {MAX_ATTRIBUTE}")
    return body


def populate_specs(body: Any) -> list[dict[str, Any]]:
    """The proxies of a /populate body (a list, or {"proxies": [...]}) each checked as a create."""
    bodies = body.get("proxies") if isinstance(body, dict) else body
    if not isinstance(bodies, list):
        raise ApiError(400, "populate needs a JSON list of proxies")
    return [proxy_spec(b) for b in bodies]
