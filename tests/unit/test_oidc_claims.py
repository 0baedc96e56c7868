"""The role map's grammar and combination rule, the OIDC settings checked together, and the JWT claim checks
(with a throwaway key: the provider process has tests of its own in tests/integration/test_oidc.py)."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.errors import ConfigurationError, Unauthorized
from app.oidc import LEEWAY_S, OidcConfig, check_claims, verify_signature
from app.oidc_claims import ClaimGrant, grant_for, parse_role_map, username_from
from app.settings import Settings

MAP = "ops-admins=admin;web-team=operator:groups=web;db-team=operator:groups=db:servers=db-01,db-02;auditors=viewer"


def test_the_role_map_grammar_and_how_several_matching_entries_combine() -> None:
    entries = parse_role_map(MAP)
    assert [entry.claim_value for entry in entries] == ["ops-admins", "web-team", "db-team", "auditors"]
    assert entries[2].grant == ClaimGrant("operator", groups=("db",), servers=("db-01", "db-02"))

    def grant(*groups: str) -> ClaimGrant | None:
        return grant_for({"groups": list(groups)}, "groups", entries)

    assert grant("auditors") == ClaimGrant("viewer")
    assert grant("web-team") == ClaimGrant("operator", groups=("web",))
    # Two operator entries: their limits are united.
    assert grant("web-team", "db-team") == ClaimGrant("operator", groups=("web", "db"), servers=("db-01", "db-02"))
    # The highest role wins; a lower role's limits never narrow nor widen it.
    assert grant("web-team", "ops-admins") == ClaimGrant("admin")
    # The unlimited viewer entry does not lift the operator's limit.
    assert grant("auditors", "web-team") == ClaimGrant("operator", groups=("web",))
    assert grant("sales") is None
    assert grant_for({"groups": "auditors"}, "groups", entries) == ClaimGrant("viewer")  # a string claim
    assert grant_for({"roles": ["ops-admins"]}, "groups", entries) is None  # another claim
    both = parse_role_map("a=operator:groups=web;b=operator")
    assert grant_for({"groups": ["a", "b"]}, "groups", both) == ClaimGrant("operator")  # one unlimited: unlimited


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "no entry"),
        ("ops-admins", "expected CLAIM_VALUE=ROLE"),
        ("ops=root", "not a role"),
        ("ops=admin:teams=a", "expected a limit"),
        ("ops=admin:groups=", "names nothing"),
        ("ops=admin:groups=a:groups=b", "given twice"),
        ("=admin", "expected CLAIM_VALUE=ROLE"),
    ],
)
def test_a_bad_role_map_stops_the_start_naming_the_variable(raw: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_role_map(raw)
    if raw:
        with pytest.raises(ConfigurationError, match=f"NEWREMORA_OIDC_ROLE_MAP: .*{says}"):
            Settings.from_env({"NEWREMORA_OIDC_ROLE_MAP": raw})


def test_the_oidc_settings_are_checked_together() -> None:
    assert OidcConfig.from_settings(Settings()) is None
    issuer = {"NEWREMORA_OIDC_ISSUER": "https://login.example.com"}
    with pytest.raises(ConfigurationError, match="CLIENT_ID is required"):
        OidcConfig.from_settings(Settings.from_env(issuer))
    with pytest.raises(ConfigurationError, match="ROLE_MAP is required"):
        OidcConfig.from_settings(Settings.from_env({**issuer, "NEWREMORA_OIDC_CLIENT_ID": "nr"}))
    with pytest.raises(ConfigurationError, match="ISSUER is unset"):
        OidcConfig.from_settings(Settings.from_env({"NEWREMORA_OIDC_CLIENT_ID": "nr"}))
    with pytest.raises(ConfigurationError, match="must include openid"):
        Settings.from_env({"NEWREMORA_OIDC_SCOPES": "profile email"})
    env = {
        **issuer,
        "NEWREMORA_OIDC_CLIENT_ID": "nr",
        "NEWREMORA_OIDC_CLIENT_SECRET": "s3cr3t-value",
        "NEWREMORA_OIDC_ROLE_MAP": MAP,
    }
    config = OidcConfig.from_settings(Settings.from_env(env))
    assert config is not None and config.audiences == ("nr",)  # the client id unless said otherwise
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in repr(Settings.from_env(env))
    wide = OidcConfig.from_settings(Settings.from_env({**env, "NEWREMORA_OIDC_AUDIENCE": "nr, ci-pipelines"}))
    assert wide is not None and wide.audiences == ("nr", "ci-pipelines")


def test_usernames_for_a_first_sign_in() -> None:
    assert username_from({"preferred_username": "Alice.Smith@Example.com", "sub": "x"}, "preferred_username") == (
        "alice.smith-example.com"
    )
    assert username_from({"sub": "248289761001"}, "preferred_username") == "248289761001"
    assert username_from({"sub": "@@"}, "preferred_username") == "oidc-user"


ISSUER = "https://login.example.com"
NOW = 1_800_000_000  # the checks' clock, fixed: the cases stay what they say however late they run


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": ["nr"], "sub": "u1", "exp": NOW + 300, "iat": NOW, "nonce": "n1"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({}, False),
        ({"exp": NOW - LEEWAY_S // 2}, False),  # within the clock skew
        ({"exp": NOW - LEEWAY_S - 5}, True),
        ({"exp": None}, True),
        ({"nbf": NOW + LEEWAY_S + 60}, True),
        ({"iss": "https://evil.example.com"}, True),
        ({"iss": None}, True),
        ({"aud": ["someone-else"]}, True),
        ({"aud": "nr"}, False),
        ({"sub": None}, True),
        ({"nonce": "replayed"}, True),
    ],
)
def test_the_claims_a_jwt_must_carry(changes: dict[str, Any], refused: bool) -> None:
    key = RSAKey.generate_key(2048)
    token = jwt.encode({"alg": "RS256"}, _claims(**changes), key)
    claims = verify_signature(token, KeySet([key]))
    if refused:
        with pytest.raises(Unauthorized, match="bearer token refused"):
            check_claims(claims, ISSUER, ("nr",), nonce="n1", now=NOW)
    else:
        check_claims(claims, ISSUER, ("nr",), nonce="n1", now=NOW)


def test_signatures_by_another_key_and_symmetric_algorithms_are_refused() -> None:
    key, other = RSAKey.generate_key(2048), RSAKey.generate_key(2048)
    with pytest.raises(Unauthorized, match="bearer token refused"):
        verify_signature(jwt.encode({"alg": "RS256"}, _claims(), other), KeySet([key]))
    with pytest.raises(Unauthorized, match="algorithm 'HS256' is not accepted"):
        verify_signature("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", KeySet([key]))
    with pytest.raises(Unauthorized, match="algorithm 'none' is not accepted"):
        verify_signature("eyJhbGciOiJub25lIn0.e30.", KeySet([key]))
    for malformed in ("eyJhbGciOiJSUzI1NiJ9.!!!.c2ln", "eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.c2ln", "e30.e30.e30", "!.a.b"):
        with pytest.raises(Unauthorized, match="bearer token refused"):
            verify_signature(malformed, KeySet([key]))
