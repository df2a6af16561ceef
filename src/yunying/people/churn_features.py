"""Behavioural features for the churn classifier: ONE SQL query per as-of day, both engines.

For an as-of local day D every event is placed by ``days_ago`` = D - its local day (0 is D
itself, negative is after D). Features only read ``days_ago >= 0``, so nothing after D can
leak into them; the optional label reads only ``days_ago`` in [-H, -1] (the H days after D).

The population is the persons (after identity merges) with at least one event in the
``population_days`` up to D: those who can still churn. Persons silent for longer have
churned already and are not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore

WINDOWS = (7, 14, 30)
TOP_EVENT_TYPES = 8
# Identity plumbing, not behaviour: never a per-type feature.
IDENTITY_EVENTS = ("$identify", "$create_alias", "$merge_dangerously", "$set", "$groupidentify")

BASE_FEATURES = [
    "recency_days",
    "tenure_days",
    "events_total",
    *[f"events_{w}d" for w in WINDOWS],
    *[f"active_days_{w}d" for w in WINDOWS],
    "trend_7d",
    "revenue_total",
    "revenue_30d",
    "distinct_content_30d",
]


def feature_names(event_types: Sequence[str]) -> list[str]:
    """Column names in model order: base features, then counts per event type and window."""
    per_type = [f"events_{w}d:{name}" for name in event_types for w in WINDOWS]
    return [*BASE_FEATURES, *per_type]


def top_event_types(
    store: EventStore,
    ctx: ProjectContext,
    as_of: date,
    *,
    days: int = 30,
    limit: int = TOP_EVENT_TYPES,
) -> list[str]:
    """The most frequent events in the ``days`` up to ``as_of`` (the per-type features)."""
    d = store.dialect
    start, end = ctx.day_range_utc(date.fromordinal(as_of.toordinal() - days + 1), as_of)
    sql = (
        f"SELECT event, count(*) AS n FROM events WHERE project_id = {int(ctx.project_id)} "
        f"AND timestamp >= {d.ts_lit(start)} AND timestamp < {d.ts_lit(end)} "
        f"AND event NOT IN ({', '.join(d.str_lit(e) for e in IDENTITY_EVENTS)}) "
        f"GROUP BY event ORDER BY n DESC, event LIMIT {int(limit)}"
    )
    return [str(e) for e in store.query(sql).column("event").to_pylist()]


def _window(lo: int, hi: int) -> str:
    return f"b.days_ago BETWEEN {int(lo)} AND {int(hi)}"


def features_sql(
    store: EventStore,
    ctx: ProjectContext,
    as_of: date,
    event_types: Sequence[str],
    *,
    population_days: int = 30,
    horizon_days: int | None = None,
) -> str:
    """SELECT person_id, <feature_names(event_types)> [, future_events] for the population.

    Two stages, because distinct counts per person are the costly part on millions of
    events: events are first summed per person and local day (so active days are plain
    row counts), then per person; distinct content is the only distinct count left, over
    the last 30 days. The resolved events are a CTE read by both (computed once on DuckDB).
    """
    d = store.dialect
    horizon = int(horizon_days or 0)
    last_day = date.fromordinal(as_of.toordinal() + horizon)
    _, end = ctx.day_range_utc(last_day, last_day)
    day = d.local_date("e.ts", ctx.timezone)
    revenue = property_expr(d, ctx.revenue_property, alias="e", numeric=True)
    source = events_sql(
        d,
        ctx,
        end=end,
        columns=[
            f"{d.days_between(day, d.date_lit(as_of))} AS days_ago",
            f"coalesce({revenue}, 0) AS revenue",
            "e.content_id AS content_id",
        ],
    )
    type_sums = "".join(
        f", sum(CASE WHEN a.event = {d.str_lit(name)} THEN 1 ELSE 0 END) AS t{i}"
        for i, name in enumerate(event_types)
    )
    per_day = (
        "SELECT a.pid AS pid, a.days_ago AS days_ago, count(*) AS n, "
        f"sum(a.revenue) AS revenue{type_sums} FROM ev a "
        f"WHERE a.days_ago >= {-horizon} GROUP BY a.pid, a.days_ago"
    )
    content = (
        f"SELECT a.pid AS pid, {d.count_distinct('a.content_id')} AS n FROM ev a "
        "WHERE a.days_ago BETWEEN 0 AND 29 AND a.content_id IS NOT NULL GROUP BY a.pid"
    )
    past = "b.days_ago >= 0"

    def total(cond: str, value: str = "b.n") -> str:
        return f"sum(CASE WHEN {cond} THEN {value} ELSE 0 END)"

    cols = [
        f"min(CASE WHEN {past} THEN b.days_ago END) AS recency_days",
        f"max(CASE WHEN {past} THEN b.days_ago END) AS tenure_days",
        f"{total(past)} AS events_total",
    ]
    cols += [f"{total(_window(0, w - 1))} AS events_{w}d" for w in WINDOWS]
    cols += [f"{total(_window(0, w - 1), '1')} AS active_days_{w}d" for w in WINDOWS]
    cols += [
        f"{total(_window(0, 6))} - {total(_window(7, 13))} AS trend_7d",
        f"{total(past, 'b.revenue')} AS revenue_total",
        f"{total(_window(0, 29), 'b.revenue')} AS revenue_30d",
        "coalesce(max(c.n), 0) AS distinct_content_30d",
    ]
    for i in range(len(event_types)):
        cols += [f"{total(_window(0, w - 1), f'b.t{i}')} AS t{i}_{w}d" for w in WINDOWS]
    if horizon_days is not None:
        cols.append(f"{total(f'b.days_ago BETWEEN {-horizon} AND -1')} AS future_events")
    active = total(_window(0, population_days - 1), "1")
    return (
        f"WITH {d.cte_materialized('ev', source)} "
        f"SELECT b.pid AS person_id, {', '.join(cols)} FROM ({per_day}) b "
        f"LEFT JOIN ({content}) c ON c.pid = b.pid "
        f"GROUP BY b.pid HAVING {active} > 0 ORDER BY b.pid{d.settings_suffix()}"
    )


def compute_features(
    store: EventStore,
    ctx: ProjectContext,
    as_of: date,
    event_types: Sequence[str],
    *,
    population_days: int = 30,
    horizon_days: int | None = None,
) -> pa.Table:
    """The feature table: ``person_id``, the features (renamed to ``feature_names``) and,
    with a horizon, ``future_events`` (0 means churned in the H days after ``as_of``)."""
    table = store.query(
        features_sql(
            store,
            ctx,
            as_of,
            event_types,
            population_days=population_days,
            horizon_days=horizon_days,
        )
    )
    names = ["person_id", *feature_names(event_types)]
    if horizon_days is not None:
        names.append("future_events")
    return table.rename_columns(names)


def matrix(
    table: pa.Table, names: Sequence[str], start: int = 0, stop: int | None = None
) -> np.ndarray:
    """Rows ``start:stop`` of the named columns as a float64 matrix (NULL → 0).

    Columns are cast by Arrow first: DuckDB's integer sums arrive as DECIMAL(38), which
    NumPy would otherwise turn into Python objects one by one.
    """
    part = table.slice(start, None if stop is None else stop - start)
    out = np.empty((part.num_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = part.column(name).cast(pa.float64())
        out[:, j] = column.to_numpy(zero_copy_only=False)
    return np.nan_to_num(out, nan=0.0, copy=False)
