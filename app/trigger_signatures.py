"""The signature of a trigger's request (docs/orchestration.md, "Signed triggers"): pure functions, no database.

The sender signs ``"{timestamp}." + raw body`` with HMAC-SHA256, the trigger's secret as the key (its UTF-8
bytes), and sends ``X-Hub-Signature-256: sha256=<hex>`` with ``X-NewRemora-Timestamp: <unix seconds>``. The
timestamp is inside the signed message, so an old request cannot be made fresh without the secret; the digest of
the signature is what the replay store remembers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
TIMESTAMP_HEADER: Final = "X-NewRemora-Timestamp"
# An optional sender's delivery id (GitHub's X-GitHub-Delivery is one): a retry of one delivery, signed anew with a
# new timestamp, still launches once.
DELIVERY_HEADER: Final = "X-NewRemora-Delivery"
SIGNATURE_PREFIX: Final = "sha256="
# How far a timestamp may be from this service's clock, either way.
TOLERANCE_S: Final = 300
SECRET_PREFIX: Final = "nrwh_"  # noqa: S105  # a marker, not a secret
_HEX_SIGNATURE: Final = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_TIMESTAMP: Final = re.compile(r"^[0-9]{1,12}$")
_DELIVERY: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Compared against when the trigger is unknown, so that an unknown id costs the same work as a known one.
_DECOY_KEY: Final = secrets.token_bytes(32)


def new_secret() -> str:
    """256 random bits, printable (it is pasted into a sender's configuration)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signed_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender computes: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode(), signed_message(timestamp, body), hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


@dataclass(frozen=True)
class Presented:
    """What a request carries to be checked, each None when missing or malformed."""

    signature: str | None  # the hex digest, lower case
    timestamp: str | None  # digits
    delivery: str | None


def presented(signature: str | None, timestamp: str | None, delivery: str | None) -> Presented:
    found = _HEX_SIGNATURE.fullmatch((signature or "").strip())
    stamp = (timestamp or "").strip()
    given = (delivery or "").strip()
    return Presented(
        signature=found.group(1).lower() if found else None,
        timestamp=stamp if _TIMESTAMP.fullmatch(stamp) else None,
        # A malformed delivery id is ignored rather than refused: it is the sender's optional help, not a credential.
        delivery=given if _DELIVERY.fullmatch(given) else None,
    )


def signature_valid(secret: str | None, given: Presented, body: bytes) -> bool:
    """Constant time in the signature; ``secret`` None (no such trigger) does the same work and fails."""
    key = secret.encode() if secret is not None else _DECOY_KEY
    stamp = given.timestamp if given.timestamp is not None else ""
    expected = hmac.new(key, signed_message(stamp, body), hashlib.sha256).hexdigest()
    matches = hmac.compare_digest(expected, given.signature or "0" * 64)
    return matches and secret is not None and given.signature is not None and given.timestamp is not None


def timestamp_fresh(timestamp: str, now: float, tolerance: int = TOLERANCE_S) -> bool:
    return abs(now - int(timestamp)) <= tolerance


def replay_key(trigger_id: str, kind: str, value: str) -> str:
    """The digest the replay store keeps: one per accepted signature, one per delivery id; bound to the trigger."""
    return hashlib.sha256(f"{trigger_id}\0{kind}\0{value}".encode()).hexdigest()
