"""``/api/v1/keys``: API keys. Everyone lists, creates and revokes their own; administrators all of them."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from app import apikeys, users
from app.api.context import current_principal, runtime
from app.api.users import scope_in, scope_out
from app.errors import Forbidden
from app.models import ApiKey
from app.principals import Principal, Role, as_role
from app.rights import narrower
from app.schemas.common import Envelope
from app.schemas.users import KeyCreate, KeyList, KeyOut, NewKeyOut
from app.scopes import narrowed, scope_from_json

blueprint = Blueprint("keys", __name__)


def key_out(key: ApiKey) -> KeyOut:
    """In a database thread (the scope's names are read)."""
    owner = key.user if key.user_id is not None else None
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        user_id=key.user_id,
        username=owner.username if owner is not None else None,
        role=as_role(key.role) if key.role is not None else None,
        effective_role=apikeys.effective_role(key.role, owner.role if owner is not None else None),
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        scope=scope_out(scope_from_json(key.scope)),
    )


def _sees_all(principal: Principal) -> bool:
    # Keys of others are an unlimited administrator's: a scoped one manages their own only (docs/access.md).
    return principal.role == "admin" and principal.scope is None


@blueprint.get("")
@validate_response(Envelope[KeyList])
async def list_keys() -> Envelope[KeyList]:
    """List API keys.

    The caller's keys (an administrator: every key), revoked and expired ones too; never the keys themselves."""
    principal = current_principal()
    if not _sees_all(principal) and principal.user_id is None:
        # A caller of no user (a bearer JWT, a key of no user with a scope) owns no key, and sees none of others.
        return Envelope(data=KeyList(keys=[]))
    owner = None if _sees_all(principal) else principal.user_id
    found = await runtime().database.run(lambda: [key_out(key) for key in apikeys.list_keys(owner)])
    return Envelope(data=KeyList(keys=found))


@blueprint.post("")
@validate_request(KeyCreate)
@validate_response(Envelope[NewKeyOut], 201)
async def create_key(data: KeyCreate) -> tuple[Envelope[NewKeyOut], int]:
    """Create an API key.

    The key is shown in this answer only. It belongs to the caller (an administrator may name ``user_id``) and may
    do at most what its owner may, and what the calling key may: 403 beyond. ``scope`` narrows it to groups and
    servers; it holds within its owner's scope, and a key made by a key with a scope of its own keeps that one too.
    """
    principal = current_principal()
    expires_at = data.expiry()

    def create() -> tuple[apikeys.NewKey, KeyOut]:
        owner_id = data.user_id if data.user_id is not None else principal.user_id
        if owner_id != principal.user_id and not _sees_all(principal):
            raise Forbidden("only an administrator may create keys for another user")
        owner = users.find_user(owner_id) if owner_id is not None else None
        if owner is None and not _sees_all(principal):
            # A key of no user is an administrator key without a scope: only such an administrator makes one.
            raise Forbidden(
                "a key belongs to a user: only an administrator without a scope may create a key of no user "
                "(sign in once to have a user of your own)"
            )
        role: Role | None = data.role
        if owner is not None and owner.id == principal.user_id:
            # A narrowed key makes keys no wider than itself.
            ceiling = narrower(principal.role, as_role(owner.role))
            if role is None and ceiling != owner.role:
                role = ceiling
            elif role is not None and narrower(role, ceiling) != role:
                raise Forbidden(f"a key cannot have more rights than the caller ({ceiling})")
        scope = scope_in(data.scope)
        if owner_id == principal.user_id and principal.key_id is not None:
            calling = ApiKey.get_or_none(ApiKey.id == principal.key_id)
            # A key with a scope of its own makes keys no wider than itself (its owner's scope holds anyway).
            scope = narrowed(scope, scope_from_json(calling.scope if calling is not None else None))
        created = apikeys.create_key(data.name, owner, role, expires_at, scope)
        return created, key_out(created.record)

    created, shown = await runtime().database.run(create)
    return Envelope(data=NewKeyOut(**shown.model_dump(), key=created.key)), 201


@blueprint.delete("/<key_id>")
@validate_response(Envelope[KeyOut])
async def revoke_key(key_id: str) -> Envelope[KeyOut]:
    """Revoke an API key.

    One of the caller's keys (an administrator: any key); a key of another user is not found (404). Counts at once
    on this node, within a second on the others."""
    principal = current_principal()
    owner = None if _sees_all(principal) else (principal.user_id or "")
    return Envelope(data=await runtime().database.run(lambda: key_out(apikeys.revoke_key(key_id, owner))))
