"""Event store: the EventStore protocol and its DuckDB (default) and ClickHouse engines."""

from yunying.store.base import EventStore, open_event_store

__all__ = ["EventStore", "open_event_store"]
