"""API keys: made once, shown once, stored as a hash, checked on every /api/v1 request once any exists.

The check reads the live keys from memory (``LiveKeys``), refreshed from the database at most once per
``LIVE_KEYS_TTL_S``: a key revoked (or the first key created) by another process counts within that bound, one
revoked or created by this process at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from app.clock import utcnow
from app.errors import NotFound
from app.models import ApiKey

KEY_PREFIX: Final = "nr_"
LAST_USED_PRECISION_S: Final = 60


def _hash(key: str) -> str:
    # Keys are 256 random bits: a fast hash is enough (no dictionary to guess from), as for session tokens.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    record: ApiKey
    key: str  # shown to the user once, never stored


# create_key and revoke_key write in autocommit (never inside a caller's transaction): the change is committed
# when they tell this process's LiveKeys about it.
def create_key(name: str) -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey.create(name=name, prefix=key[:10], key_hash=_hash(key))
    _changed()
    return NewKey(record, key)


def list_keys() -> list[ApiKey]:
    return list(ApiKey.select().order_by(ApiKey.created_at))


def revoke_key(id_or_prefix: str) -> ApiKey:
    record = ApiKey.get_or_none((ApiKey.id == id_or_prefix) | (ApiKey.prefix == id_or_prefix))
    if record is None:
        raise NotFound("API key not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        record.save()
        _changed()
    return record


# How long a key revoked (or created) by another process (the ``newremora token`` CLI, another API node) may
# still be taken as it was: each process reads the live keys at most once per this many seconds. Changes made
# through this process count at once.
LIVE_KEYS_TTL_S: Final = 1.0

_generation = 0  # bumped by every create and revoke in this process, after its write is committed
_generation_lock = threading.Lock()


def _changed() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


@dataclass(frozen=True)
class _Snapshot:
    generation: int
    read_at: float  # monotonic, taken before the query: the snapshot is never older than it says
    key_ids: dict[str, str]  # key hash -> key id, live keys only


@dataclass(frozen=True)
class Verdict:
    allowed: bool | None  # None: no key exists, the API is open
    touch: str | None = None  # a key id whose last_used_at is due to be written (touch_key)
    key_id: str | None = None  # the key presented, when allowed


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
        if not snapshot.key_ids:
            return Verdict(None)
        # A dict lookup by SHA-256 digest: its timing tells nothing usable about a 256-bit key.
        key_id = snapshot.key_ids.get(_hash(presented)) if presented else None
        if key_id is None:
            return Verdict(False)
        now = utcnow()
        with self._lock:
            last = self._last_used.get(key_id)
            if last is not None and (now - last).total_seconds() <= LAST_USED_PRECISION_S:
                return Verdict(True, key_id=key_id)
            self._last_used[key_id] = now  # one request writes it; the others of this minute do not
        return Verdict(True, touch=key_id, key_id=key_id)

    def load(self) -> _Snapshot:
        generation, read_at = _generation, self._clock()
        rows = ApiKey.select(ApiKey.id, ApiKey.key_hash, ApiKey.last_used_at).where(ApiKey.revoked_at.is_null())
        key_ids = {}
        with self._lock:
            for key in rows:
                key_ids[key.key_hash] = key.id
                known = self._last_used.get(key.id)
                if key.last_used_at is not None and (known is None or key.last_used_at > known):
                    self._last_used[key.id] = key.last_used_at  # written by another process
            self._snapshot = snapshot = _Snapshot(generation, read_at, key_ids)
        return snapshot


def touch_key(key_id: str) -> None:
    """Records a use; ``LiveKeys`` asks for it at most once a minute per key and process (a write on every
    request would serialise reads on SQLite)."""
    ApiKey.update(last_used_at=utcnow()).where(ApiKey.id == key_id).execute()
