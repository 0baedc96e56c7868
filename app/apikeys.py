"""API keys: made once, shown once, stored as a hash, checked on every /api/v1 request once any exists."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app.clock import utcnow
from app.errors import NotFound
from app.models import ApiKey

KEY_PREFIX = "nr_"
LAST_USED_PRECISION_S = 60


def _hash(key: str) -> str:
    # Keys are 256 random bits: a fast hash is enough (no dictionary to guess from), as for session tokens.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    record: ApiKey
    key: str  # shown to the user once, never stored


def create_key(name: str) -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey.create(name=name, prefix=key[:10], key_hash=_hash(key))
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
    return record


def auth_required() -> bool:
    return bool(ApiKey.select().where(ApiKey.revoked_at.is_null()).exists())


def authenticate(presented: str | None) -> bool | None:
    """None: no key exists, the API is open. True/False: the presented key is (not) a live one."""
    if not auth_required():
        return None
    if not presented:
        return False
    digest = _hash(presented)
    record = ApiKey.get_or_none((ApiKey.key_hash == digest) & ApiKey.revoked_at.is_null())
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        return False
    now = utcnow()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > LAST_USED_PRECISION_S:
        # Recorded at most once a minute: a write on every request would serialise reads on SQLite.
        ApiKey.update(last_used_at=now).where(ApiKey.id == record.id).execute()
    return True
