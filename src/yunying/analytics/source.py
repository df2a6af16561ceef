"""The event rows every metric starts from: person-resolved, time-bounded, filtered.

Each event carries the person it was resolved to when written (``events.person_id``);
merges of two persons with history since then are applied here, at query time, through
``person_overrides`` (see ``store/person_overrides.py``), so a merge that arrives late
still counts and stored events are never rewritten. The result is the same as looking
every event's ``distinct_id`` up in ``person_distinct_ids`` (a test checks it), without
joining every event with the whole id map.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter, filters_sql, needs_person_join
from yunying.store.dialect import Dialect
from yunying.store.person_overrides import overrides_map_sql
from yunying.store.schema import PROMOTED_COLUMNS as _PROMOTED


def person_map_sql(dialect: Dialect, ctx: ProjectContext) -> str:
    """distinct_id → current person_id (newest version wins)."""
    return (
        f"SELECT distinct_id, {dialect.arg_max('person_id', 'version')} AS person_id "
        f"FROM person_distinct_ids WHERE project_id = {int(ctx.project_id)} "
        f"GROUP BY distinct_id"
    )


def persons_sql(dialect: Dialect, ctx: ProjectContext) -> str:
    """Newest properties of each person."""
    return (
        f"SELECT id, {dialect.arg_max('properties', 'version')} AS properties, "
        f"min(created_at) AS created_at FROM persons WHERE project_id = {int(ctx.project_id)} "
        f"GROUP BY id"
    )


def events_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    event_names: Sequence[str] | None = None,
    filters: Sequence[PropertyFilter] = (),
    columns: Sequence[str] = (),
) -> str:
    """SELECT pid, event, ts, uuid [, extra columns] from the project's events.

    ``start``/``end`` bound ``timestamp`` as [start, end) in UTC. ``columns`` are extra SQL
    expressions over alias ``e`` (event row) and ``p`` (person row, joined only when a
    person filter or a ``p.`` column needs it), each written ``expr AS name``.
    """
    where = [f"e.project_id = {int(ctx.project_id)}"]
    if start is not None:
        where.append(f"e.timestamp >= {dialect.ts_lit(start)}")
    if end is not None:
        where.append(f"e.timestamp < {dialect.ts_lit(end)}")
    if event_names is not None:
        names = sorted(set(event_names))
        if not names:
            where.append("FALSE")
        else:
            where.append(f"e.event IN ({', '.join(dialect.str_lit(n) for n in names)})")
    event_filters = [f for f in filters if f.type == "event"]
    person_filters = [f for f in filters if f.type == "person"]
    if event_filters:
        where.append(filters_sql(dialect, event_filters, event_alias="e"))
    extra = "".join(f", {c}" for c in columns)
    inner = (
        "SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, "
        "e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, "
        "e.properties AS properties, "
        + ", ".join(f"e.{c} AS {c}" for c in _PROMOTED)
        + f" FROM events e LEFT JOIN ({overrides_map_sql(dialect, ctx.project_id)}) o "
        f"ON o.old_person_id = e.person_id WHERE {' AND '.join(where)}"
    )
    join_person = needs_person_join(list(filters)) or any("p." in c for c in columns)
    outer_where = (
        filters_sql(dialect, person_filters, person_alias="p") if person_filters else "TRUE"
    )
    person_join = (
        f" LEFT JOIN ({persons_sql(dialect, ctx)}) p ON p.id = e.pid" if join_person else ""
    )
    return (
        f"SELECT e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid{extra} "
        f"FROM ({inner}) e{person_join} WHERE {outer_where}"
    )
