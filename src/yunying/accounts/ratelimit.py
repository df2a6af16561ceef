"""Sign-in throttling: at most N failures per (email, client address) in a sliding window.

Failures are rows in the operational store, so the limit survives a restart and holds
across server workers. The window arithmetic is pure and tested on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yunying.config import Settings
from yunying.db.models import LoginFailure


@dataclass(frozen=True)
class RateLimit:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimit:
        return cls(
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
        )


def limit_key(email: str, client: str) -> str:
    """Digest of the lower-cased email and client address (no raw emails or IPs kept)."""
    return hashlib.sha256(f"{(email or '').strip().lower()}|{client}".encode()).hexdigest()


def retry_after(failures: Sequence[datetime], *, now: datetime, limit: RateLimit) -> int:
    """Seconds until another attempt is allowed; 0 when allowed now (pure).

    Blocked while ``max_failures`` or more failures lie inside ``(now - window, now]``;
    the block lifts when the oldest of the latest ``max_failures`` leaves the window.
    """
    recent = sorted(t for t in failures if now - limit.window < t <= now)
    if len(recent) < limit.max_failures:
        return 0
    frees_at = recent[-limit.max_failures] + limit.window
    return max(1, int((frees_at - now).total_seconds() + 0.999))


def _recent(session: Session, key: str, now: datetime, limit: RateLimit) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginFailure.at).where(
                LoginFailure.key == key, LoginFailure.at > now - limit.window
            )
        )
    )


def blocked_for(
    *, session: Session, key: str, limit: RateLimit, now: datetime | None = None
) -> int:
    """Seconds this key must wait before trying again (0: go ahead)."""
    now = now or datetime.now(UTC)
    return retry_after(_recent(session, key, now, limit), now=now, limit=limit)


def record_failure(
    *, session: Session, key: str, limit: RateLimit, now: datetime | None = None
) -> None:
    """Remember a failure and drop failures (of any key) that left the window."""
    now = now or datetime.now(UTC)
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limit.window))
    session.add(LoginFailure(key=key, at=now))
    session.flush()


def clear_failures(*, session: Session, key: str) -> None:
    """A successful sign-in forgives earlier failures for the same key."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
