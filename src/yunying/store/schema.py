"""Event-store tables, one column list for both engines.

``events`` is append-only; ``persons`` and ``person_distinct_ids`` keep a ``version`` so
an engine without in-place updates (ClickHouse) can keep every row and let the newest win.
Queries always resolve persons through ``person_distinct_ids`` (newest version per
distinct id), so events are never rewritten when identities merge.
"""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import datetime

import orjson
import pyarrow as pa

from yunying.events.model import NUMERIC_PROMOTED, PROMOTED_PROPERTIES, Event
from yunying.store.base import DistinctIdRow, PersonOverrideRow, PersonRow

PROMOTED_COLUMNS = list(PROMOTED_PROPERTIES.values())

EVENT_COLUMNS = [
    "uuid",
    "project_id",
    "event",
    "distinct_id",
    "person_id",
    "timestamp",
    "received_at",
    "properties",
    *PROMOTED_COLUMNS,
]

_TS = pa.timestamp("us")

EVENT_ARROW_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("project_id", pa.int32()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("person_id", pa.string()),
        ("timestamp", _TS),
        ("received_at", _TS),
        ("properties", pa.string()),
        *[(c, pa.float64() if c == "revenue" else pa.string()) for c in PROMOTED_COLUMNS],
    ]
)

PERSON_ARROW_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("id", pa.string()),
        ("properties", pa.string()),
        ("created_at", _TS),
        ("version", pa.int64()),
    ]
)

OVERRIDE_ARROW_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("old_person_id", pa.string()),
        ("distinct_id", pa.string()),
    ]
)

PDI_ARROW_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("distinct_id", pa.string()),
        ("person_id", pa.string()),
        ("version", pa.int64()),
    ]
)


def _naive_utc(dt):  # type: ignore[no-untyped-def]
    return (
        dt.replace(tzinfo=None) if dt.tzinfo is None else dt.astimezone(_UTC).replace(tzinfo=None)
    )


_TS_UTC = pa.timestamp("us", tz="UTC")
_NUMERIC_PROMOTED = [(p, c) for p, c in PROMOTED_PROPERTIES.items() if c in NUMERIC_PROMOTED]
_TEXT_PROMOTED = [(p, c) for p, c in PROMOTED_PROPERTIES.items() if c not in NUMERIC_PROMOTED]


def _utc_column(values: list) -> pa.Array:  # type: ignore[type-arg]
    """Aware datetimes (any zone) or naive UTC ones → naive UTC microseconds, in C."""
    return pa.array(values, _TS_UTC).cast(_TS)


def _shared_utc_column(values: list) -> pa.Array:  # type: ignore[type-arg]
    """Like ``_utc_column`` for values shared by many events (``received_at``, one per
    request): each distinct value is converted once, which is most of the cost."""
    position: dict[object, int] = {}
    for v in values:
        if v not in position:
            position[v] = len(position)
    if len(position) * 8 > len(values):
        return _utc_column(values)
    indices = pa.array([position[v] for v in values], pa.int32())
    return _utc_column(list(position)).take(indices)


def _as_float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def events_to_arrow(events: list[Event]) -> pa.Table:
    """Column-wise on purpose: this runs for every ingested event (see bench/)."""
    props = [e.properties for e in events]
    dumps = orjson.dumps
    cols: dict[str, object] = {
        "uuid": [e.uuid for e in events],
        "project_id": [e.project_id for e in events],
        "event": [e.event for e in events],
        "distinct_id": [e.distinct_id for e in events],
        "person_id": [e.person_id or e.distinct_id for e in events],
        "timestamp": _utc_column([e.timestamp for e in events]),
        "received_at": _shared_utc_column([e.received_at for e in events]),
        # str, not the bytes orjson returns: holding thousands of small orjson bytes
        # objects costs ~10x the serialisation itself (allocator behaviour), decoding
        # right away does not.
        "properties": pa.array(
            [dumps(p, default=str, option=orjson.OPT_NON_STR_KEYS).decode() for p in props],
            pa.string(),
        ),
    }
    for prop, column in _TEXT_PROMOTED:
        values = [p.get(prop) for p in props]
        cols[column] = [v if v is None or type(v) is str else str(v) for v in values]
    for prop, column in _NUMERIC_PROMOTED:
        values = [p.get(prop) for p in props]
        cols[column] = [None if v is None else _as_float(v) for v in values]
    return pa.table(cols, schema=EVENT_ARROW_SCHEMA)


def stored_person(p: PersonRow) -> tuple[str, datetime, int]:
    """A person's row as stored: properties JSON, created_at (naive UTC), version."""
    return orjson.dumps(p.properties, default=str).decode(), _naive_utc(p.created_at), p.version


def persons_to_arrow(persons: list[PersonRow]) -> pa.Table:
    stored = [stored_person(p) for p in persons]
    return pa.table(
        {
            "project_id": [p.project_id for p in persons],
            "id": [p.id for p in persons],
            "properties": [s[0] for s in stored],
            "created_at": [s[1] for s in stored],
            "version": [s[2] for s in stored],
        },
        schema=PERSON_ARROW_SCHEMA,
    )


def pdi_to_arrow(rows: list[DistinctIdRow]) -> pa.Table:
    return pa.table(
        {
            "project_id": [r.project_id for r in rows],
            "distinct_id": [r.distinct_id for r in rows],
            "person_id": [r.person_id for r in rows],
            "version": [r.version for r in rows],
        },
        schema=PDI_ARROW_SCHEMA,
    )


def overrides_to_arrow(rows: list[PersonOverrideRow]) -> pa.Table:
    return pa.table(
        {
            "project_id": [r.project_id for r in rows],
            "old_person_id": [r.old_person_id for r in rows],
            "distinct_id": [r.distinct_id for r in rows],
        },
        schema=OVERRIDE_ARROW_SCHEMA,
    )
