"""A trigger's signature and body mapping, without a service: the documented openssl recipe computes the very
signature the service expects; anything but the exact secret, timestamp and body fails; body paths map."""

from __future__ import annotations

import subprocess

import pytest

from app.errors import InvalidInput
from app.trigger_mapping import values_from_body
from app.trigger_signatures import new_secret, presented, sign, signature_valid, timestamp_fresh
from app.validators import check_body_path

# The recipe of docs/orchestration.md ("Signed triggers"), as a shell runs it.
RECIPE = """printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}'"""


def test_the_documented_openssl_recipe_signs_as_the_service_checks() -> None:
    secret = new_secret()
    body = '{"version": "1.2.3", "note": "a $HOME `x` \\"q\\""}'
    timestamp = "1767225600"
    made = subprocess.run(
        ["bash", "-c", RECIPE],
        env={"TS": timestamp, "BODY": body, "SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "sha256=" + made == sign(secret, timestamp, body.encode())
    given = presented("sha256=" + made.upper(), timestamp, None)
    assert signature_valid(secret, given, body.encode())


def test_anything_but_the_exact_secret_timestamp_and_body_fails() -> None:
    secret, body, timestamp = new_secret(), b'{"a": 1}', "1767225600"
    good = sign(secret, timestamp, body)
    assert signature_valid(secret, presented(good, timestamp, None), body)
    refused = [
        signature_valid(new_secret(), presented(good, timestamp, None), body),  # another trigger's secret
        signature_valid(secret, presented(good, "1767225601", None), body),  # the timestamp moved
        signature_valid(secret, presented(good, timestamp, None), body + b" "),  # one byte more
        signature_valid(secret, presented(good.removeprefix("sha256="), timestamp, None), body),  # no prefix
        signature_valid(secret, presented(None, timestamp, None), body),
        signature_valid(secret, presented(good, None, None), body),
        signature_valid(secret, presented(good, "-5", None), body),
        signature_valid(None, presented(good, timestamp, None), body),  # no such trigger
    ]
    assert refused == [False] * len(refused)
    assert timestamp_fresh(timestamp, 1767225600 + 300)
    assert timestamp_fresh(timestamp, 1767225600 - 300)
    assert not timestamp_fresh(timestamp, 1767225600 + 301)
    assert not timestamp_fresh(timestamp, 1767225600 - 301)
    assert presented(good, timestamp, "bad id with spaces").delivery is None
    assert presented(good, timestamp, "72d3162e-cc78-11e3").delivery == "72d3162e-cc78-11e3"


def test_body_fields_map_to_parameters_by_name_or_by_path() -> None:
    body = {"version": "1.2.3", "repository": {"name": "web"}, "commits": [{"id": "abc"}], "none": None, "n": 3}
    mapping = {"repo": "repository.name", "commit": "commits.0.id", "missing": "commits.5.id"}
    values = values_from_body(body, ["version", "repo", "commit", "missing", "none", "n", "absent"], mapping)
    assert values == {"version": "1.2.3", "repo": "web", "commit": "abc", "n": 3}
    with pytest.raises(InvalidInput, match=r"^repo: the body's repository is an object"):
        values_from_body(body, ["repo"], {"repo": "repository"})
    assert check_body_path("a.b.0") == "a.b.0"
    for bad in ("", "a..b", "a b", ".a", "x" * 201):
        with pytest.raises(ValueError, match=r"body path|dot-separated"):
            check_body_path(bad)
