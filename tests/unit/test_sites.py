"""app/sites.py and app/api/proxies.py's pure parts: hosts, origins, the cross-site verdict, client addresses."""

from __future__ import annotations

import ipaddress

import pytest

from app.api.proxies import client_address, forwarded_scheme
from app.settings import Settings
from app.sites import OriginPolicy, cross_site_refusal, default_allowed_hosts, host_allowed, normalized_origin


@pytest.mark.parametrize(
    ("listen", "allowed", "refused"),
    [
        ("127.0.0.1", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "localhost."], ["10.0.0.1"]),
        ("::1", ["[::1]", "localhost:80", "127.0.0.1"], ["[::2]"]),
        ("localhost", ["localhost:8080", "127.0.0.1"], ["example.com"]),
        ("0.0.0.0", ["10.1.2.3:8080", "[fe80::1]:80", "localhost"], ["attacker.example", "10.1.2.3.nip.io"]),  # noqa: S104
        ("::", ["192.0.2.1", "localhost:8080"], ["attacker.example:8080"]),
        ("10.0.0.5", ["10.0.0.5:8080"], ["localhost", "10.0.0.6", "attacker.example"]),
        ("ops.lan", ["ops.lan:8080", "OPS.LAN"], ["evil.ops.lan", "127.0.0.1"]),
    ],
)
def test_default_hosts_are_the_listen_address_names(listen: str, allowed: list[str], refused: list[str]) -> None:
    hosts = default_allowed_hosts(listen)
    assert all(host_allowed(host, hosts) for host in allowed), hosts
    assert not any(host_allowed(host, hosts) for host in refused), hosts


def test_listed_hosts_domains_and_malformed_hosts() -> None:
    hosts = Settings.from_env({"NEWREMORA_ALLOWED_HOSTS": "Ops.Example.com, .corp.example"}).allowed_hosts
    assert hosts == ("ops.example.com", ".corp.example")
    assert hosts is not None
    assert host_allowed("ops.example.com:443", hosts) and host_allowed("corp.example", hosts)
    assert host_allowed("a.b.corp.example", hosts) and not host_allowed("evilcorp.example", hosts)
    for malformed in ["", ":80", "ops.example.com:http", "[::1", "[nope]:80", "ops.example.com:99999"]:
        assert not host_allowed(malformed, (*hosts, "localhost")), malformed
    assert host_allowed("anything.example", ("*",))


def test_origins_are_compared_with_their_default_ports() -> None:
    assert normalized_origin("HTTP://LocalHost") == "http://localhost:80"
    assert normalized_origin("https://[::1]") == "https://[::1]:443"
    assert normalized_origin("null") is None and normalized_origin("file:///x") is None
    assert normalized_origin("http://x:notaport") is None


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"origin": "http://evil.example"}, False),  # reads are CORS's business
        ("POST", {"origin": "http://127.0.0.1:8080"}, False),  # the page itself
        ("POST", {"origin": "http://127.0.0.1:8081"}, True),  # another port is another origin
        ("POST", {"origin": "https://127.0.0.1:8080"}, True),
        ("DELETE", {"origin": "http://page.example"}, False),  # listed
        ("PUT", {"origin": "http://evil.example"}, True),
        ("PATCH", {"origin": "null"}, True),
        ("POST", {"referer": "http://evil.example/form.html"}, True),  # an older browser without Origin
        ("POST", {"referer": "http://127.0.0.1:8080/#/jobs"}, False),
        ("POST", {"fetch_site": "cross-site"}, True),
        ("POST", {"fetch_site": "same-site"}, True),
        ("POST", {"fetch_site": "same-origin"}, False),
        ("POST", {}, False),  # curl, the CLI: no browser page sent it
    ],
)
def test_the_cross_site_verdict(method: str, headers: dict[str, str], refused: bool) -> None:
    verdict = cross_site_refusal(
        method=method,
        origin=headers.get("origin"),
        referer=headers.get("referer"),
        fetch_site=headers.get("fetch_site"),
        own_origin="http://127.0.0.1:8080",
        policy=OriginPolicy(("http://page.example", "*")),
    )
    assert (verdict is not None) == refused, verdict


def test_a_wildcard_origin_reads_but_never_writes() -> None:
    policy = OriginPolicy(("*", "https://ops.example.com"))
    assert policy.may_read("http://anyone.example") and policy.methods_for("http://anyone.example") == ("GET", "HEAD")
    assert "DELETE" in policy.methods_for("https://ops.example.com:443")
    assert OriginPolicy(()).methods_for("https://ops.example.com") == ()


PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.1", [b"203.0.113.7"], "192.0.2.1"),  # not a trusted proxy: its header means nothing
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", [b"203.0.113.7"], "203.0.113.7"),
        ("10.0.0.2", [b"127.0.0.1, 203.0.113.7, 10.0.0.3"], "203.0.113.7"),  # the left entry is the client's claim
        ("10.0.0.2", [b"127.0.0.1", b"203.0.113.7"], "203.0.113.7"),  # repeated headers read as one list
        ("10.0.0.2", [b"10.0.0.4, 10.0.0.3"], "10.0.0.4"),  # all proxies: the farthest one
        ("10.0.0.2", [b"203.0.113.7, garbage"], "10.0.0.2"),  # a proxy forwarding garbage is the client
        ("fd00::1", [b"[2001:db8::5]"], "2001:db8::5"),
    ],
)
def test_the_client_address(peer: str, forwarded: list[bytes], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_the_scheme_comes_from_a_trusted_proxy_only() -> None:
    assert forwarded_scheme("10.0.0.2", [b"http, https"], PROXIES, "http") == "https"
    assert forwarded_scheme("192.0.2.1", [b"https"], PROXIES, "http") == "http"
    assert forwarded_scheme("10.0.0.2", [b"gopher"], PROXIES, "http") == "http"
    with pytest.raises(Exception, match="NEWREMORA_TRUSTED_PROXIES"):
        Settings.from_env({"NEWREMORA_TRUSTED_PROXIES": "10.0.0.0/24, proxy.lan"})
