"""Alembic environment: the URL comes from the Config built in yunying.db.migrate."""

from __future__ import annotations

from alembic import context

from yunying.db import (  # noqa: F401  (each registers its tables)
    channel_models,
    churn_models,
    insight_models,
    people_models,
    segment_models,
)
from yunying.db.models import Base
from yunying.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
