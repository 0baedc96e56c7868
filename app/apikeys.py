"""API keys: made once, shown once, stored as a hash, checked on every /api/v1 request once any key or user exists.

A key belongs to a user and may do at most what they may (its own role can narrow it), until it expires, is
revoked or its owner is disabled. Keys made before users existed belong to no one: administrator keys.

The check reads the live keys from memory (``LiveKeys``), refreshed from the database at most once per
``LIVE_KEYS_TTL_S``: a key revoked (or the first key created) by another process counts within that bound, one
revoked or created by this process at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, cast

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models import ApiKey, User
from app.principals import Role, as_role
from app.rights import at_least, narrower
from app.scopes import Scope, narrowed, scope_from_json

KEY_PREFIX: Final = "nr_"
LAST_USED_PRECISION_S: Final = 60


def token_digest(token: str) -> str:
    """What the database keeps of a random secret token (an API key, a browser session's token): 256 random bits
    leave no dictionary to guess from, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    record: ApiKey
    key: str  # shown to the user once, never stored


# create_key and revoke_key write in autocommit (never inside a caller's transaction): the change is committed
# when they tell this process's LiveKeys about it.
def create_key(
    name: str,
    user: User | None = None,
    role: Role | None = None,
    expires_at: datetime | None = None,
    scope: Scope | None = None,
) -> NewKey:
    """A new key; with ``user``, theirs, with at most their role (``role`` narrows it) and within their scope
    (``scope`` narrows it). Without, an administrator key of no one (single-user mode, or ``newremora token
    create`` without ``--user``), which a scope may limit too."""
    if user is not None and role is not None and not at_least(as_role(user.role), role):
        raise Forbidden(f"a key cannot have more rights than its owner: {user.username} is {user.role}, not {role}")
    if user is not None and user.disabled_at is not None:
        raise Conflict(f"user {user.username} is disabled")
    if user is None and role is not None:
        raise InvalidInput("role: only a key that belongs to a user can be narrowed to a role")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at: must be in the future")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey.create(
        name=name,
        prefix=key[:10],
        key_hash=token_digest(key),
        user=user,
        role=role,
        expires_at=expires_at,
        scope=scope.to_json() if scope is not None else None,
    )
    keys_changed()
    return NewKey(record, key)


def list_keys(user_id: str | None = None) -> list[ApiKey]:
    """All keys, or one user's; with their owners (one query)."""
    query = ApiKey.select(ApiKey, User).join(User, pw.JOIN.LEFT_OUTER).order_by(ApiKey.created_at)
    if user_id is not None:
        query = query.where(ApiKey.user == user_id)
    return list(query)


def find_key(id_or_prefix: str) -> ApiKey:
    record = ApiKey.get_or_none((ApiKey.id == id_or_prefix) | (ApiKey.prefix == id_or_prefix))
    if record is None:
        raise NotFound("API key not found")
    return record


