"""Server-side browser sessions.

The browser holds a random token in a cookie; the store holds only its SHA-256, so a
database copy cannot be replayed as a sign-in. A session ends at ``expires_at`` (absolute
lifetime) or after ``idle`` without use, on logout, and (for the user's other browsers)
when the password changes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yunying.config import Settings
from yunying.db.models import User, WebSession

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most this often


@dataclass(frozen=True)
class SessionPolicy:
    max_age: timedelta = timedelta(days=14)
    idle: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            max_age=timedelta(hours=settings.session_max_age_hours),
            idle=timedelta(minutes=settings.session_idle_minutes),
        )


@dataclass(frozen=True)
class NewSession:
    """A session just started: ``token`` goes into the cookie and exists nowhere else."""

    id: int
    user_id: int
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    """A live session found from a cookie, with the user it belongs to."""

    id: int
    csrf_token: str
    user: User


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_live(
    *, expires_at: datetime, last_seen_at: datetime, now: datetime, policy: SessionPolicy
) -> bool:
    """Pure liveness rule: not past the absolute expiry and not idle too long."""
    return now < expires_at and now - last_seen_at < policy.idle


def start_session(
    *, session: Session, user_id: int, policy: SessionPolicy, now: datetime | None = None
) -> NewSession:
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_digest(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.max_age,
    )
    session.add(row)
    session.flush()
    return NewSession(row.id, user_id, token, row.csrf_token, row.expires_at)


def resolve_session(
    *, session: Session, token: str, policy: SessionPolicy, now: datetime | None = None
) -> ActiveSession | None:
    """The live session for a cookie token, touching its idle clock; a dead one is
    deleted, and a disabled user has no live sessions."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_digest(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    live = is_live(expires_at=row.expires_at, last_seen_at=row.last_seen_at, now=now, policy=policy)
    if not live or user is None or user.disabled:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return ActiveSession(row.id, row.csrf_token, user)


def end_session(*, session: Session, token: str) -> None:
    """Logout: the session row is deleted, so the cookie is worthless even if kept."""
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))


def end_user_sessions(
    *, session: Session, user_id: int, except_session_id: int | None = None
) -> int:
    """Sign the user out everywhere (but the one session given); returns how many."""
    stmt = delete(WebSession).where(WebSession.user_id == user_id)
    if except_session_id is not None:
        stmt = stmt.where(WebSession.id != except_session_id)
    return session.execute(stmt).rowcount or 0


def purge_expired(*, session: Session, policy: SessionPolicy, now: datetime | None = None) -> int:
    """Delete sessions past their expiry or idle limit (housekeeping)."""
    now = now or datetime.now(UTC)
    stmt = delete(WebSession).where(
        (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - policy.idle)
    )
    return session.execute(stmt).rowcount or 0
