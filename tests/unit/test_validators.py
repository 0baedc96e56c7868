"""Values that end up in inventories and on argv: only well-formed ones get through."""

from __future__ import annotations

from typing import Any

import pytest

from app.validators import check_hostname, check_login_name, check_secret_text, check_server_name, nul_fields


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("::1", "::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("Web-01.Example.COM", "web-01.example.com"),
        ("db.example.com.", "db.example.com"),
        ("localhost", "localhost"),
    ],
)
def test_hostnames_accepted_and_normalised(raw: str, clean: str) -> None:
    assert check_hostname(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a b",
        "host\nansible_connection=local",
        "host ansible_host=evil",
        "-oProxyCommand=x",
        "a..b",
        "x" * 64 + ".com",
        "under_score.com",
        "999.1.1.1",
        "[::1]",
        "{{ lookup('pipe','id') }}",
    ],
)
def test_hostnames_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="DNS host name or an IP address"):
        check_hostname(raw)


@pytest.mark.parametrize("name", ["root", "deploy", "_svc", "ci.runner-1", "A" * 32])
def test_login_names_accepted(name: str) -> None:
    assert check_login_name(name) == name


@pytest.mark.parametrize("name", ["", "-o", "1user", "a b", "user;id", "a" * 33, "$(id)", "user\n"])
def test_login_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="login name"):
        check_login_name(name)


@pytest.mark.parametrize("name", ["web-01", "db.prod_2", "9lives"])
def test_server_names_accepted(name: str) -> None:
    assert check_server_name(name) == name


@pytest.mark.parametrize("name", ["", "-web", "web 01", "web=1", "{{x}}", "web\n", "x" * 101])
def test_server_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        check_server_name(name)


def test_secret_text_refuses_line_breaks_and_nul() -> None:
    assert check_secret_text("p@ss w0rd'\"$`") == "p@ss w0rd'\"$`"
    for bad in ("a\nb", "a\rb", "a\x00b"):
        with pytest.raises(ValueError, match="line breaks"):
            check_secret_text(bad)


def test_nul_fields_names_every_place_of_a_nul_at_any_depth() -> None:
    deep: Any = "x\x00"
    for _ in range(5000):  # deeper than Python's recursion limit: the walk does not recurse
        deep = [deep]
    raw = {"name": "ok", "tags": ["a", "b\x00"], "vars": {"k\x00": 1, "n": {"m": "\x00"}}, "deep": deep}
    assert nul_fields(raw) == ["tags.1", "vars", "vars.n.m", "deep" + ".0" * 5000]
    assert nul_fields({"name": "ok", "n": 1, "none": None}) == []
