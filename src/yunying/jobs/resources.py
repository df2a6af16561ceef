"""What a job opens: an operational-store session and the event store.

DuckDB lets one process open the event-store file; when the server runs jobs in-process
(``jobs.embedded``) it shares its open store here, so jobs use it instead of failing on
the file lock. A separate worker (``yunying worker``) opens its own per job, which suits
ClickHouse and PostgreSQL deployments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from yunying.config import Settings
from yunying.store.base import EventStore

_shared: EventStore | None = None
_lock = threading.Lock()


def share_store(store: EventStore | None) -> None:
    """Let jobs in this process use ``store`` (None stops sharing)."""
    global _shared
    with _lock:
        _shared = store


@contextmanager
def job_store(settings: Settings) -> Iterator[EventStore]:
    """The shared store if this process has one, else the configured store for the job."""
    with _lock:
        shared = _shared
    if shared is not None:
        yield shared
        return
    from yunying.store.base import open_event_store

    store = open_event_store(settings)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def job_session(settings: Settings) -> Iterator[Session]:
    """A unit of work on the operational store: committed on success."""
    from yunying.db.session import make_engine, make_sessionmaker, session_scope

    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()
