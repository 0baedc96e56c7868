"""``/api/v1/me``: who is calling and what they may do (the page shows only what the role allows)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_response

from app import users
from app.api.context import current_principal, runtime
from app.api.users import scope_out, user_out
from app.models import ApiKey
from app.rights import allowed_endpoints
from app.schemas.common import Envelope
from app.schemas.users import MeOut
from app.scopes import scope_rule

blueprint = Blueprint("me", __name__)


@blueprint.get("")
@validate_response(Envelope[MeOut])
async def me() -> Envelope[MeOut]:
    """Who is calling.

    ``local`` in single-user mode (no key and no user exists), else the key and its owner, with the effective role
    and the endpoints it allows."""
    principal = current_principal()
    database = runtime().database
    user_id = principal.user_id
    user = await database.run(lambda: user_out(users.find_user(user_id))) if user_id is not None else None
    scope = await database.run(scope_out, principal.scope) if principal.scope is not None else None
    allowed = allowed_endpoints(principal.role)
    if principal.scope is not None:
        allowed = [endpoint for endpoint in allowed if scope_rule(endpoint) != "unscoped"]
    key = await database.run(ApiKey.get_or_none, ApiKey.id == principal.key_id) if principal.key_id else None
    return Envelope(
        data=MeOut(
            kind=principal.kind,
            name=principal.name,
            role=principal.role,
            key_id=principal.key_id,
            key_name=key.name if key is not None else None,
            user=user,
            allowed=allowed,
            scope=scope,
        )
    )
