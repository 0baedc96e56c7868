"""The browser session over HTTP: the cookie, the session of a request, its CSRF check, and ``start_session`` (the
one way a sign-in, by password or by OpenID Connect, becomes a session).

The cookie holds only a random token (app/sessions.py keeps its hash): HttpOnly, so no script reads it; SameSite=
Strict, since every request that needs it comes from the page itself (a link followed from elsewhere only loads
the page, whose own requests then carry it); Secure whenever the request came over TLS, directly or through a
trusted proxy (app/api/proxies.py rewrote the scheme). No Max-Age: the server ends it (idle, absolute, sign-out);
the browser forgets it when closed.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import timedelta
from typing import Final, Literal

from quart import Response, g, request

from app import audit, sessions
from app.api.context import runtime
from app.errors import Forbidden
from app.logs import request_id_var
from app.principals import Principal, for_user

COOKIE: Final = "newremora_session"
CSRF_HEADER: Final = "X-CSRF-Token"
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_COOKIE_CHARS: Final = 128  # a token is 43 characters; anything much longer is not one of ours


def expiry() -> sessions.Expiry:
    settings = runtime().live_settings  # changeable at runtime (app/runtime_settings.py)
    return sessions.Expiry(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.scheme == "https")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.scheme == "https")


def presented_session_token() -> str | None:
    token = request.cookies.get(COOKIE, "")
    return token if 0 < len(token) <= MAX_COOKIE_CHARS else None


async def current_session() -> sessions.LiveSession | None:
    """The live session of this request's cookie (read once per request), or None."""
    if "session" in g:
        found: sessions.LiveSession | None = g.session
        return found
    token = presented_session_token()
    live = await runtime().database.run(sessions.check_session, token, expiry()) if token else None
    g.session = live
    return live


def session_principal(live: sessions.LiveSession) -> Principal:
    return for_user(live.user_id, live.username, live.role, live.scope)


def require_csrf(live: sessions.LiveSession) -> None:
    """A request that changes state on the strength of the cookie must show the session's CSRF token, which only
    the page itself can read (GET /auth/session): a form or script of another site cannot."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), live.csrf_token.encode()):
        raise Forbidden(f"{CSRF_HEADER}: missing or wrong (a signed-in page sends the token of GET /auth/session)")


def auth_entry(
    action: str, outcome: audit.Outcome, status: int, user: tuple[str, str] | None, summary: Mapping[str, str]
) -> audit.Entry:
    """An audit row of the sign-in routes (which are outside /api/v1, so the audit hook does not see them)."""
    user_id, username = user if user is not None else (None, None)
    return audit.Entry(
        actor=f"user:{username}" if username else "unknown",
        actor_kind="user" if username else "unknown",
        user_id=user_id,
        action=action,
        outcome=outcome,
        object_type="session",
        summary=dict(summary),
        source=request.remote_addr,
        request_id=request_id_var.get(),
        status=status,
    )


async def start_session(response: Response, user_id: str, method: Literal["password", "oidc"]) -> None:
    """Signs ``user_id`` in: the session row, the cookie on ``response`` and the ``auth.signin`` audit row."""
    database = runtime().database
    await database.run(sessions.prune_sessions, expiry())
    new = await database.run(
        sessions.create_session, user_id, method, request.remote_addr, request.headers.get("User-Agent")
    )
    set_session_cookie(response, new.token)
    g.started_session = new  # for the answer of POST /auth/signin (its CSRF token)
    entry = auth_entry("auth.signin", "success", response.status_code, (user_id, new.username), {"method": method})
    await database.run(audit.record, entry)
