"""Sign-in by password, throttled: refused sign-ins are rows (table signin_failure), so all processes of a
deployment count them together; past a limit per username or per client address within the window, further
attempts are refused without looking at the password, until enough of the failures age out of the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from app.clock import utcnow
from app.models import SigninFailure
from app.sessions import MAX_SOURCE
from app.users import verify_password

MAX_USERNAME: Final = 64


@dataclass(frozen=True)
class Limits:
    per_user: int
    per_address: int
    window: timedelta


def _retry_after(times: list[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until fewer than ``limit`` of these failures (oldest first) remain in the window; None: not locked."""
    if len(times) < limit:
        return None
    # The attempt is allowed again once all but limit-1 of them have aged out.
    freed_at = times[len(times) - limit] + window
    return max(1, int((freed_at - now).total_seconds()) + 1)


def lockout(username: str, source: str, limits: Limits) -> int | None:
    """Seconds the caller must wait before another attempt (the larger of the two locks), or None."""
    now = utcnow()
    since = now - limits.window
    by_user = [
        row.at
        for row in SigninFailure.select(SigninFailure.at)
        .where(SigninFailure.username == username[:MAX_USERNAME], SigninFailure.at > since)
        .order_by(SigninFailure.at)
    ]
    by_address = [
        row.at
        for row in SigninFailure.select(SigninFailure.at)
        .where(SigninFailure.source == source[:MAX_SOURCE], SigninFailure.at > since)
        .order_by(SigninFailure.at)
    ]
    waits = [
        wait
        for wait in (
            _retry_after(by_user, limits.per_user, limits.window, now),
            _retry_after(by_address, limits.per_address, limits.window, now),
        )
        if wait is not None
    ]
    return max(waits) if waits else None


def record_failure(username: str, source: str, limits: Limits) -> None:
    now = utcnow()
    SigninFailure.create(at=now, username=username[:MAX_USERNAME], source=source[:MAX_SOURCE])
    # Rows that no longer count are of no use: each failure sweeps the ones that aged out (an indexed range).
    SigninFailure.delete().where(SigninFailure.at <= now - limits.window).execute()


@dataclass(frozen=True)
class Attempt:
    """What a sign-in came to: a user (signed in), ``retry_after`` (locked out, password not checked), or
    neither (refused: wrong password, unknown or disabled user, all alike)."""

    user_id: str | None = None
    retry_after: int | None = None


def attempt_signin(username: str, password: str, source: str, limits: Limits) -> Attempt:
    """Checks a sign-in, in a database thread. A lockout is decided before the password is looked at, so a right
    password during one is refused too; a refusal is counted for the username and the address."""
    wait = lockout(username, source, limits)
    if wait is not None:
        return Attempt(retry_after=wait)
    user = verify_password(username, password)  # the same Argon2 cost for a user who does not exist
    if user is None:
        record_failure(username, source, limits)
        return Attempt()
    # A success forgets the username's failures (not the address's: one right password must not reopen a
    # guessing spree from that address on other names).
    SigninFailure.delete().where(SigninFailure.username == username[:MAX_USERNAME]).execute()
    return Attempt(user_id=str(user.id))
