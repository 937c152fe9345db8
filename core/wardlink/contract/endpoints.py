"""The gateway's rule for where it may speak plain text: loopback only.

A gateway sits on a hospital network. Telemetry, heartbeats and SigV4-signed API
calls sent in the clear over that network can be read and altered by anyone on the
path, so every connection that leaves the machine must be TLS: ``mqtts://`` to the
broker (mutual TLS, as AWS IoT Core requires) and ``https://`` to the cloud API.
Plain ``mqtt://`` and ``http://`` stay allowed to loopback hosts only (127.0.0.0/8,
``::1``, ``localhost``), where the local development broker, the local cloud and the
demo run.

The rule lives here, in core, because both sides of the seam apply it: the edge's
configuration and its direct MQTT adapter, and core's API client. They call the one
function below, at configuration time (a clear error at start-up) and again where
the connection is made (so a programmatic caller cannot skip the configuration).
Only the standard library is imported: components load this module at start-up.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["PlaintextEndpointError", "is_loopback_host", "require_tls"]

#: Loopback names accepted for plain text. Only the exact name: ``localhost.`` and
#: ``*.localhost`` may be sent to a DNS server, which could answer anything.
LOOPBACK_NAMES = frozenset({"localhost"})


class PlaintextEndpointError(ValueError):
    """A plain-text URL to a host that is not loopback (a ValueError, so that pydantic
    reports it as a configuration error of the field that holds the URL)."""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ``::1``, and
    ``::ffff:127.x.y.z``, the IPv4-mapped form of the former)."""
    name = host.lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def require_tls(
    url: str, *, secure: str, plain: str, default_port: int | None = None, hint: str = ""
) -> str:
    """Return ``url`` if it is ``secure://``, or ``plain://`` to a loopback host.

    ``plain://`` to any other host raises ``PlaintextEndpointError`` naming the host
    and what to use instead: ``secure://`` with the same host (and ``default_port``,
    the secure service's usual port), followed by ``hint``. Other schemes are left to
    the caller, which knows which ones it supports.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != plain:
        return url
    host = parts.hostname
    if not host:
        raise PlaintextEndpointError(f"{plain}:// URL {_redacted(url)!r} names no host")
    if is_loopback_host(host):
        return url
    shown = f"[{host}]" if ":" in host else host
    port = f":{default_port}" if default_port is not None else ""
    raise PlaintextEndpointError(
        f"refusing plain-text {plain}:// to {host}: only loopback hosts (127.0.0.0/8, ::1, "
        f"localhost) may be reached without TLS; use {secure}://{shown}{port} instead{hint}"
    )


def _redacted(url: str) -> str:
    """``url`` without a password, should one have been written into it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()
