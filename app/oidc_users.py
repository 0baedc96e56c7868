"""The local user behind an OpenID Connect identity: made at its first sign-in, its role refreshed at each one.

Runs in a database thread. A user is linked to the issuer's ``sub`` (never to a username or an email, which an
identity provider may let people change): a local account whose username equals the identity's is never taken
over; the new user gets a free name with an ``-oidc`` suffix instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import peewee as pw

from app.apikeys import keys_changed
from app.models import Group, Server, User
from app.oidc_claims import ClaimGrant, username_from
from app.scopes import Scope
from app.users import USERNAME

SOURCE: Final = "oidc"
SUFFIX: Final = "-oidc"
MAX_NAME_TRIES: Final = 50


class SignInRefused(Exception):
    """The identity is known but may not sign in (its user is disabled locally)."""


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    username: str
    role: str
    created: bool


def _text(claims: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    return value[:limit] if isinstance(value, str) and value else None


def _free_username(wanted: str) -> str:
    base = wanted if USERNAME.fullmatch(wanted) else "oidc-user"
    if not User.select().where(User.username == base).exists():
        return base
    stem = base[: 64 - len(SUFFIX) - 3]
    for number in range(1, MAX_NAME_TRIES + 1):
        candidate = f"{stem}{SUFFIX}" if number == 1 else f"{stem}{SUFFIX}-{number}"
        if not User.select().where(User.username == candidate).exists():
            return candidate
    raise SignInRefused(f"no free username for {wanted!r}: create the user by hand")


def grant_scope(grant: ClaimGrant) -> Scope | None:
    """The grant's limits as a scope of ids (None: unlimited). A name that matches no group or server grants
    nothing (a limit that names only unknown names sees nothing): never wider than the mapping says."""
    if grant.unlimited:
        return None
    groups = Group.select(Group.id).where(Group.name.in_(grant.groups)) if grant.groups else []
    servers = Server.select(Server.id).where(Server.name.in_(grant.servers)) if grant.servers else []
    return Scope(groups=frozenset(str(g.id) for g in groups), servers=frozenset(str(s.id) for s in servers))


def _scope_json(grant: ClaimGrant) -> str | None:
    scope = grant_scope(grant)
    return scope.to_json() if scope is not None else None


def upsert_oidc_user(subject: str, claims: Mapping[str, Any], username_claim: str, grant: ClaimGrant) -> SignedIn:
    """The user linked to ``subject``, created or updated from the claims (role, display name, email)."""
    display_name = _text(claims, "name", 200)
    email = _text(claims, "email", 254)
    database = User._meta.database
    try:
        with database.atomic():
            user = User.get_or_none(User.oidc_subject == subject)
            created = user is None
            if user is None:
                user = User.create(
                    username=_free_username(username_from(claims, username_claim)),
                    display_name=display_name or "",
                    email=email,
                    password_hash="",
                    role=grant.role,
                    scope=_scope_json(grant),
                    source=SOURCE,
                    oidc_subject=subject,
                )
            else:
                if user.disabled_at is not None:
                    raise SignInRefused("this user is disabled in NewRemora")
                # The provider's claims are the source of truth for an SSO user's role, at every sign-in.
                user.role = grant.role
                user.scope = _scope_json(grant)
                user.display_name = display_name if display_name is not None else user.display_name
                user.email = email if email is not None else user.email
                user.save()
    except pw.IntegrityError:
        # Two first sign-ins of one subject at once: the other made the user; this attempt is simply retried.
        raise SignInRefused("a concurrent sign-in of this identity: sign in again") from None
    keys_changed()  # a changed role counts for the user's keys at once
    return SignedIn(user_id=str(user.id), username=str(user.username), role=str(user.role), created=created)


@dataclass(frozen=True)
class BearerCaller:
    user_id: str | None  # the user a sign-in linked to the subject, if any
    disabled: bool
    scope: Scope | None


def bearer_caller(subject: str, grant: ClaimGrant) -> BearerCaller:
    """What a bearer JWT of ``subject`` acts as: its linked user (a disabled one stays out) and its grant's scope."""
    user = User.get_or_none(User.oidc_subject == subject)
    user_id = str(user.id) if user is not None else None
    return BearerCaller(user_id, user is not None and user.disabled_at is not None, grant_scope(grant))
