"""Everything a running server holds, built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from yunying.config import Settings
from yunying.db.migrate import upgrade
from yunying.db.session import make_engine, make_sessionmaker
from yunying.events.writer import IngestWriter
from yunying.store.base import EventStore, open_event_store


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    store: EventStore
    writer: IngestWriter

    @classmethod
    def build(cls, settings: Settings, *, store: EventStore | None = None) -> AppState:
        """Migrate the operational store, open the event store, start the ingest writer."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.resolved_database_url)
        sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
        store = store or open_event_store(settings)
        writer = IngestWriter(
            store, flush_ms=settings.ingest_flush_ms, max_batch=settings.ingest_max_batch
        )
        writer.start()
        return cls(settings, sessions, store, writer)

    def close(self) -> None:
        self.writer.close()
        self.store.close()
