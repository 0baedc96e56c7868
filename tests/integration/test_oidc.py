"""Single sign-on and bearer JWTs against a real OpenID Connect provider process (oidc-provider-mock), on SQLite
and PostgreSQL: the sign-in flow up to the local user, the failures' pages and audit rows, and the JWT checks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import peewee as pw
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.bearer import OIDC_KEY
from app.oidc import Provider
from app.settings import Secret
from tests.harness.oidc_provider import OidcProvider
from tests.helpers import error_of, ok_data, password_server

CLIENT_ID = "newremora"
CLIENT_SECRET = "oidc-client-secret-never-shown"
ROLE_MAP = "ops-admins=admin;web-team=operator:groups=web;auditors=viewer"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    started = OidcProvider(tmp_path_factory.mktemp("oidc")).start()
    started.set_user("alice-sub", {"preferred_username": "alice", "name": "Alice A", "groups": ["web-team"]})
    started.set_user("root-sub", {"preferred_username": "root", "groups": ["ops-admins", "web-team"]})
    started.set_user("nobody-sub", {"preferred_username": "nobody", "groups": ["sales"]})
    yield started
    started.stop()


@pytest.fixture
def settings_overrides(provider: OidcProvider) -> dict[str, Any]:
    from app.oidc_claims import parse_role_map

    return {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": Secret(CLIENT_SECRET),
        "oidc_role_map": parse_role_map(ROLE_MAP),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _claims(provider: OidcProvider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "alice-sub", "exp": now + 300, "iat": now}
    claims["groups"] = ["ops-admins"]
    claims.update(changes)
    return claims


async def test_bearer_jwts_of_the_issuer_act_with_the_mapped_role_and_every_bad_one_gets_401(
    provider: OidcProvider, client: Client, raw_db: pw.Database
) -> None:
    # OIDC on: the service is for a team, never open, even with no user and no key.
    response = await client.get("/api/v1/me")
    assert await error_of(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"

    token = provider.id_token("alice-sub", CLIENT_ID)
    me = await ok_data(await client.get("/api/v1/me", headers=bearer(token)))
    assert (me["kind"], me["name"], me["role"]) == ("oidc", "alice-sub", "operator")
    assert "jobs.create_job" in me["allowed"]
    assert "users.list_users" not in me["allowed"]
    assert "admin" in await error_of(await client.get("/api/v1/users", headers=bearer(token)), 403)
    admin = provider.id_token("root-sub", CLIENT_ID)  # two matching groups: the highest role wins, unlimited
    assert (await ok_data(await client.get("/api/v1/me", headers=bearer(admin))))["role"] == "admin"
    for name, groups in (("web-01", ["web"]), ("db-01", ["db"])):
        body = password_server(name, groups=groups)
        await ok_data(await client.post("/api/v1/servers", json=body, headers=bearer(admin)), 201)
    # web-team=operator:groups=web: the JWT's caller sees the servers of group web only.
    listed = await ok_data(await client.get("/api/v1/servers", headers=bearer(token)))
    assert [server["name"] for server in listed["servers"]] == ["web-01"]
    everything = await ok_data(await client.get("/api/v1/servers", headers=bearer(admin)))
    assert sorted(server["name"] for server in everything["servers"]) == ["db-01", "web-01"]
    # A change by a JWT is audited under its subject.
    await client.post("/api/v1/users", json={"username": "bob", "role": "viewer"}, headers=bearer(admin))
    actors = raw_db.execute_sql("SELECT actor FROM audit_event WHERE action = 'user.create'").fetchall()
    assert actors == [("oidc:root-sub",)]

    # The JWT's caller has no user of its own: no key to list, none of others', and no key of no user to make
    # (that would be an administrator key: a way up from operator).
    assert (await ok_data(await client.get("/api/v1/keys", headers=bearer(token))))["keys"] == []
    made = await client.post("/api/v1/keys", json={"name": "mine"}, headers=bearer(token))
    assert "only an administrator without a scope" in await error_of(made, 403)
    assert raw_db.execute_sql("SELECT COUNT(*) FROM api_key").fetchone()[0] == 0

    nobody = provider.id_token("nobody-sub", CLIENT_ID)
    assert "maps to no NewRemora role" in await error_of(await client.get("/api/v1/me", headers=bearer(nobody)), 403)

    forger = RSAKey.generate_key(2048)
    kid = provider.jwks()["keys"][0]["kid"]  # type: ignore[index]
    refused = {
        "forged": jwt.encode({"alg": "RS256", "kid": kid}, _claims(provider), forger),
        "wrong audience": provider.id_token("root-sub", "another-client"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(provider))}.",
        "hmac": jwt.encode({"alg": "HS256"}, _claims(provider), OctKey.import_key(b"k" * 32)),
        "tampered": token.rsplit(".", 2)[0] + "." + _b64(_claims(provider)) + "." + token.rsplit(".", 1)[1],
        "garbage": "a.b.c",
    }
    for name, bad in refused.items():
        response = await client.get("/api/v1/me", headers=bearer(bad))
        message = await error_of(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer", name
        assert message.startswith("bearer token refused"), (name, message)
    # A failed authentication leaves a row, never the token.
    rows = raw_db.execute_sql("SELECT summary FROM audit_event WHERE action = 'auth.failed'").fetchall()
    assert len(rows) >= len(refused)
    assert token.split(".")[2] not in str(rows)


async def test_a_rotated_signing_key_is_fetched_again_but_not_more_often_than_allowed(
    provider: OidcProvider, app: Quart, client: Client, tmp_path: Path
) -> None:
    rotating = OidcProvider(tmp_path).start()
    rotating.set_user("carol", {"groups": ["auditors"]})
    try:
        now = [1000.0]
        settings = app.extensions[OIDC_KEY].config
        app.extensions[OIDC_KEY] = Provider(
            type(settings)(**{**settings.__dict__, "issuer": rotating.issuer}), clock=lambda: now[0]
        )
        before = rotating.id_token("carol", CLIENT_ID)
        assert (await ok_data(await client.get("/api/v1/me", headers=bearer(before))))["role"] == "viewer"

        rotating.restart()  # same issuer, a new signing key (and no memory of its users)
        rotating.set_user("carol", {"groups": ["auditors"]})
        after = rotating.id_token("carol", CLIENT_ID)
        assert after != before
        now[0] += 5  # within the refresh interval: the cached keys stand, the new token is refused
        assert await error_of(await client.get("/api/v1/me", headers=bearer(after)), 401)
        now[0] += 30  # past it: the unknown key makes the service fetch the keys again
        assert (await ok_data(await client.get("/api/v1/me", headers=bearer(after))))["role"] == "viewer"
        # The old key is gone from the provider: its tokens are refused from now on.
        assert await error_of(await client.get("/api/v1/me", headers=bearer(before)), 401)
    finally:
        rotating.stop()


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_token_the_issuer_signed_that_has_expired_gets_401(app: Quart, client: Client, tmp_path: Path) -> None:
    # A provider whose tokens expired five minutes before they were issued: signed right, past exp and the skew.
    expiring = OidcProvider(tmp_path, token_max_age=-300).start()
    expiring.set_user("carol", {"groups": ["auditors"]})
    try:
        config = app.extensions[OIDC_KEY].config
        app.extensions[OIDC_KEY] = Provider(type(config)(**{**config.__dict__, "issuer": expiring.issuer}))
        expired = expiring.id_token("carol", CLIENT_ID)
        response = await client.get("/api/v1/me", headers=bearer(expired))
        assert "expired" in await error_of(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    finally:
        expiring.stop()


async def _sign_in(client: Client, provider: OidcProvider, sub: str) -> Any:
    """The browser's path, by HTTP: login redirects to the provider, its form comes back to the callback."""
    assert await (await client.get("/auth/oidc")).get_json() == {"enabled": True}  # the page offers the button
    login = await client.get("/auth/oidc/login")
    assert login.status_code == 302, await login.get_data(as_text=True)
    target = login.headers["Location"]
    assert target.startswith(f"{provider.issuer}/oauth2/authorize?")
    assert "code_challenge_method=S256" in target and "nonce=" in target and "state=" in target
    back = urlsplit(provider.authorize(target, sub))
    return await client.get(f"{back.path}?{back.query}")


