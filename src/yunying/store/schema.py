"""Event-store tables, one column list for both engines.

``events`` is append-only; ``persons`` and ``person_distinct_ids`` keep a ``version`` so
an engine without in-place updates (ClickHouse) can keep every row and let the newest win.
Queries always resolve persons through ``person_distinct_ids`` (newest version per
distinct id), so events are never rewritten when identities merge.
"""

from __future__ import annotations

from datetime import UTC as _UTC

import orjson
import pyarrow as pa

from yunying.events.model import PROMOTED_PROPERTIES, Event
from yunying.store.base import DistinctIdRow, PersonRow

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


def events_to_arrow(events: list[Event]) -> pa.Table:
    cols: dict[str, list] = {c: [] for c in EVENT_COLUMNS}
    for e in events:
        cols["uuid"].append(e.uuid)
        cols["project_id"].append(e.project_id)
        cols["event"].append(e.event)
        cols["distinct_id"].append(e.distinct_id)
        cols["person_id"].append(e.person_id or e.distinct_id)
        cols["timestamp"].append(_naive_utc(e.timestamp))
        cols["received_at"].append(_naive_utc(e.received_at))
        cols["properties"].append(orjson.dumps(e.properties, default=str).decode())
        for k, v in e.promoted().items():
            cols[k].append(v)
    return pa.table(cols, schema=EVENT_ARROW_SCHEMA)


def persons_to_arrow(persons: list[PersonRow]) -> pa.Table:
    return pa.table(
        {
            "project_id": [p.project_id for p in persons],
            "id": [p.id for p in persons],
            "properties": [orjson.dumps(p.properties, default=str).decode() for p in persons],
            "created_at": [_naive_utc(p.created_at) for p in persons],
            "version": [p.version for p in persons],
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
