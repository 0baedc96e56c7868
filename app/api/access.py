"""Who may call /api/v1, and what: API keys (once any key or user exists), the least role of each route
(app/rights.py), and per-client rate limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from quart import Quart, current_app, g, request
from quart_rate_limiter import RateLimit, RateLimiter

from app.api.bearer import oidc_provider, principal_from_jwt
from app.api.context import RUNTIME_KEY, runtime
from app.api.sessions import current_session, require_csrf, session_principal
from app.apikeys import touch_key
from app.errors import Forbidden, Unauthorized
from app.oidc import looks_like_jwt
from app.principals import LOCAL, Principal, for_key
from app.rights import at_least, needed_role
from app.runtime_settings import LiveSettings
from app.scopes import UNSCOPED_ONLY, scope_rule
from app.settings import Settings

API_PREFIX: Final = "/api/v1/"
# Endpoints that create jobs share one hourly budget per client.
SUBMISSION_ENDPOINTS: Final = (
    "jobs.create_job",
    "jobs.create_script_job",
    "jobs.create_playbook_job",
    "jobs.duplicate_job",
)


class PerClientRateLimiter(RateLimiter):
    """The limits count all of a client's requests together, not each route apart (the library keys them by
    route): "100 requests per minute per IP" means across the API. Submissions have a budget of their own.
    Both are read per request from the runtime settings (app/runtime_settings.py): an administrator may change
    them while the service runs (a changed limit is a new key, so it starts a fresh count)."""

    def __init__(self, app: Quart, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings
        super().__init__(app, **kwargs)

    def _get_limits_for_view_function(self, view_func: Callable[..., Any], blueprint: Any) -> list[RateLimit]:
        # The environment's values until the runtime is open (a request served before it, a test app).
        found = current_app.extensions.get(RUNTIME_KEY)
        live: LiveSettings | Settings = found.live_settings if found is not None else self.settings
        limits: list[RateLimit] = super()._get_limits_for_view_function(view_func, blueprint)
        if live.rate_limit:
            limits = [*limits, RateLimit(live.rate_limit, timedelta(minutes=1))]
        if live.job_rate_limit and request.endpoint in SUBMISSION_ENDPOINTS:
            limits = [*limits, RateLimit(live.job_rate_limit, timedelta(hours=1))]
        return limits

    async def _create_key(self, endpoint: str, rate_limit: RateLimit) -> str:
        key_function = rate_limit.key_function or self.key_function
        return f"{current_app.import_name}-{rate_limit.key}-{await key_function()}"


async def _client_key() -> str:
    # The socket's peer, or the address a trusted proxy forwarded (app/api/proxies.py rewrote the scope); never
    # X-Forwarded-For as such (the library's default), which any client may write.
    return request.remote_addr or "unknown"


async def _not_api() -> bool:
    return not request.path.startswith(API_PREFIX)


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # EventSource cannot send headers: the stream also takes the key as ?access_token= (never logged).
    if request.path.endswith("/stream"):
        return request.args.get("access_token") or None
    return None


def install_access_control(app: Quart, settings: Settings) -> None:
    PerClientRateLimiter(app, settings, key_function=_client_key, skip_function=_not_api)

    @app.before_request
    async def require_api_key() -> None:
        if not request.path.startswith(API_PREFIX) or request.method == "OPTIONS":
            return
        presented = presented_key()
        # A browser signed in (no key sent): its session cookie, and for what changes state, its CSRF token.
        live = await current_session() if presented is None else None
        if live is not None:
            g.principal = session_principal(live)
            require_csrf(live)
            _require_rights(g.principal)
            return
        rt = runtime()
        provider = oidc_provider()
        if provider is not None and presented is not None and looks_like_jwt(presented):
            g.principal = await principal_from_jwt(provider, presented)
            _require_rights(g.principal)
            return
        # From memory, no database round trip; the live keys are read again at most once a second (app/apikeys.py).
        verdict = rt.live_keys.check(presented)
        if verdict is None:
            verdict = await rt.database.run(rt.live_keys.load_and_check, presented)
        if verdict.touch is not None:
            await rt.database.run(touch_key, verdict.touch)  # once a minute per key
        # With single sign-on the service is for a team: never open, even before the first user exists.
        if verdict.allowed is False or (verdict.key_id is None and provider is not None):
            raise Unauthorized()
        # The principal decided here, not current_principal()'s default: the check never rests on a fallback.
        principal = (
            LOCAL if verdict.key_id is None else for_key(verdict.key_id, verdict.role, verdict.user_id, verdict.scope)
        )
        g.principal = principal
        _require_rights(principal)


def _require_rights(principal: Principal) -> None:
    """The route's least role (app/rights.py), and an unlimited caller where the route needs one (app/scopes.py)."""
    if request.endpoint is None:
        return
    needed = needed_role(request.endpoint)
    if not at_least(principal.role, needed):
        raise Forbidden(f"this needs the {needed} role; the caller is {principal.role}")
    if principal.scope is not None and scope_rule(request.endpoint) == "unscoped":
        raise Forbidden(UNSCOPED_ONLY)