def _users(raw_db: pw.Database) -> dict[str, tuple[Any, ...]]:
    rows = raw_db.execute_sql("SELECT username, role, source, oidc_subject, display_name FROM app_user").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _failures(raw_db: pw.Database) -> list[tuple[Any, ...]]:
    query = "SELECT actor, summary, status FROM audit_event WHERE action = 'auth.signin_failed' ORDER BY id"
    return [(actor, json.loads(summary)["reason"], status) for actor, summary, status in raw_db.execute_sql(query)]


async def test_sign_in_makes_a_linked_user_refreshes_its_role_and_refuses_what_it_must(
    provider: OidcProvider, app: Quart, client: Client, raw_db: pw.Database
) -> None:
    raw_db.execute_sql(
        "INSERT INTO app_user (id, username, display_name, password_hash, role, created_at, source) "
        "VALUES ('00000000-0000-0000-0000-00000000000a', 'alice', '', 'x', 'viewer', '2026-01-01', 'local')"
    )
    response = await _sign_in(client, provider, "alice-sub")
    assert response.status_code == 302, await response.get_data(as_text=True)
    assert response.headers["Location"] == "/"
    # Signed in: the session cookie names the new user, with the mapped role and the group limit.
    me = await ok_data(await client.get("/api/v1/me"))
    assert (me["kind"], me["name"], me["role"]) == ("user", "alice-oidc", "operator")
    assert me["user"]["scope"] is not None
    signins = raw_db.execute_sql("SELECT actor, summary FROM audit_event WHERE action = 'auth.signin'").fetchall()
    assert [(actor, json.loads(summary)["method"]) for actor, summary in signins] == [("user:alice-oidc", "oidc")]
    users = _users(raw_db)
    # The local alice is not taken over: the SSO identity gets a name of its own, linked to its subject.
    assert users["alice"] == ("viewer", "local", None, "")
    assert users["alice-oidc"] == ("operator", "oidc", "alice-sub", "Alice A")

    provider.set_user("alice-sub", {"preferred_username": "alice", "name": "Alice A", "groups": ["auditors"]})
    try:
        assert (await _sign_in(client, provider, "alice-sub")).status_code == 302
        assert _users(raw_db)["alice-oidc"][0] == "viewer"  # the role follows the claims at every sign-in
        assert len(_users(raw_db)) == 2
    finally:
        provider.set_user("alice-sub", {"preferred_username": "alice", "name": "Alice A", "groups": ["web-team"]})

    raw_db.execute_sql("UPDATE app_user SET disabled_at = '2026-01-02' WHERE username = 'alice-oidc'")
    refused = await _sign_in(client, provider, "alice-sub")
    assert refused.status_code == 403
    assert "disabled" in await refused.get_data(as_text=True)
    token = provider.id_token("alice-sub", CLIENT_ID)
    assert "disabled" in await error_of(await client.get("/api/v1/me", headers=bearer(token)), 403)

    no_role = await _sign_in(client, provider, "nobody-sub")
    assert no_role.status_code == 403
    page = await no_role.get_data(as_text=True)
    assert "maps to no NewRemora role" in page and "Traceback" not in page
    assert "nobody" not in _users(raw_db)

    stale = await client.get("/auth/oidc/callback?code=abc&state=not-the-state")
    assert stale.status_code == 400
    assert "start again" in await stale.get_data(as_text=True)
    denied = await client.get("/auth/oidc/callback?error=access_denied&error_description=<b>no</b>")
    assert denied.status_code == 400
    assert "&lt;b&gt;no&lt;/b&gt;" in await denied.get_data(as_text=True)

    assert _failures(raw_db) == [
        ("oidc:alice-sub", "refused", 403),
        ("oidc:nobody-sub", "no_role", 403),
        ("unknown", "bad_state", 400),
        ("unknown", "provider_error", 400),
    ]
    everything = str(raw_db.execute_sql("SELECT * FROM audit_event").fetchall())
    assert CLIENT_SECRET not in everything and token.split(".")[2] not in everything
