"""Bearer JWTs on /api/v1: a token signed by the OpenID Connect issuer acts as ``Principal(kind="oidc")`` with the
role its claims map to (app/oidc_claims.py), so a CI pipeline with workload identity needs no stored key."""

from __future__ import annotations

from typing import Final, cast

from quart import Quart, current_app, g

from app.api.context import runtime
from app.errors import Forbidden
from app.oidc import OidcConfig, Provider
from app.oidc_users import bearer_caller
from app.principals import Principal
from app.settings import Settings

OIDC_KEY: Final = "newremora.oidc"


def install_oidc_provider(app: Quart, settings: Settings) -> Provider | None:
    """The issuer of this service, checked now (a half-made configuration stops the start), reached at first use."""
    config = OidcConfig.from_settings(settings)
    provider = Provider(config) if config is not None else None
    app.extensions[OIDC_KEY] = provider
    return provider


def oidc_provider() -> Provider | None:
    return cast(Provider | None, current_app.extensions.get(OIDC_KEY))


async def principal_from_jwt(provider: Provider, token: str) -> Principal:
    """The caller a valid JWT names; Unauthorized (401) for a token that is not valid, Forbidden (403) for a valid
    one whose claims map to no role."""
    claims = await provider.verify(token, provider.config.audiences)
    grant = provider.config.grant(claims)
    if grant is None:
        raise Forbidden(
            f"this identity maps to no NewRemora role: its {provider.config.role_claim!r} claim matches no entry "
            "of NEWREMORA_OIDC_ROLE_MAP"
        )
    subject = str(claims["sub"])
    # A user that a sign-in made for this subject and that is disabled here stays out, whatever the provider says.
    caller = await runtime().database.run(bearer_caller, subject, grant)
    if caller.disabled:
        raise Forbidden("this identity's user is disabled in NewRemora")
    g.oidc_grant = grant  # as the role map said it, names and all (the scope below holds their ids)
    return Principal(kind="oidc", name=subject, role=grant.role, user_id=caller.user_id, scope=caller.scope)
