"""The per-event import, as ``importer`` did it before the columnar path (tests only).

Each row becomes an ``Event`` and every ``batch_size`` valid rows go through
``pipeline.write_events``: the reference the columnar import must agree with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson

from yunying.events.import_sources import EPOCH, ColumnMapping, records_chunk
from yunying.events.importer import ImportSummary
from yunying.events.model import Event, content_uuid, normalize_uuid, utcnow
from yunying.events.pipeline import write_events
from yunying.store.base import EventStore


def reference_content_uuid(event: str, did: str, micros: int, props: dict[str, Any]) -> str:
    body = orjson.dumps(props, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return content_uuid(event, did, str(micros), body)


def import_per_event(
    store: EventStore,
    records: list[Mapping[str, Any]],
    *,
    project_id: int = 1,
    batch_size: int = 100_000,
    mapping: ColumnMapping | None = None,
) -> ImportSummary:
    """Import parsed JSON records one ``Event`` at a time."""
    mapping = mapping or ColumnMapping()
    summary = ImportSummary(rows_read=len(records))
    c = records_chunk(list(records), mapping, 1)
    received = utcnow()
    events: list[Event] = []
    for i, (name, did, ts, props) in enumerate(
        zip(c.events, c.distinct_ids, c.ts, c.props, strict=True)
    ):
        row = c.rows[i] if c.rows is not None else c.first_row + i
        if i in c.row_errors:
            summary.reject(row, *c.row_errors[i])
            continue
        if name is None or name == "":
            if mapping.default_event is None:
                summary.reject(row, "event", "missing event name")
                continue
            name = mapping.default_event
        elif not isinstance(name, str):
            name = str(name)
        if did is None or did == "":
            summary.reject(row, "distinct_id", "missing distinct_id")
            continue
        if not isinstance(did, str):
            did = str(did)
        if ts is None:
            raw = c.ts_raw[i]
            why = "missing timestamp" if raw is None else f"unparseable timestamp {raw!r}"
            summary.reject(row, "timestamp", why[:200])
            continue
        if i in c.prop_errors:
            summary.reject(row, "properties", c.prop_errors[i])
            continue
        uid = normalize_uuid(c.uuids[i]) if c.uuids is not None else None
        if uid is None:
            micros = (ts - EPOCH) // timedelta(microseconds=1)
            uid = reference_content_uuid(name, did, micros, props)
        events.append(Event(uid, project_id, name, did, ts, received, props))
    for start in range(0, len(events), batch_size):
        result = write_events(store, events[start : start + batch_size])
        summary.imported += result.inserted
        summary.duplicates += result.duplicates
    return summary
