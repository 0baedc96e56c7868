"""Browser sign-in against the app on SQLite and PostgreSQL: the session cookie, CSRF, sign-out, expiry, a disabled
user and a new password, the throttling of failed sign-ins, and what the audit trail says of them (never the
password)."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import timedelta
from typing import Any

import peewee as pw
import pytest
from quart import Quart

from app import users
from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.clock import utcnow
from app.models import BrowserSession, SigninFailure
from app.runtime import Runtime
from tests.helpers import error_of, ok_data

PASSWORD = "s3cret-Passw0rd-for-tests"
OTHER_PASSWORD = "an0ther-Passw0rd-for-tests"
PROXY = "10.0.0.2"


def runtime_of(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    return runtime


def add_user(app: Quart, name: str, role: str, password: str | None = PASSWORD) -> str:
    user = runtime_of(app).database.call(users.create_user, name, role, password)
    return str(user.id)


def cookie_of(response: Any) -> tuple[str, str]:
    """The session token and the whole Set-Cookie header."""
    header = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("newremora_session="))
    return header.split(";", 1)[0].split("=", 1)[1], header


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"newremora_session={token}", **headers}


def peer(address: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"scope_base": {"client": (address, 40000)}, "headers": headers or {}}


async def sign_in(client: Any, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    return await client.post("/auth/signin", json={"username": username, "password": password}, **kwargs)


def audit_rows(raw_db: pw.Database, action: str) -> list[tuple[Any, ...]]:
    rows = raw_db.execute_sql("SELECT action, actor, outcome, status, summary FROM audit_event ORDER BY id")
    return [row[1:] for row in rows.fetchall() if row[0] == action]


async def test_a_session_signs_in_acts_with_csrf_and_signs_out_for_good(app: Quart, raw_db: pw.Database) -> None:
    client = app.test_client(use_cookies=False)
    add_user(app, "alice", "admin")
    key = runtime_of(app).database.call(create_key, "ci").key

    missing = await client.get("/auth/session")
    assert await error_of(missing, 401) == "Not signed in"
    assert missing.headers["X-Sign-In"] == "password"
    wrong = await sign_in(client, "alice", "not-the-Passw0rd-at-all")
    unknown = await sign_in(client, "nobody", PASSWORD)
    assert await error_of(wrong, 401) == await error_of(unknown, 401) == "Wrong username or password"
    assert "Set-Cookie" not in wrong.headers

    signed = await sign_in(client, "alice")
    session = await ok_data(signed)
    token, header = cookie_of(signed)
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")[1:]}
    assert attributes["httponly"] and attributes["samesite"] == "SameSite=Strict" and attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
    assert session["username"] == "alice" and session["role"] == "admin" and session["method"] == "password"
    assert len(token) >= 43 and token != session["csrf_token"]
    stored = raw_db.execute_sql("SELECT token_hash, user_id FROM browser_session").fetchall()
    assert [row[0] for row in stored] == [hashlib.sha256(token.encode()).hexdigest()]

    me = await ok_data(await client.get("/api/v1/me", headers=with_cookie(token)))
    assert (me["kind"], me["name"], me["role"], me["user"]["username"]) == ("user", "alice", "admin", "alice")
    assert (await ok_data(await client.get("/auth/session", headers=with_cookie(token))))["csrf_token"] == session[
        "csrf_token"
    ]

    # Changing state with the cookie alone, or with a wrong token, is refused and changes nothing.
    body = {"username": "bob", "role": "viewer"}
    for extra in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        refused = await client.post("/api/v1/users", json=body, headers=with_cookie(token, **extra))
        assert "X-CSRF-Token" in await error_of(refused, 403)
    assert raw_db.execute_sql("SELECT COUNT(*) FROM app_user WHERE username = 'bob'").fetchone()[0] == 0
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    made = await client.post("/api/v1/users", json=body, headers=with_cookie(token, **csrf))
    assert (await ok_data(made, 201))["username"] == "bob"
    # A key needs no CSRF token: no browser sends it by itself.
    by_key = await client.post(
        "/api/v1/users", json={"username": "carol", "role": "viewer"}, headers={"Authorization": f"Bearer {key}"}
    )
    await ok_data(by_key, 201)

    assert "X-CSRF-Token" in await error_of(await client.post("/auth/signout", headers=with_cookie(token)), 403)
    await ok_data(await client.get("/api/v1/me", headers=with_cookie(token)))  # still signed in
    out = await client.post("/auth/signout", headers=with_cookie(token, **csrf))
    assert (await ok_data(out))["ended"] is True
    assert cookie_of(out)[0] in ("", '""') and "expires=thu, 01 jan 1970" in cookie_of(out)[1].lower()
    assert await error_of(await client.get("/api/v1/me", headers=with_cookie(token)), 401)
    assert await error_of(await client.get("/auth/session", headers=with_cookie(token)), 401)

    rows = raw_db.execute_sql("SELECT action, actor, outcome, status, summary FROM audit_event ORDER BY id")
    rows = rows.fetchall()
    assert PASSWORD not in str(rows) and "not-the-Passw0rd-at-all" not in str(rows)
    auth = [
        (action, actor, outcome, status) for action, actor, outcome, status, _ in rows if action.startswith("auth.")
    ]
    assert auth == [
        ("auth.signin_failed", "unknown", "refused", 401),
        ("auth.signin_failed", "unknown", "refused", 401),
        ("auth.signin", "user:alice", "success", 200),
        ("auth.signout", "user:alice", "success", 200),
        ("auth.failed", "unknown", "refused", 401),  # the old cookie replayed to /api/v1/me
    ]
    failed_names = [summary for action, _, _, _, summary in rows if action == "auth.signin_failed"]
    assert '"alice"' in failed_names[0] and '"nobody"' in failed_names[1]
    creations = [(actor, status) for action, actor, _, status, _ in rows if action == "user.create"]
    assert creations[:4] == [("user:alice", 403)] * 3 + [("user:alice", 201)] and creations[4][0].startswith("key:")


async def test_idle_absolute_disabled_and_new_password_end_sessions(app: Quart, raw_db: pw.Database) -> None:
    client = app.test_client(use_cookies=False)
    add_user(app, "alice", "operator")
    add_user(app, "root", "admin")
    database = runtime_of(app).database

    async def new_session() -> str:
        return cookie_of(await sign_in(client, "alice"))[0]

    def move(token: str, column: str, by: timedelta) -> None:
        """The session's time moved back in the database (through the model: stored as the app stores times)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with raw_db.bind_ctx([BrowserSession]):
            moved = BrowserSession.update({getattr(BrowserSession, column): utcnow() - by}).where(
                BrowserSession.token_hash == digest
            )
            assert moved.execute() == 1

    idle = await new_session()
    move(idle, "last_seen_at", timedelta(minutes=59))
    await ok_data(await client.get("/api/v1/me", headers=with_cookie(idle)))  # within the hour, and touched
    move(idle, "last_seen_at", timedelta(minutes=61))
    assert await error_of(await client.get("/api/v1/me", headers=with_cookie(idle)), 401)

    busy = await new_session()
    move(busy, "created_at", timedelta(hours=11, minutes=59))
    await ok_data(await client.get("/api/v1/me", headers=with_cookie(busy)))
    move(busy, "created_at", timedelta(hours=12, minutes=1))  # busy, yet older than NEWREMORA_SESSION_MAX_HOURS
    assert await error_of(await client.get("/api/v1/me", headers=with_cookie(busy)), 401)

    first, second = await new_session(), await new_session()
    await database.run(users.set_password, "alice", OTHER_PASSWORD)  # as `newremora user set-password` does
    for old in (first, second):
        assert await error_of(await client.get("/api/v1/me", headers=with_cookie(old)), 401)
    assert await error_of(await sign_in(client, "alice"), 401)
    fresh = cookie_of(await sign_in(client, "alice", OTHER_PASSWORD))[0]
    # Each sign-in deletes the sessions past their absolute expiry (the busy one); ended ones stay till then.
    hashes = {row[0] for row in raw_db.execute_sql("SELECT token_hash FROM browser_session").fetchall()}
    assert hashlib.sha256(busy.encode()).hexdigest() not in hashes
    assert hashlib.sha256(first.encode()).hexdigest() in hashes
    await ok_data(await client.get("/api/v1/jobs", headers=with_cookie(fresh)))

    await database.run(users.update_user, "alice", users.UserChanges(disabled=True))
    assert await error_of(await client.get("/api/v1/jobs", headers=with_cookie(fresh)), 401)
    await database.run(users.update_user, "alice", users.UserChanges(disabled=False))
    assert await error_of(await client.get("/api/v1/jobs", headers=with_cookie(fresh)), 401)  # not revived


