"""What the domain needs from an event store, and how to open the configured one.

Engines differ in how they write and deduplicate, not in what they answer: reads are SQL
text produced with the engine's ``Dialect`` and returned as Arrow tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from yunying.config import Settings
    from yunying.events.model import Event
    from yunying.store.dialect import Dialect


@dataclass(slots=True)
class PersonRow:
    project_id: int
    id: str
    properties: dict[str, Any]
    created_at: datetime
    version: int = 0


@dataclass(slots=True)
class DistinctIdRow:
    project_id: int
    distinct_id: str
    person_id: str
    version: int = 0


@dataclass(slots=True)
class PersonOverrideRow:
    """Events stamped ``old_person_id`` now belong to whoever owns ``distinct_id``.

    Written when a person is absorbed by another (two persons with history merge):
    ``distinct_id`` is one of the absorbed person's ids, which move together from then
    on, so a later merge of the new owner needs no new row for these events.
    """

    project_id: int
    old_person_id: str
    distinct_id: str


@dataclass(slots=True)
class WriteBatch:
    """Everything one group commit writes, atomically: events, person and id-map updates.

    ``new_persons``/``new_ids`` name the rows, as (project id, person or distinct id),
    that did not exist when identity was resolved: a store may add those without looking
    for a row to replace (a hint: it must still be right if one is there).
    """

    events: list[Event] = field(default_factory=list)
    persons: list[PersonRow] = field(default_factory=list)
    distinct_ids: list[DistinctIdRow] = field(default_factory=list)
    overrides: list[PersonOverrideRow] = field(default_factory=list)
    new_persons: set[tuple[int, str]] = field(default_factory=set)
    new_ids: set[tuple[int, str]] = field(default_factory=set)


@dataclass(slots=True)
class ArrowWriteBatch:
    """A ``WriteBatch`` whose events are already an Arrow table (``EVENT_ARROW_SCHEMA``).

    Why: a bulk import builds its columns with Arrow and would otherwise create one
    ``Event`` per row only for the store to turn them back into columns.
    """

    events: pa.Table
    persons: list[PersonRow] = field(default_factory=list)
    distinct_ids: list[DistinctIdRow] = field(default_factory=list)
    overrides: list[PersonOverrideRow] = field(default_factory=list)


class EventStore(Protocol):
    dialect: Dialect

    def ensure_schema(self) -> None: ...

    def write(self, batch: WriteBatch) -> int:
        """Write atomically and durably; events whose (project_id, uuid) exists are skipped.

        Returns how many events were new.
        """
        ...

    def existing_uuids(self, project_id: int, uuids: Iterable[str]) -> set[str]: ...

    def distinct_id_map(self, project_id: int, distinct_ids: Iterable[str]) -> dict[str, str]:
        """Current person id of each known distinct id (unknown ids are absent)."""
        ...

    def person_ids_for(self, project_id: int, person_ids: Iterable[str]) -> dict[str, list[str]]:
        """All distinct ids currently mapped to each person (for merges)."""
        ...

    def persons(self, project_id: int, ids: Iterable[str]) -> dict[str, PersonRow]: ...

    def query(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


class ArrowWrites(Protocol):
    """Optional capability: write an ``ArrowWriteBatch`` with ``write``'s guarantees."""

    def write_arrow(self, batch: ArrowWriteBatch) -> int:
        """Atomically and durably; rows whose (project_id, uuid) is stored are skipped.

        ``batch.events`` holds no uuid twice. Returns how many events were new.
        """
        ...


def writes_arrow(store: EventStore) -> bool:
    return callable(getattr(store, "write_arrow", None))


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow result as a list of dicts (small results only)."""
    return table.to_pylist()


def open_event_store(settings: Settings, *, read_only: bool = False) -> EventStore:
    """The configured engine; creates its schema unless read-only."""
    if settings.event_store == "clickhouse":
        from yunying.store.clickhouse import ClickHouseStore

        store: EventStore = ClickHouseStore.from_settings(settings)
    else:
        from yunying.store.duckdb import DuckDBStore

        store = DuckDBStore(
            settings.duckdb_path,
            read_only=read_only,
            timeline_cache_mb=settings.timeline_cache_mb,
        )
    if not read_only:
        store.ensure_schema()
    return store


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
