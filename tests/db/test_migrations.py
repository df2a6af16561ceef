"""Migrations: upgrade, downgrade and re-upgrade on SQLite and PostgreSQL, and the models
agree with what the migrations build (so a model change without a migration fails here)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from yunying.db.migrate import current_revision, downgrade, head_revision, upgrade
from yunying.db.models import Base
from yunying.db.session import make_engine


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    assert {"projects", "api_keys"} <= tables(db_url)
    upgrade(db_url)  # idempotent
    downgrade(db_url, "base")
    assert tables(db_url) == set()
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_models_match_migrations(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_current_revision_does_not_create_a_sqlite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "none.sqlite3"
    assert current_revision(f"sqlite:///{path}") is None
    assert not path.exists()
