"""Migration 0002 (accounts) on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.db.pg import temporary_database
from yunying.accounts.errors import AccountError
from yunying.accounts.members import add_member, bootstrap_owner, list_members
from yunying.accounts.ratelimit import RateLimit, blocked_for, record_failure
from yunying.accounts.sessions import SessionPolicy, resolve_session, start_session
from yunying.accounts.users import authenticate, create_user
from yunying.db.migrate import downgrade, upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope

ACCOUNT_TABLES = {"users", "memberships", "web_sessions", "login_failures"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    else:
        with temporary_database() as pg_url:
            yield pg_url


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_accounts_migration_round_trip_and_services(url: str) -> None:
    upgrade(url)
    assert _tables(url) >= ACCOUNT_TABLES
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        with session_scope(factory) as s:
            pid = create_project(s, name="P")[0].id
            email, password = bootstrap_owner(session=s, project_id=pid) or ("", "")
            user = create_user(session=s, email="Ann@X.io", password="long enough pw", name="A")
            add_member(session=s, project_id=pid, user_id=user.id, role="viewer")
            new = start_session(session=s, user_id=user.id, policy=SessionPolicy())
            record_failure(session=s, key="k", limit=RateLimit())
        with session_scope(factory) as s:
            assert authenticate(session=s, email=email, password=password) is not None
            assert {m.role for m in list_members(s, pid)} == {"owner", "viewer"}
            assert resolve_session(session=s, token=new.token, policy=SessionPolicy())
            assert blocked_for(session=s, key="k", limit=RateLimit(max_failures=1)) > 0
        with pytest.raises(AccountError), session_scope(factory) as s:
            create_user(session=s, email="ann@x.IO", password="long enough pw", name="B")
    finally:
        engine.dispose()
    downgrade(url, "0001")
    assert not ACCOUNT_TABLES & _tables(url)
    assert {"projects", "api_keys"} <= _tables(url)
    upgrade(url)
    assert _tables(url) >= ACCOUNT_TABLES
