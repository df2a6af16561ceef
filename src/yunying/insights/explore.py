"""Event exploration: the latest events (with filters) and the event definitions list.

The latest-events query takes the newest rows from the events table first and resolves
persons only for those, unless a person filter needs every row resolved; that keeps an
auto-refreshing page cheap on a large store.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter, filters_sql, needs_person_join
from yunying.analytics.source import events_sql, person_map_sql
from yunying.insights.sqlutil import json_obj, utc
from yunying.store.base import EventStore, rows

MAX_LATEST = 500
VOLUME_DAYS = 30
NAMES_TTL_S = 60.0


class EventRow(BaseModel):
    uuid: str
    event: str
    timestamp: datetime
    distinct_id: str
    person_id: str
    properties: dict[str, Any]


class EventDefinition(BaseModel):
    event: str
    volume: int = Field(description=f"Events in the last {VOLUME_DAYS} local days.")
    total: int = Field(description="Events ever stored.")
    first_seen: datetime | None
    last_seen: datetime | None


def build_latest_sql(
    store: EventStore,
    ctx: ProjectContext,
    *,
    event: str | None,
    filters: Sequence[PropertyFilter],
    limit: int,
    since: datetime | None,
) -> str:
    """Rows (uuid, event, ts, distinct_id, pid, properties), newest first."""
    d = store.dialect
    limit = max(1, min(int(limit), MAX_LATEST))
    if needs_person_join(list(filters)):
        src = events_sql(
            d,
            ctx,
            start=since,
            event_names=None if event is None else [event],
            filters=filters,
            columns=["e.distinct_id AS distinct_id", "e.properties AS properties"],
        )
        return (
            f"SELECT uuid, event, ts, distinct_id, pid, properties FROM ({src}) x "
            f"ORDER BY ts DESC, uuid DESC LIMIT {limit}"
        )
    where = [f"e.project_id = {int(ctx.project_id)}"]
    if since is not None:
        where.append(f"e.timestamp >= {d.ts_lit(since)}")
    if event is not None:
        where.append(f"e.event = {d.str_lit(event)}")
    if filters:
        where.append(filters_sql(d, list(filters), event_alias="e"))
    newest = (
        "SELECT e.uuid AS uuid, e.event AS event, e.timestamp AS ts, e.distinct_id AS "
        "distinct_id, e.person_id AS epid, e.properties AS properties FROM events e "
        f"WHERE {' AND '.join(where)} ORDER BY e.timestamp DESC, e.uuid DESC LIMIT {limit}"
    )
    return (
        "SELECT t.uuid AS uuid, t.event AS event, t.ts AS ts, t.distinct_id AS distinct_id, "
        "coalesce(m.person_id, t.epid) AS pid, t.properties AS properties "
        f"FROM ({newest}) t LEFT JOIN ({person_map_sql(d, ctx)}) m "
        "ON m.distinct_id = t.distinct_id ORDER BY ts DESC, uuid DESC"
    )


def latest_events(
    store: EventStore,
    ctx: ProjectContext,
    *,
    event: str | None = None,
    filters: Sequence[PropertyFilter] = (),
    limit: int = 100,
    since: datetime | None = None,
) -> list[EventRow]:
    """The newest events of the project (optionally one event name, with filters)."""
    sql = build_latest_sql(store, ctx, event=event, filters=filters, limit=limit, since=since)
    return [
        EventRow(
            uuid=str(r["uuid"]),
            event=str(r["event"]),
            timestamp=utc(r["ts"]),  # type: ignore[arg-type]
            distinct_id=str(r["distinct_id"]),
            person_id=str(r["pid"]),
            properties=json_obj(r["properties"]),
        )
        for r in rows(store.query(sql))
    ]


def build_definitions_sql(store: EventStore, ctx: ProjectContext, today: date) -> str:
    d = store.dialect
    since = ctx.day_start_utc(today - timedelta(days=VOLUME_DAYS - 1))
    return (
        f"SELECT event, sum(CASE WHEN timestamp >= {d.ts_lit(since)} THEN 1 ELSE 0 END) "
        f"AS volume, count(*) AS total, min(timestamp) AS first_seen, "
        f"max(timestamp) AS last_seen FROM events WHERE project_id = {int(ctx.project_id)} "
        f"GROUP BY event"
    )


def event_definitions(
    store: EventStore, ctx: ProjectContext, *, today: date | None = None
) -> list[EventDefinition]:
    """Every event name ever seen, by volume over the last 30 local days (then name)."""
    data = rows(store.query(build_definitions_sql(store, ctx, today or ctx.today())))
    out = [
        EventDefinition(
            event=str(r["event"]),
            volume=int(r["volume"] or 0),
            total=int(r["total"] or 0),
            first_seen=utc(r["first_seen"]),
            last_seen=utc(r["last_seen"]),
        )
        for r in data
    ]
    out.sort(key=lambda x: (-x.volume, -x.total, x.event))
    return out


_names_lock = threading.Lock()
_names_cache: weakref.WeakKeyDictionary[Any, dict[int, tuple[float, list[str]]]] = (
    weakref.WeakKeyDictionary()
)


def event_names(store: EventStore, ctx: ProjectContext) -> list[str]:
    """Event names for form suggestions, most used first; cached briefly per store."""
    now = time.monotonic()
    with _names_lock:
        hit = _names_cache.get(store, {}).get(int(ctx.project_id))
    if hit and now - hit[0] < NAMES_TTL_S:
        return hit[1]
    names = [x.event for x in event_definitions(store, ctx)]
    with _names_lock:
        _names_cache.setdefault(store, {})[int(ctx.project_id)] = (now, names)
    return names
