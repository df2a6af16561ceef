"""Sign-in as one service call: throttle check, password check, session start.

The console route only maps the outcome to a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session

from yunying.accounts.ratelimit import (
    RateLimit,
    blocked_for,
    clear_failures,
    limit_key,
    record_failure,
)
from yunying.accounts.sessions import NewSession, SessionPolicy, purge_expired, start_session
from yunying.accounts.users import authenticate


@dataclass(frozen=True)
class SignIn:
    outcome: Literal["ok", "bad_credentials", "limited"]
    session: NewSession | None = None
    retry_after: int = 0  # seconds, when limited


def sign_in(
    *,
    session: Session,
    email: str,
    password: str,
    client: str,
    limit: RateLimit,
    policy: SessionPolicy,
    now: datetime | None = None,
) -> SignIn:
    """Check the throttle first (a blocked key is not even verified), then the password.

    Unknown emails, wrong passwords and disabled accounts all read as bad credentials.
    """
    now = now or datetime.now(UTC)
    key = limit_key(email, client)
    wait = blocked_for(session=session, key=key, limit=limit, now=now)
    if wait:
        return SignIn("limited", retry_after=wait)
    user = authenticate(session=session, email=email, password=password)
    if user is None:
        record_failure(session=session, key=key, limit=limit, now=now)
        return SignIn("bad_credentials")
    clear_failures(session=session, key=key)
    purge_expired(session=session, policy=policy, now=now)  # housekeeping, once per sign-in
    return SignIn("ok", start_session(session=session, user_id=user.id, policy=policy, now=now))
