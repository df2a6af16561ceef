"""Operational-store fixtures: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.db.pg import temporary_database
from yunying.db.migrate import upgrade
from yunying.db.session import make_engine, make_sessionmaker


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty operational store on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    else:
        with temporary_database() as url:
            yield url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on a migrated store (committed by the test when it wants to)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    s = make_sessionmaker(engine)()
    try:
        yield s
    finally:
        s.close()
        engine.dispose()
