"""Users: local accounts with a role, an Argon2id password hash, and a disabled flag (never deleted).

Every change tells the live key cache (app/apikeys.py): a user disabled or given another role counts for their
keys at once in this process, within ``LIVE_KEYS_TTL_S`` in the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.apikeys import keys_changed
from app.clock import utcnow
from app.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from app.models import ApiKey, User
from app.principals import Role
from app.scopes import Scope
from app.sessions import end_user_sessions
from app.sites import is_loopback

USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS: Final = 12
MAX_PASSWORD_CHARS: Final = 1024  # Argon2 hashes anything, but a megabyte "password" is only a cost to us
# argon2-cffi's defaults are Argon2id with RFC 9106's low-memory parameters (64 MiB, 3 passes).
_HASHER: Final = PasswordHasher()
# Verified against when the user does not exist or has no password: the answer takes as long either way.
_DUMMY_HASH: Final = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(f"password: must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def verify_password(username: str, password: str) -> User | None:
    """The enabled user with this password, else None; Argon2's verify compares in constant time, and a missing
    user costs the same hash."""
    user = User.get_or_none(User.username == username)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or user.disabled_at is not None:
        return None
    return user


def create_user(
    username: str,
    role: Role,
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
    scope: Scope | None = None,
) -> User:
    """A new user; ``scope`` limits them (and their keys) to groups and servers (app/scopes.py), None: all."""
    if not USERNAME.fullmatch(username):
        raise InvalidInput("username: 1-64 characters a-z 0-9 . _ -, starting with a letter or digit")
    password_hash = hash_password(password) if password is not None else ""
    try:
        with User._meta.database.atomic():
            user = User.create(
                username=username,
                display_name=display_name,
                email=email,
                password_hash=password_hash,
                role=role,
                scope=scope.to_json() if scope is not None else None,
            )
    except pw.IntegrityError:
        raise Conflict(f"a user named {username!r} exists already") from None
    keys_changed()  # the first user ends single-user mode
    return user


def list_users() -> list[User]:
    return list(User.select().order_by(User.username))


def find_user(id_or_username: str) -> User:
    user = User.get_or_none((User.id == id_or_username) | (User.username == id_or_username))
    if user is None:
        raise NotFound("user not found")
    return user


@dataclass(frozen=True)
class UserChanges:
    """What PATCH /users/:id (or the CLI) changes: fields left None stay as they are (``email_set`` and
    ``scope_set`` say whether email or scope was given, since None clears it: no email, no limit)."""

    display_name: str | None = None
    email: str | None = None
    email_set: bool = False
    role: Role | None = None
    disabled: bool | None = None
    scope: Scope | None = None
    scope_set: bool = False


def update_user(id_or_username: str, changes: UserChanges) -> User:
    with User._meta.database.atomic():
        user = find_user(id_or_username)
        if changes.display_name is not None:
            user.display_name = changes.display_name
        if changes.email_set:
            user.email = changes.email
        if changes.role is not None:
            user.role = changes.role
        if changes.disabled is not None:
            user.disabled_at = (user.disabled_at or utcnow()) if changes.disabled else None
        if changes.scope_set:
            user.scope = changes.scope.to_json() if changes.scope is not None else None
        _keep_an_administrator(user)
        user.save()
        if user.disabled_at is not None:
            # Refused per request anyway; ended too, so that enabling the user again does not revive them.
            end_user_sessions(str(user.id))
    keys_changed()
    return user


def _keep_an_administrator(changed: User) -> None:
    # Without an enabled administrator nobody could manage users any more (but from the server's shell); one
    # limited to a scope cannot manage users either (docs/access.md, "Scopes").
    if changed.role == "admin" and changed.disabled_at is None and changed.scope is None:
        return
    full = (User.role == "admin", User.disabled_at.is_null(), User.scope.is_null())
    others = User.select().where(*full, User.id != changed.id)
    was_admin = User.select().where(User.id == changed.id, *full)
    if was_admin.exists() and not others.exists():
        raise Conflict("this is the last enabled administrator without a scope: make another one first")


def set_password(id_or_username: str, password: str, keep_session_id: str | None = None) -> User:
    """A new password ends the user's browser sessions (but ``keep_session_id``, the one that changed it, if any):
    whoever knew the old one is signed out."""
    user = find_user(id_or_username)
    with User._meta.database.atomic():
        user.password_hash = hash_password(password)
        user.save()
        end_user_sessions(str(user.id), keep_session_id)
    return user


def single_user_mode() -> bool:
    """No user and no live key: the API is open, whoever reaches it is its administrator (``LOCAL``)."""
    return not User.select().exists() and not ApiKey.select().where(ApiKey.revoked_at.is_null()).exists()


def refuse_open_exposure(host: str, allow_open_api: bool) -> None:
    """Serving an open API beyond this machine hands every server's root to whoever finds the port: ``serve``
    on a non-loopback address stops here, unless the deployment says it means it."""
    if allow_open_api or is_loopback(host) or not single_user_mode():
        return
    raise ConfigurationError(
        f"refusing to serve on {host}: no user and no API key exists, so anyone reaching this port would be an "
        "administrator.\n"
        "  Create an administrator and a key first: newremora user create NAME --role admin, then newremora token "
        "create --name NAME --user NAME (docs/access.md).\n"
        "  Or listen on loopback (NEWREMORA_HOST=127.0.0.1), or set NEWREMORA_ALLOW_OPEN_API=true if a proxy in "
        "front authenticates every request."
    )
