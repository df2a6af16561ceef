"""A data folder with a project, events from yesterday and one dynamic segment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import ev, load
from yunying.config import Settings
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope
from yunying.people.segments import service
from yunying.store.base import open_event_store


@dataclass
class Env:
    settings: Settings
    project_id: int
    segment_id: int


def make_env(data_dir: Path, **overrides: object) -> Env:
    settings = Settings(data_dir=data_dir, database_url=None, **overrides)  # type: ignore[arg-type]
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        project, _, _ = create_project(session, name="Jobs")
        create_project(session, name="Other")
        segment = service.create_segment(
            session=session,
            project_id=project.id,
            name="buyers",
            definition={"type": "behaviour", "event": "buy", "window": {"last_days": 7}},
        )
        ids = project.id, segment.id
    engine.dispose()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    store = open_event_store(settings)
    try:
        load(
            store,
            [
                ev("b1", "buy", yesterday, project_id=ids[0]),
                ev("b2", "buy", yesterday, project_id=ids[0]),
            ],
            project_id=ids[0],
        )
    finally:
        store.close()
    return Env(settings, *ids)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path / "data")


def last_count(env: Env) -> int | None:
    engine = make_engine(env.settings.resolved_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return service.get_segment(
                session=session, project_id=env.project_id, segment_id=env.segment_id
            ).last_count
    finally:
        engine.dispose()
