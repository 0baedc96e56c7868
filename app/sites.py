"""Which sites may talk to the service: the Host names it answers to, and which origins may change things or
read answers from a page on another site. Pure functions of strings; app/api/origins.py applies them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
LOOPBACK_NAMES: Final = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_ADDRESSES: Final = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names compared, not bound)
# Sec-Fetch-Site values a browser sends for a request a page of another origin made.
FOREIGN_FETCH_SITES: Final = frozenset({"cross-site", "same-site"})


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether a listen address reaches this machine only: localhost or a loopback IP (a DNS name's answer is not
    ours to trust)."""
    name = host.strip().strip("[]").lower()
    return name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


def _bracketed(name: str) -> str:
    """IPv6 addresses are written in brackets in Host and Origin: the allowed names use the same form."""
    bare = name.strip("[]")
    return f"[{bare}]" if ":" in bare and _is_ip(bare) else name


def default_allowed_hosts(listen_host: str) -> tuple[str, ...]:
    """The names of the listen address; on loopback also localhost and the loopback addresses. On 0.0.0.0 or ::
    the service listens on every address of the machine, which it cannot list: any IP literal is allowed ("ip"),
    and localhost. A DNS name must be listed: it is what DNS rebinding needs, an IP literal cannot be rebound."""
    name = listen_host.strip().lower()
    if name in WILDCARD_ADDRESSES:
        return ("localhost", "ip")
    if is_loopback(name):
        return tuple(dict.fromkeys((_bracketed(name), *LOOPBACK_NAMES)))
    return (_bracketed(name),)


def host_name(host_header: str) -> str | None:
    """The name of a Host header without its port, lower case; None when it is not a well-formed host."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        name, port = value[: end + 1], value[end + 2 :]
        if not _is_ip(name):
            return None
    else:
        name, _, port = value.partition(":")
    if port and not (port.isdigit() and int(port) <= 65535):
        return None
    name = name.rstrip(".")
    return name or None


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """Whether the Host header names the service: an exact name, a listed domain (".example.com": the domain and
    its subdomains), "ip" (any IP literal), or "*"."""
    if "*" in allowed:
        return True
    name = host_name(host_header)
    if name is None:
        return False
    for entry in allowed:
        if entry == name or (entry == "ip" and _is_ip(name)):
            return True
        if entry.startswith(".") and (name == entry[1:] or name.endswith(entry)):
            return True
    return False


def normalized_origin(value: str) -> str | None:
    """scheme://host:port with the default port written out, or None when the value is not an http(s) origin
    (e.g. "null", which sandboxed frames and file:// pages send)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{scheme}://{_bracketed(parts.hostname.lower())}:{port or DEFAULT_PORTS[scheme]}"


@dataclass(frozen=True)
class OriginPolicy:
    """``cors_origins`` as configured: listed origins may read and change; "*" lets any site read, never change."""

    cors_origins: tuple[str, ...]

    @property
    def any_reader(self) -> bool:
        return "*" in self.cors_origins

    def listed(self, origin: str) -> bool:
        own = normalized_origin(origin)
        return own is not None and any(normalized_origin(entry) == own for entry in self.cors_origins)

    def may_read(self, origin: str) -> bool:
        return self.any_reader or self.listed(origin)

    def methods_for(self, origin: str) -> tuple[str, ...]:
        """What a preflight from this origin is told it may send."""
        if self.listed(origin):
            return ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        return ("GET", "HEAD") if self.any_reader else ()


def cross_site_refusal(
    *,
    method: str,
    origin: str | None,
    referer: str | None,
    fetch_site: str | None,
    own_origin: str,
    policy: OriginPolicy,
) -> str | None:
    """Why a state-changing request must be refused as sent from a page of another site, or None to let it in.

    Browsers send Origin with every request that is not GET or HEAD (the Fetch standard), so Origin decides:
    the service's own origin or a listed one passes. Without Origin, an older browser's Referer, or its
    Sec-Fetch-Site, still tells another site's page; a request with none of them comes from no browser page
    (curl, the CLI), which a page on another site cannot make a browser send, so it passes with any body.
    """
    if method.upper() in SAFE_METHODS:
        return None
    claimed = origin if origin is not None else referer
    if claimed is not None:
        normalized = normalized_origin(claimed)
        if normalized is not None and (normalized == normalized_origin(own_origin) or policy.listed(claimed)):
            return None
        return "a page on another site may not change anything here (its Origin is not allowed)"
    if fetch_site is not None and fetch_site.strip().lower() in FOREIGN_FETCH_SITES:
        return "a page on another site may not change anything here (Sec-Fetch-Site says it is foreign)"
    return None
