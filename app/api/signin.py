"""``/auth/*``: sign in with a password, sign out, and who is signed in (outside /api/v1: the access layer does
not ask these for a key; a session's own checks are here and in app/api/sessions.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Final

from quart import Blueprint, Response, g, jsonify, request
from quart_schema import document_response, tag, validate_request

from app import audit, sessions, signin
from app.api.context import runtime
from app.api.errors import error_response
from app.api.sessions import (
    auth_entry,
    clear_session_cookie,
    current_session,
    presented_session_token,
    require_csrf,
    start_session,
)
from app.schemas.common import Envelope, ErrorEnvelope
from app.schemas.signin import SessionOut, SignedOut, SigninIn

blueprint = Blueprint("signin", __name__)
TAG: Final = ["sign-in"]
WRONG: Final = "Wrong username or password"
NOT_SIGNED_IN: Final = "Not signed in"
# On the 401 of GET /auth/session: "password" when some enabled user has a password, so the page offers the
# sign-in form (else only the API key prompt).
SIGNIN_HEADER: Final = "X-Sign-In"


def _limits() -> signin.Limits:
    settings = runtime().live_settings  # changeable at runtime (app/runtime_settings.py)
    return signin.Limits(
        per_user=settings.signin_user_failures,
        per_address=settings.signin_address_failures,
        window=timedelta(minutes=settings.signin_window_minutes),
    )


def _session_out(live: sessions.LiveSession | sessions.NewSession, user_id: str, method: str) -> SessionOut:
    return SessionOut.model_validate(
        {
            "user_id": user_id,
            "username": live.username,
            "role": live.role,
            "method": method,
            "csrf_token": live.csrf_token,
            "signed_in_at": live.created_at,
        }
    )


def _ok(model: SessionOut | SignedOut) -> Response:
    return jsonify(Envelope(data=model).model_dump(mode="json"))


@blueprint.post("/signin")
@tag(TAG)
@validate_request(SigninIn)
@document_response(Envelope[SessionOut], 200)
@document_response(ErrorEnvelope, 400)
@document_response(ErrorEnvelope, 401)
@document_response(ErrorEnvelope, 403)
@document_response(ErrorEnvelope, 415)
@document_response(ErrorEnvelope, 429)
async def signin_with_password(data: SigninIn) -> Response:
    """Sign in with a username and password.

    Sets the session cookie (HttpOnly, SameSite=Strict, Secure over TLS) and answers the CSRF token to send as
    ``X-CSRF-Token`` on every unsafe request. 401 for a wrong password, an unknown or a disabled user alike. After
    too many refusals for the username or from the address (NEWREMORA_SIGNIN_*), 429 with Retry-After, and the
    password is not checked at all until the window passes: a right password is refused too."""
    database = runtime().database
    source = request.remote_addr or "unknown"
    attempt = await database.run(signin.attempt_signin, data.username, data.password, source, _limits())
    if attempt.retry_after is not None:
        summary = {"username": data.username, "reason": "locked out"}
        await database.run(audit.record, auth_entry("auth.signin_failed", "refused", 429, None, summary))
        message = f"Too many failed sign-ins: try again in {attempt.retry_after} s"
        return error_response(429, message, {"Retry-After": str(attempt.retry_after)})
    if attempt.user_id is None:
        summary = {"username": data.username, "reason": "wrong username or password"}
        await database.run(audit.record, auth_entry("auth.signin_failed", "refused", 401, None, summary))
        return error_response(401, WRONG)
    response = Response(b"", status=200, content_type="application/json")
    await start_session(response, attempt.user_id, "password")
    answer = Envelope(data=_session_out(g.started_session, attempt.user_id, "password"))
    response.set_data(json.dumps(answer.model_dump(mode="json")))
    return response


@blueprint.post("/signout")
@tag(TAG)
@document_response(Envelope[SignedOut], 200)
@document_response(ErrorEnvelope, 403)
async def signout() -> Response:
    """Sign out: ends the session on the server and clears the cookie.

    The old cookie, replayed, gets 401 from then on. A live session must send its ``X-CSRF-Token`` (403
    otherwise, nothing ended); without a live session the cookie is cleared all the same."""
    live = await current_session()
    ended = False
    if live is not None:
        require_csrf(live)
        token = presented_session_token()
        database = runtime().database
        ended = token is not None and await database.run(sessions.end_session, token) is not None
        entry = auth_entry("auth.signout", "success", 200, (live.user_id, live.username), {"method": live.method})
        await database.run(audit.record, entry)
    response = _ok(SignedOut(ended=ended))
    clear_session_cookie(response)
    return response


@blueprint.get("/session")
@tag(TAG)
@document_response(Envelope[SessionOut], 200)
@document_response(ErrorEnvelope, 401)
async def current() -> Response:
    """Who is signed in, and the session's CSRF token.

    401 when the request has no live session (none, ended, expired, or its user disabled); then the header
    ``X-Sign-In: password`` says that signing in with a password is possible here."""
    live = await current_session()
    if live is None:
        offered = await runtime().database.run(sessions.password_signin_offered)
        return error_response(401, NOT_SIGNED_IN, {SIGNIN_HEADER: "password"} if offered else None)
    return _ok(_session_out(live, live.user_id, live.method))
