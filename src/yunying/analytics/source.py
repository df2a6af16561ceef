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
from datetime import date, datetime, timedelta

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter, filters_sql, needs_person_join
from yunying.store.day_ranges import day_ranges_utc, ranges_sql
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
    if event_filters:
        where.append(filters_sql(dialect, event_filters, event_alias="e"))
    inner = (
        "SELECT coalesce(o.person_id, e.person_id) AS pid, e.event AS event, "
        "e.timestamp AS ts, e.uuid AS uuid, e.distinct_id AS distinct_id, "
        "e.properties AS properties, "
        + ", ".join(f"e.{c} AS {c}" for c in _PROMOTED)
        + f" FROM events e LEFT JOIN ({overrides_map_sql(dialect, ctx.project_id)}) o "
        f"ON o.old_person_id = e.person_id WHERE {' AND '.join(where)}"
    )
    return _with_persons(
        dialect,
        ctx,
        inner,
        select="e.pid AS pid, e.event AS event, e.ts AS ts, e.uuid AS uuid",
        filters=filters,
        columns=columns,
    )


def _with_persons(
    dialect: Dialect,
    ctx: ProjectContext,
    inner: str,
    *,
    select: str,
    filters: Sequence[PropertyFilter],
    columns: Sequence[str],
    where: Sequence[str] = (),
    person_key: str = "e.pid",
) -> str:
    """``SELECT select, columns FROM (inner) e``, joined with each person's newest
    properties (alias ``p``) only when a person filter or a ``p.`` column needs them, and
    filtered by the person filters and ``where``."""
    person_filters = [f for f in filters if f.type == "person"]
    conds = list(where)
    if person_filters:
        conds.append(filters_sql(dialect, person_filters, person_alias="p"))
    join_person = needs_person_join(list(filters)) or any("p." in c for c in columns)
    person_join = (
        f" LEFT JOIN ({persons_sql(dialect, ctx)}) p ON p.id = {person_key}" if join_person else ""
    )
    extra = "".join(f", {c}" for c in columns)
    return (
        f"SELECT {select}{extra} FROM ({inner}) e{person_join} "
        f"WHERE {' AND '.join(conds) or 'TRUE'}"
    )


# ---- day-grained rows from person_days -------------------------------------------------

# Event properties that person_days keeps (everything else needs the events).
ROLLUP_EVENT_PROPERTIES = frozenset({"channel"})


def rollup_can_answer(
    filters: Sequence[PropertyFilter], event_properties: Sequence[str] = ()
) -> bool:
    """Whether every event property involved is one person_days keeps (the question's
    shape; ``ctx.rollup`` says whether the store has the table up to date)."""
    props = [*event_properties, *(f.key for f in filters if f.type == "event")]
    return all(p in ROLLUP_EVENT_PROPERTIES for p in props)


def daily_events_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    date_from: date | None,
    date_to: date | None,
    event_names: Sequence[str] | None,
    filters: Sequence[PropertyFilter] = (),
    columns: Sequence[str] = (),
) -> str:
    """SELECT pid, event, ts, n [, extra columns]: a row per person, local day, event and
    channel, ``n`` events, ``ts`` the first one's time (so its local day, week and month
    are the events' own). ``pid`` is a ``UUID`` here, not text (see person_days).

    Rows come from ``person_days`` for days it has up to date and from ``events`` (one
    row per event, ``n`` = 1) for days still marked, which consumers cannot tell apart
    as long as they count ``sum(n)`` and distinct persons per day or coarser. Only for
    queries ``rollup_can_answer`` accepts, with ``ctx.rollup`` set; ``date_from`` and
    ``date_to`` are local days, inclusive (None: unbounded). Extra columns as in
    ``events_sql``, over ``e`` with ``channel`` and over ``p``.
    """
    view = ctx.rollup
    assert view is not None, "daily_events_sql needs ctx.rollup (see context.with_rollup)"
    p = int(ctx.project_id)
    overrides = overrides_map_sql(dialect, p)
    where = [f"r.project_id = {p}"]
    raw_where = [f"e.project_id = {p}"]
    if event_names is not None:  # None: every event
        names = sorted(set(event_names))
        name_list = ", ".join(dialect.str_lit(n) for n in names) if names else "NULL"
        where.append(f"r.event IN ({name_list})")
        raw_where.append(f"e.event IN ({name_list})")
    if date_from is not None:
        where.append(f"r.day >= {dialect.date_lit(date_from)}")
    if date_to is not None:
        where.append(f"r.day <= {dialect.date_lit(date_to)}")
    dirty = sorted(
        d
        for d in view.dirty
        if (date_from is None or d >= date_from) and (date_to is None or d <= date_to)
    )
    if dirty:
        where.append(f"r.day NOT IN ({', '.join(dialect.date_lit(d) for d in dirty)})")
    parts = [
        "SELECT coalesce(CAST(o.person_id AS UUID), r.person_id) AS pid, r.event AS event, "
        "r.first_ts AS ts, r.n AS n, r.channel AS channel FROM person_days r "
        f"LEFT JOIN ({overrides}) o ON o.old_person_id = r.person_id "
        f"WHERE {' AND '.join(where)}"
    ]
    if dirty:
        raw_where.append(ranges_sql(dialect, "e.timestamp", day_ranges_utc(dirty, ctx.timezone)))
        parts.append(
            "SELECT CAST(coalesce(o.person_id, e.person_id) AS UUID) AS pid, e.event AS event, "
            "e.timestamp AS ts, 1 AS n, e.channel AS channel FROM events e "
            f"LEFT JOIN ({overrides}) o ON o.old_person_id = e.person_id "
            f"WHERE {' AND '.join(raw_where)}"
        )
    event_filters = [f for f in filters if f.type == "event"]
    return _with_persons(
        dialect,
        ctx,
        " UNION ALL ".join(parts),
        select="e.pid AS pid, e.event AS event, e.ts AS ts, e.n AS n",
        filters=filters,
        columns=columns,
        # Event filters (on kept columns only) apply to the rows of both halves.
        where=[filters_sql(dialect, event_filters, event_alias="e")] if event_filters else [],
        person_key="CAST(e.pid AS VARCHAR)",
    )


def day_source_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    date_from: date | None,
    date_to: date,
    event_names: Sequence[str] | None,
    filters: Sequence[PropertyFilter] = (),
    columns: Sequence[str] = (),
    event_properties: Sequence[str] = (),
    day_grained: bool = True,
) -> str:
    """Rows (pid, event, ts, n, extra columns) of local days ``date_from`` … ``date_to``
    for a metric that needs no finer grain than a day: from ``daily_events_sql`` when
    the store keeps person_days and the question only involves event properties it keeps
    (``event_properties``: those the ``columns`` read), else from ``events_sql`` with
    ``n`` = 1. A metric counts ``sum(n)`` for events and distinct ``pid`` per period.
    """
    if day_grained and ctx.rollup is not None and rollup_can_answer(filters, event_properties):
        return daily_events_sql(
            dialect,
            ctx,
            date_from=date_from,
            date_to=date_to,
            event_names=event_names,
            filters=filters,
            columns=columns,
        )
    end = ctx.day_start_utc(date_to + timedelta(days=1))
    return events_sql(
        dialect,
        ctx,
        start=None if date_from is None else ctx.day_start_utc(date_from),
        end=end,
        event_names=event_names,
        filters=filters,
        columns=[*columns, "1 AS n"],
    )
