"""Single sign-on: ``GET /auth/oidc/login`` sends the browser to the OpenID Connect provider, ``GET
/auth/oidc/callback`` takes it back, checks everything, makes or refreshes the local user and starts a session.

The sign-in attempt (state, nonce, PKCE verifier) travels in a short-lived cookie encrypted with this deployment's
key (app/vault.py, Fernet: authenticated), so any process of the deployment can finish it. A failed sign-in shows
a page saying why (never a stack trace) and leaves an ``auth.signin_failed`` audit row.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import time
from typing import Any, Final

from quart import Blueprint, Response, request, url_for
from quart_schema import document_querystring, tag

from app import audit
from app.api.bearer import oidc_provider
from app.api.context import runtime
from app.api.sessions import start_session
from app.errors import IdentityProviderUnavailable, SecretUnreadable, Unauthorized
from app.logs import request_id_var
from app.oidc import Authorization
from app.oidc_users import SignedIn, SignInRefused, upsert_oidc_user
from app.schemas.oidc import CallbackQuery

log = logging.getLogger(__name__)
blueprint = Blueprint("oidc", __name__)

COOKIE: Final = "newremora_oidc"
COOKIE_PATH: Final = "/auth/oidc"
ATTEMPT_TTL_S: Final = 600  # a sign-in not finished within ten minutes starts again
TAGS: Final = ["sign-in"]


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# What the OpenAPI document says these browser routes answer (app/api/openapi.py adds it): pages, not envelopes.
SIGN_IN_RESPONSES: Final[dict[str, dict[str, Any]]] = {
    "/auth/oidc": {
        "200": {
            "description": "Whether single sign-on is configured (the page offers its button only then)",
            "content": {"application/json": {"example": {"enabled": True}}},
        },
    },
    "/auth/oidc/login": {
        "302": {"description": "To the provider's authorization page (Location), with the attempt's cookie set"},
        "404": _html("Single sign-on is not configured"),
        "503": _html("The provider's discovery document cannot be read"),
    },
    "/auth/oidc/callback": {
        "302": {"description": "Signed in: to the page (/), with the session cookie set"},
        "400": _html("A stale or foreign attempt (state), a provider error, or an ID token refused"),
        "403": _html("The identity maps to no role, or its user is disabled here"),
        "404": _html("Single sign-on is not configured"),
        "503": _html("The provider cannot be reached"),
    },
}


def _redirect(location: str) -> Response:
    response = Response("", status=302)
    response.headers["Location"] = location
    return response


def _page(title: str, message: str, status: int) -> Response:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>NewRemora: "
        f"{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f'<p id="signin-message">{html.escape(message)}</p>'
        '<p><a href="/">Back to NewRemora</a></p></main></body></html>'
    )
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


async def _failed(reason: str, message: str, status: int, subject: str | None = None) -> Response:
    entry = audit.Entry(
        actor=f"oidc:{subject}" if subject else "unknown",
        actor_kind="oidc" if subject else "unknown",
        action="auth.signin_failed",
        outcome="refused",
        object_type="user",
        summary={"method": "oidc", "reason": reason},
        source=request.remote_addr,
        request_id=request_id_var.get(),
        status=status,
    )
    try:
        await runtime().database.run(audit.record, entry)
    except Exception:
        log.error("audit row not written: auth.signin_failed (%s)", reason, exc_info=True)
    return _page("Sign-in failed", message, status)


def _redirect_uri() -> str:
    return url_for("oidc.callback", _external=True)


def _attempt_from_cookie() -> Authorization | None:
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    try:
        value = json.loads(runtime().vault.decrypt(sealed))
        if not isinstance(value, dict) or time.time() - float(value.get("at", 0)) > ATTEMPT_TTL_S:
            return None
        return Authorization.from_dict(value)
    except (SecretUnreadable, ValueError, TypeError):
        return None


@blueprint.get("")
@tag(TAGS)
async def offered() -> dict[str, bool]:
    """Whether single sign-on is offered.

    ``{"enabled": true}`` when an OpenID Connect provider is configured: the page shows "Sign in with SSO" then."""
    return {"enabled": oidc_provider() is not None}


@blueprint.get("/login")
@tag(TAGS)
async def login() -> Response:
    """Start single sign-on.

    Redirects (302) to the OpenID Connect provider with state, nonce and a PKCE (S256) challenge; the attempt is
    kept in a short-lived encrypted cookie. 404 when single sign-on is not configured, 503 when the provider cannot
    be reached."""
    provider = oidc_provider()
    if provider is None:
        return _page("Single sign-on is off", "This NewRemora has no OpenID Connect provider configured.", 404)
    attempt = Authorization.new()
    try:
        target = await provider.authorization_url(attempt, _redirect_uri())
    except IdentityProviderUnavailable as exc:
        return _page("Sign-in unavailable", exc.message, 503)
    response = _redirect(target)
    sealed = runtime().vault.encrypt(json.dumps({**attempt.as_dict(), "at": time.time()}))
    # Lax: the cookie comes back on the provider's top-level redirect to the callback, never on a cross-site post.
    response.set_cookie(
        COOKIE,
        sealed,
        max_age=ATTEMPT_TTL_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=request.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/callback")
@tag(TAGS)
@document_querystring(CallbackQuery)
async def callback() -> Response:
    """Finish single sign-on (the provider's redirect back).

    Checks the state against the attempt's cookie, exchanges the code with the PKCE verifier, validates the ID
    token (signature, iss, aud, exp, nonce), maps its claims to a role, makes or refreshes the local user linked to
    the subject and starts a browser session (302 to the page). A failure answers a page saying why (400 bad or
    stale attempt, 403 no role or a disabled user, 503 the provider)."""
    provider = oidc_provider()
    if provider is None:
        return _page("Single sign-on is off", "This NewRemora has no OpenID Connect provider configured.", 404)
    error = request.args.get("error")
    if error:
        said = request.args.get("error_description") or error
        return await _failed("provider_error", f"The identity provider did not sign you in: {said}", 400)
    attempt = _attempt_from_cookie()
    state = request.args.get("state", "")
    if attempt is None or not hmac.compare_digest(attempt.state.encode(), state.encode()):
        return await _failed("bad_state", "This sign-in expired or was not started here: start again.", 400)
    code = request.args.get("code")
    if not code:
        return await _failed("no_code", "The identity provider sent no authorization code.", 400)
    try:
        claims = await provider.exchange(code, attempt, _redirect_uri())
    except Unauthorized as exc:
        return await _failed("token_refused", exc.message, 400)
    except IdentityProviderUnavailable as exc:
        return await _failed("provider_unavailable", exc.message, 503)
    subject = str(claims["sub"])
    grant = provider.config.grant(claims)
    if grant is None:
        message = (
            f"Your identity maps to no NewRemora role (its {provider.config.role_claim!r} claim matches no entry of "
            "NEWREMORA_OIDC_ROLE_MAP): ask an administrator."
        )
        return await _failed("no_role", message, 403, subject)
    try:
        signed = await runtime().database.run(upsert_oidc_user, subject, claims, provider.config.username_claim, grant)
    except SignInRefused as exc:
        return await _failed("refused", f"{exc}.", 403, subject)
    return await _signed_in(signed)


async def _signed_in(signed: SignedIn) -> Response:
    """The user is known and allowed: a browser session starts (its cookie, its ``auth.signin`` audit row)."""
    response = _redirect("/")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    await start_session(response, signed.user_id, "oidc")
    return response
