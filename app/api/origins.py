"""Host check, cross-site guard and CORS, applied before authentication and rate limiting (app/sites.py decides).

They run first because they are cheap and because what they refuse must change nothing: a request for a
foreign Host (DNS rebinding) or from a foreign page's form is refused before any handler runs. Preflights are
answered here too, so a page on an allowed origin is never refused for lack of a key or a rate budget it
cannot present in a preflight."""

from __future__ import annotations

from typing import Final

from quart import Quart, Response, request

from app.errors import Forbidden, InvalidInput
from app.settings import Settings
from app.sites import OriginPolicy, cross_site_refusal, default_allowed_hosts, host_allowed

# Health probes send whatever Host their platform configures; /health changes nothing and holds no secret.
HOST_CHECK_EXEMPT: Final = frozenset({"/health"})
ALLOWED_HEADERS: Final = "Authorization, Content-Type, Accept, Last-Event-ID, X-Request-ID"
EXPOSED_HEADERS: Final = "X-Request-ID, Retry-After, WWW-Authenticate"
PREFLIGHT_MAX_AGE_S: Final = "600"


def _vary_origin(response: Response) -> None:
    if "origin" not in response.headers.get("Vary", "").lower():
        response.headers.add("Vary", "Origin")


def install_origin_guard(app: Quart, settings: Settings) -> None:
    allowed_hosts = settings.allowed_hosts or default_allowed_hosts(settings.host)
    policy = OriginPolicy(settings.cors_origins)

    @app.before_request
    async def check_host_and_origin() -> Response | None:
        host = request.headers.get("Host")
        if host is not None and request.path not in HOST_CHECK_EXEMPT and not host_allowed(host, allowed_hosts):
            raise InvalidInput("Host: not a name of this service (add it to NEWREMORA_ALLOWED_HOSTS)")
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return _preflight(origin, request.headers["Access-Control-Request-Method"])
        refusal = cross_site_refusal(
            method=request.method,
            origin=origin,
            referer=request.headers.get("Referer"),
            fetch_site=request.headers.get("Sec-Fetch-Site"),
            own_origin=f"{request.scheme}://{host or request.host}",
            policy=policy,
        )
        if refusal is not None:
            raise Forbidden(refusal)
        return None

    def _preflight(origin: str | None, method: str) -> Response:
        allowed = policy.methods_for(origin) if origin else ()
        if method.strip().upper() not in allowed:
            raise Forbidden("CORS: this origin may not send this request (see NEWREMORA_CORS_ORIGINS)")
        response = Response(b"", status=204)
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Access-Control-Allow-Methods"] = ", ".join(allowed)
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_S
        _vary_origin(response)
        return response

    if not settings.cors_origins:
        return

    @app.after_request
    async def allow_reading(response: Response) -> Response:
        _vary_origin(response)  # caches must not hand one origin's answer to another
        origin = request.headers.get("Origin")
        if origin and policy.may_read(origin) and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response