def revoke_key(id_or_prefix: str, owner_id: str | None = None) -> ApiKey:
    """Revokes a key (idempotent); with ``owner_id``, only one of that user's (another's is not found)."""
    record = find_key(id_or_prefix)
    if owner_id is not None and record.user_id != owner_id:
        raise NotFound("API key not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        record.save()
        keys_changed()
    return record


def effective_role(key_role: str | None, owner_role: str | None) -> Role:
    """What a key may do now: its owner's role, narrowed by its own; a key of no one is an administrator key."""
    owner: Role = as_role(owner_role) if owner_role is not None else "admin"
    return owner if key_role is None else narrower(as_role(key_role), owner)


def effective_scope(key_scope: str | None, owner_scope: str | None) -> Scope | None:
    """What a key may see now: its own scope within its owner's current one (null columns: unlimited)."""
    return narrowed(scope_from_json(key_scope), scope_from_json(owner_scope))


# How long a key revoked (or created) by another process (the ``newremora token`` CLI, another API node) may
# still be taken as it was: each process reads the live keys at most once per this many seconds. Changes made
# through this process count at once.
LIVE_KEYS_TTL_S: Final = 1.0

_generation = 0  # bumped by every key or user change in this process, after its write is committed
_generation_lock = threading.Lock()


def keys_changed() -> None:
    """Called after a committed change of keys or users (app/users.py): this process's next check reads them."""
    global _generation
    with _generation_lock:
        _generation += 1


@dataclass(frozen=True)
class _LiveKey:
    id: str
    role: Role
    user_id: str | None
    expires_at: datetime | None
    owner_disabled: bool
    scope: Scope | None


@dataclass(frozen=True)
class _Snapshot:
    generation: int
    read_at: float  # monotonic, taken before the query: the snapshot is never older than it says
    keys: dict[str, _LiveKey]  # key hash -> the key, live keys only (not revoked; expired ones too)
    any_user: bool  # single-user mode ends with the first user, even one without a key


@dataclass(frozen=True)
class Verdict:
    allowed: bool | None  # None: no live key and no user exists (single-user mode), the API is open
    touch: str | None = None  # a key id whose last_used_at is due to be written (touch_key)
    key_id: str | None = None  # the key presented, when allowed
    role: Role = "admin"  # what it may do: the narrower of its role and its owner's
    user_id: str | None = None  # its owner
    scope: Scope | None = None  # its own within its owner's (None: unlimited)


class LiveKeys:
    """The live API keys as this process last read them, never more than ``ttl`` seconds ago: the check of a
    request costs no database round trip. Thread-safe: ``check`` runs on the event loop, ``load`` in a database
    thread."""

    def __init__(self, ttl: float = LIVE_KEYS_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        # When each key's use was last written (or read from the database): written again once a minute.
        self._last_used: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def check(self, presented: str | None) -> Verdict | None:
        """The verdict on ``presented``; None when the keys must be read again first (``load_and_check``)."""
        snapshot = self._snapshot
        if snapshot is None or snapshot.generation != _generation or self._clock() - snapshot.read_at >= self.ttl:
            return None
        return self._verdict(snapshot, presented)

    def load_and_check(self, presented: str | None) -> Verdict:
        """In a database thread: the live keys read again (unless another request just did), then the verdict."""
        verdict = self.check(presented)
        return verdict if verdict is not None else self._verdict(self.load(), presented)

    def _verdict(self, snapshot: _Snapshot, presented: str | None) -> Verdict:
        if not snapshot.keys and not snapshot.any_user:
            return Verdict(None)
        # A dict lookup by SHA-256 digest: its timing tells nothing usable about a 256-bit key.
        key = snapshot.keys.get(token_digest(presented)) if presented else None
        now = utcnow()
        if key is None or key.owner_disabled or (key.expires_at is not None and key.expires_at <= now):
            return Verdict(False)
        found = Verdict(True, key_id=key.id, role=key.role, user_id=key.user_id, scope=key.scope)
        with self._lock:
            last = self._last_used.get(key.id)
            if last is not None and (now - last).total_seconds() <= LAST_USED_PRECISION_S:
                return found
            self._last_used[key.id] = now  # one request writes it; the others of this minute do not
        return replace(found, touch=key.id)

    def load(self) -> _Snapshot:
        generation, read_at = _generation, self._clock()
        rows = (
            ApiKey.select(
                ApiKey.id,
                ApiKey.key_hash,
                ApiKey.last_used_at,
                ApiKey.role,
                ApiKey.expires_at,
                ApiKey.user,
                User.role,
                User.disabled_at,
                ApiKey.scope,
                User.scope,
            )
            .join(User, pw.JOIN.LEFT_OUTER)
            .where(ApiKey.revoked_at.is_null())
            .tuples()
        )
        any_user = User.select().exists()
        keys = {}
        with self._lock:
            for row in cast(Iterable[tuple[Any, ...]], rows):
                (
                    key_id,
                    key_hash,
                    last_used_at,
                    key_role,
                    expires_at,
                    user_id,
                    owner_role,
                    disabled_at,
                    key_scope,
                    owner_scope,
                ) = row
                keys[key_hash] = _LiveKey(
                    id=key_id,
                    role=effective_role(key_role, owner_role if user_id is not None else None),
                    user_id=user_id,
                    expires_at=ApiKey.expires_at.python_value(expires_at),
                    owner_disabled=disabled_at is not None,
                    scope=effective_scope(key_scope, owner_scope),
                )
                used = ApiKey.last_used_at.python_value(last_used_at)
                known = self._last_used.get(key_id)
                if used is not None and (known is None or used > known):
                    self._last_used[key_id] = used  # written by another process
            self._snapshot = snapshot = _Snapshot(generation, read_at, keys, any_user)
        return snapshot


def touch_key(key_id: str) -> None:
    """Records a use; ``LiveKeys`` asks for it at most once a minute per key and process (a write on every
    request would serialise reads on SQLite)."""
    ApiKey.update(last_used_at=utcnow()).where(ApiKey.id == key_id).execute()
