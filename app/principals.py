"""Who is calling: the one answer the rights checks and the audit trail share.

A request is made by a principal: the local user of a service that has no API key and no user yet (single-user
mode), an API key, a signed-in user, or an OpenID Connect subject. The access layer (app/api/access.py) decides
it once per request; everything else asks ``app.api.context.current_principal()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from app.scopes import Scope

PrincipalKind = Literal["local", "key", "user", "oidc"]
Role = Literal["viewer", "operator", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "operator", "admin")


def as_role(value: str) -> Role:
    """A role read from the database or a command line, checked."""
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"not a role: {value!r} (expected one of {', '.join(ROLES)})")


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    # What an audit row names as the actor: "local", a key's id, a username, an OIDC subject.
    name: str
    role: Role = "admin"
    key_id: str | None = None
    user_id: str | None = None
    # The groups and servers it is limited to (docs/access.md, "Scopes"); None: unlimited.
    scope: Scope | None = None

    @property
    def actor(self) -> str:
        """``kind:name``, e.g. ``key:0b5f...`` or ``user:alice``: unambiguous across kinds in one column."""
        return f"{self.kind}:{self.name}"


# Single-user mode: no key and no user exists, the service listens on loopback, whoever reaches it is its owner.
LOCAL: Final = Principal(kind="local", name="local")


def for_key(key_id: str, role: Role = "admin", user_id: str | None = None, scope: Scope | None = None) -> Principal:
    """A key's principal: ``role`` is already the narrower of the key's and its owner's, ``scope`` the key's own
    within its owner's (app/apikeys.py). A key without an owner (made before users existed, or in single-user
    mode) is an administrator key, unlimited unless it carries a scope of its own."""
    return Principal(kind="key", name=key_id, role=role, key_id=key_id, user_id=user_id, scope=scope)


def for_user(user_id: str, username: str, role: Role, scope: Scope | None = None) -> Principal:
    """A signed-in user's principal (a browser session): their own role and scope, named by their username."""
    return Principal(kind="user", name=username, role=role, user_id=user_id, scope=scope)