@pytest.mark.parametrize(
    "settings_overrides",
    [{"signin_user_failures": 3, "signin_address_failures": 5, "trusted_proxies": (ipaddress.ip_network(PROXY),)}],
)
async def test_failed_sign_ins_lock_out_a_username_and_an_address_without_checking_the_password(
    app: Quart, raw_db: pw.Database
) -> None:
    client = app.test_client(use_cookies=False)
    add_user(app, "alice", "viewer")

    for _ in range(3):
        assert await error_of(await sign_in(client, "alice", "wrong-Passw0rd-guess", **peer("192.0.2.1")), 401)
    # The right password, from another address, during the username's lockout: refused all the same.
    locked = await sign_in(client, "alice", **peer("192.0.2.2"))
    assert "Too many failed sign-ins" in await error_of(locked, 429)
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Set-Cookie" not in locked.headers
    # A name that does not exist locks out the same way: no way to tell names apart.
    for _ in range(3):
        assert await error_of(await sign_in(client, "ghost", "wrong-Passw0rd-guess", **peer("192.0.2.3")), 401)
    assert await error_of(await sign_in(client, "ghost", "wrong-Passw0rd-guess", **peer("192.0.2.4")), 429)

    # Per address: 5 failures from one address on several names lock out that address, for alice too.
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert await error_of(await sign_in(client, name, "wrong-Passw0rd-guess", **peer("198.51.100.7")), 401)
    assert await error_of(await sign_in(client, "zed", "wrong-Passw0rd-guess", **peer("198.51.100.7")), 429)
    # Behind the trusted proxy, the forwarded client is the one counted.
    forwarded = peer(PROXY, {"X-Forwarded-For": "198.51.100.7"})
    assert await error_of(await sign_in(client, "zed", "wrong-Passw0rd-guess", **forwarded), 429)

    # Once the failures age out of the window, the right password signs in (and the lockouts left audit rows).
    with raw_db.bind_ctx([SigninFailure]):
        SigninFailure.update(at=utcnow() - timedelta(minutes=16)).execute()
    signed = await ok_data(await sign_in(client, "alice", **peer("192.0.2.2")))
    assert signed["username"] == "alice"
    throttled = [row for row in audit_rows(raw_db, "auth.signin_failed") if row[2] == 429]
    assert len(throttled) == 4 and all(row[1] == "refused" and "locked out" in row[3] for row in throttled)
    assert PASSWORD not in str(raw_db.execute_sql("SELECT * FROM audit_event").fetchall())


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": (ipaddress.ip_network(PROXY),)}])
async def test_the_cookie_is_secure_when_the_request_came_over_tls(app: Quart) -> None:
    client = app.test_client(use_cookies=False)
    add_user(app, "alice", "viewer")
    plain = cookie_of(await sign_in(client, "alice", **peer(PROXY)))[1]
    assert "Secure" not in plain
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    secure = cookie_of(await sign_in(client, "alice", **peer(PROXY, tls)))[1]
    assert "; Secure" in secure and "HttpOnly" in secure and "SameSite=Strict" in secure
    # From a peer that is no proxy, X-Forwarded-Proto is not believed.
    assert "Secure" not in cookie_of(await sign_in(client, "alice", **peer("192.0.2.9", tls)))[1]
