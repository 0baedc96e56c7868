"""The client's address and the request's scheme, as an ASGI wrapper: the socket's peer, unless that peer is a
configured trusted proxy (NEWREMORA_TRUSTED_PROXIES); then what the proxies say in X-Forwarded-For and
X-Forwarded-Proto. Everything downstream (rate limits, access log, same-origin check) reads the scope's
``client`` and ``scheme``, so there is one answer to "who is calling"."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Final

from quart import Quart

from app.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = dict[str, Any]
ASGIApp = Any

SCHEMES: Final = frozenset({"http", "https"})


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _entries(values: Sequence[bytes]) -> list[str]:
    """All the X-Forwarded-For (or -Proto) headers' entries, left to right, as one list (a header may repeat)."""
    return [part.strip() for value in values for part in value.decode("latin-1").split(",") if part.strip()]


def client_address(peer: str, forwarded_for: Sequence[bytes], proxies: Sequence[Network]) -> str:
    """The peer, unless it is a trusted proxy: then the rightmost X-Forwarded-For entry that is not itself a
    trusted proxy (entries to its left were written by the client, who may write anything). An entry that is not
    an IP address ends the walk at the last trusted hop: a proxy that forwards garbage is counted as the client."""
    if not _trusted(peer, proxies):
        return peer
    address = peer
    for entry in reversed(_entries(forwarded_for)):
        try:
            ipaddress.ip_address(entry.strip("[]"))
        except ValueError:
            return address
        address = entry.strip("[]")
        if not _trusted(address, proxies):
            return address
    return address


def forwarded_scheme(peer: str, forwarded_proto: Sequence[bytes], proxies: Sequence[Network], scheme: str) -> str:
    """X-Forwarded-Proto's rightmost entry (the nearest proxy's), from a trusted peer only."""
    if not _trusted(peer, proxies):
        return scheme
    entries = [entry.lower() for entry in _entries(forwarded_proto)]
    return entries[-1] if entries and entries[-1] in SCHEMES else scheme


class TrustedProxies:
    """Rewrites an HTTP scope's ``client`` and ``scheme`` when its peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if self.proxies and scope.get("type") == "http" and client:
            peer, port = client[0], client[1]
            headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
            forwarded_for = [value for name, value in headers if name.lower() == b"x-forwarded-for"]
            forwarded_proto = [value for name, value in headers if name.lower() == b"x-forwarded-proto"]
            scope = {
                **scope,
                "client": (client_address(peer, forwarded_for, self.proxies), port),
                "scheme": forwarded_scheme(peer, forwarded_proto, self.proxies, scope.get("scheme", "http")),
            }
        await self.app(scope, receive, send)


def install_trusted_proxies(app: Quart, settings: Settings) -> None:
    app.asgi_app = TrustedProxies(  # type: ignore[method-assign,assignment]
        app.asgi_app, settings.trusted_proxies
    )
