"""Browser sessions and the throttling of sign-ins, in the database (no HTTP here: app/api/sessions.py is the glue).

A session is a random token the browser keeps in a cookie; the table keeps only its SHA-256, the user, how they
signed in, when, from where, and the CSRF token the page sends back. Every request checks it again (one indexed
read): a session ended, expired (idle or absolute), or of a user since disabled is refused at once, in every
process alike.

Throttling of sign-ins is app/signin.py's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from app.apikeys import token_digest
from app.clock import utcnow
from app.models import BrowserSession, User
from app.principals import Role, as_role
from app.scopes import Scope, scope_from_json

Method = Literal["password", "oidc"]
# last_seen_at is written at most this often per session: an idle expiry of minutes needs no finer grain, and a
# busy page does not write on every request.
LAST_SEEN_PRECISION: Final = timedelta(seconds=60)
MAX_USER_AGENT: Final = 255
MAX_SOURCE: Final = 64


@dataclass(frozen=True)
class Expiry:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class NewSession:
    id: str
    token: str  # for the cookie, never stored
    csrf_token: str
    username: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class LiveSession:
    id: str
    user_id: str
    username: str
    role: Role
    method: str
    csrf_token: str
    created_at: datetime
    # The user's scope now (app/scopes.py): narrowing a user narrows their signed-in page at its next request.
    scope: Scope | None = None


def _live(row: BrowserSession) -> LiveSession:
    return LiveSession(
        id=str(row.id),
        user_id=str(row.user.id),
        username=row.user.username,
        role=as_role(row.user.role),
        method=row.method,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        scope=scope_from_json(row.user.scope),
    )


def _live_row(token: str) -> BrowserSession | None:
    found: BrowserSession | None = (
        BrowserSession.select(BrowserSession, User)
        .join(User)
        .where(BrowserSession.token_hash == token_digest(token), BrowserSession.ended_at.is_null())
        .first()
    )
    return found


def create_session(user_id: str, method: Method, source: str | None, user_agent: str | None) -> NewSession:
    user = User.get_by_id(user_id)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    row = BrowserSession.create(
        token_hash=token_digest(token),
        user=user_id,
        method=method,
        created_at=now,
        last_seen_at=now,
        source=source[:MAX_SOURCE] if source else None,
        user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
        csrf_token=csrf,
    )
    return NewSession(
        id=str(row.id), token=token, csrf_token=csrf, username=user.username, role=as_role(user.role), created_at=now
    )


def check_session(token: str, expiry: Expiry) -> LiveSession | None:
    """The live session of this token, else None (unknown, ended, idle or too old, or its user disabled). Its
    last_seen_at is moved on when the last write is a minute old."""
    row = _live_row(token)
    if row is None or row.user.disabled_at is not None:
        return None
    now = utcnow()
    if now - row.created_at >= expiry.absolute or now - row.last_seen_at >= expiry.idle:
        return None
    if now - row.last_seen_at >= LAST_SEEN_PRECISION:
        BrowserSession.update(last_seen_at=now).where(BrowserSession.id == row.id).execute()
    return _live(row)


def end_session(token: str) -> LiveSession | None:
    """Ends the session of this token (sign-out); the session as it was, or None when it was not live."""
    row = _live_row(token)
    if row is None:
        return None
    BrowserSession.update(ended_at=utcnow()).where(BrowserSession.id == row.id).execute()
    return _live(row)


def prune_sessions(expiry: Expiry) -> int:
    """Deletes sessions past their absolute expiry, ended or not: nothing can revive them, and the audit trail
    keeps their sign-in and sign-out. Run at each sign-in, so the table stays as small as its live sessions."""
    return int(BrowserSession.delete().where(BrowserSession.created_at <= utcnow() - expiry.absolute).execute())


def end_user_sessions(user_id: str, keep_session_id: str | None = None) -> int:
    """Ends every live session of a user (but ``keep_session_id``): a new password, a disabled account."""
    query = BrowserSession.update(ended_at=utcnow()).where(
        BrowserSession.user == user_id, BrowserSession.ended_at.is_null()
    )
    if keep_session_id is not None:
        query = query.where(BrowserSession.id != keep_session_id)
    return int(query.execute())


def password_signin_offered() -> bool:
    """Whether some enabled user has a password (the page then offers its sign-in form)."""
    return bool(User.select().where(User.password_hash != "", User.disabled_at.is_null()).exists())
