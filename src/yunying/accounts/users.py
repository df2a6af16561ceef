"""Users and their passwords (argon2id via argon2-cffi).

Emails are stored lower-cased and trimmed, so ``Ann@X.com`` and ``ann@x.com`` are one
user. Plaintext passwords are only ever held in local variables; never logged or stored.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.accounts.errors import AccountError
from yunying.accounts.sessions import end_user_sessions
from yunying.db.models import User

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a cap stops hashing-cost abuse
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def normalize_email(email: str) -> str:
    """Trimmed, lower-cased email; AccountError if it does not look like one."""
    value = (email or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise AccountError("auth.error.email_invalid")
    return value


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("auth.error.password_too_short", min=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("auth.error.password_too_long", max=MAX_PASSWORD_LENGTH)
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password for first owners and invited users (shown once)."""
    return secrets.token_urlsafe(12)


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def find_user(session: Session, email: str) -> User | None:
    try:
        key = normalize_email(email)
    except AccountError:
        return None
    return session.scalar(select(User).where(User.email == key))


def create_user(
    *,
    session: Session,
    email: str,
    password: str,
    name: str,
    locale: str | None = None,
    must_change_password: bool = False,
) -> User:
    """A new user; AccountError if the email is taken (in any letter case)."""
    key = normalize_email(email)
    validate_password(password)
    if find_user(session, key) is not None:
        raise AccountError("auth.error.email_taken")
    user = User(
        email=key,
        name=(name or "").strip()[:200] or key.split("@", 1)[0],
        password_hash=hash_password(password),
        locale=locale,
        disabled=False,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The user if ``password`` is right and the account is enabled, else None.

    An unknown email still costs one hash verification, so response time does not tell
    which emails have accounts.
    """
    user = find_user(session, email)
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return user


def change_password(
    *,
    session: Session,
    user_id: int,
    current_password: str,
    new_password: str,
    keep_session_id: int | None = None,
) -> User:
    """Set a new password after checking the current one; every other browser session
    of the user is signed out (``keep_session_id`` is the one making the change)."""
    user = session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current_password):
        raise AccountError("auth.error.current_password_wrong")
    validate_password(new_password)
    if new_password == current_password:
        raise AccountError("auth.error.password_unchanged")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = datetime.now(UTC)
    end_user_sessions(session=session, user_id=user.id, except_session_id=keep_session_id)
    session.flush()
    return user


def set_locale(*, session: Session, user_id: int, locale: str | None) -> None:
    """Remember the user's console language (None: follow the browser)."""
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale
        session.flush()
