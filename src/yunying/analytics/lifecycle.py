"""Lifecycle: per period, active persons split into new / returning / resurrecting, and
the persons who went dormant.

A person's activity is the set of calendar periods in which they did the event (with the
filters). The query reads all of a person's history up to the range end, because the
first period ever decides "new" and the period before the range decides whether the first
period in range is returning, resurrecting or dormant. Window functions give each active
period its neighbours: the person's previous and next active period.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from yunying.analytics.common import DateRange, Interval
from yunying.analytics.context import ProjectContext, with_rollup
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.periods import period_of, period_starts
from yunying.analytics.source import day_source_sql
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect

STATUSES = ("new", "returning", "resurrecting", "dormant")


class LifecycleQuery(BaseModel):
    """Per period: new, returning, resurrecting and dormant persons for one event."""

    kind: Literal["lifecycle"] = "lifecycle"
    event: str = Field(min_length=1, max_length=400, description="The event that makes active.")
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Only events (or persons) matching all filters count."
    )
    interval: Interval = Field(default="day", description="Calendar period: day/week/month.")
    date_range: DateRange = Field(
        default_factory=DateRange, description="Local dates, both ends inclusive."
    )


class LifecycleResult(BaseModel):
    kind: Literal["lifecycle"] = "lifecycle"
    interval: Interval
    date_from: date
    date_to: date
    periods: list[date] = Field(description="Start of every calendar period in the range.")
    new: list[int] = Field(description="Active, and this is the person's first active period.")
    returning: list[int] = Field(description="Active now and in the previous period.")
    resurrecting: list[int] = Field(
        description="Active now, not in the previous period, but in some earlier period."
    )
    dormant: list[int] = Field(
        description="Active in the previous period, not now (negative, counted once)."
    )


def _shift(dialect: Dialect, expr: str, interval: Interval, n: int) -> str:
    if interval == "month":
        return dialect.add_months(expr, n)
    return dialect.add_days(expr, n * (7 if interval == "week" else 1))


def build_lifecycle_sql(dialect: Dialect, ctx: ProjectContext, q: LifecycleQuery) -> str:
    """Rows (p, status, n): persons per period start and status."""
    date_from, date_to = q.date_range.resolve(ctx)
    per = dialect.period_start("e.ts", ctx.timezone, q.interval, ctx.week_start)
    src = day_source_sql(  # a row per person-day where person_days can answer
        dialect,
        ctx,
        date_from=None,
        date_to=date_to,
        event_names=[q.event],
        filters=q.filters,
        columns=[f"{per} AS per"],
        day_grained=q.interval != "hour",
    )
    w = "OVER (PARTITION BY pid ORDER BY per)"
    neighbours = (
        f"SELECT pid, per, {_shift(dialect, 'per', q.interval, -1)} AS prev_per, "
        f"{_shift(dialect, 'per', q.interval, 1)} AS next_per, "
        f"row_number() {w} AS nth, "
        f"row_number() OVER (PARTITION BY pid ORDER BY per DESC) AS nth_from_end, "
        f"lag(per) {w} AS before_per, lead(per) {w} AS after_per "
        f"FROM (SELECT DISTINCT pid, per FROM ({src}) x) act"
    )
    lit = dialect.str_lit
    first = dialect.date_lit(period_of(date_from, q.interval, ctx.week_start))
    last = dialect.date_lit(period_of(date_to, q.interval, ctx.week_start))
    # lag/lead are only read when a neighbour exists (ClickHouse returns a default, not NULL).
    active = (
        f"SELECT per AS p, CASE WHEN nth = 1 THEN {lit('new')} "
        f"WHEN before_per = prev_per THEN {lit('returning')} "
        f"ELSE {lit('resurrecting')} END AS status FROM w "
        f"WHERE per >= {first} AND per <= {last}"
    )
    dormant = (
        f"SELECT next_per AS p, {lit('dormant')} AS status FROM w "
        f"WHERE (nth_from_end = 1 OR after_per > next_per) "
        f"AND next_per >= {first} AND next_per <= {last}"
    )
    return (
        f"WITH w AS ({neighbours}) "
        f"SELECT p, status, count(*) AS n FROM ({active} UNION ALL {dormant}) y GROUP BY p, status"
    )


def run_lifecycle(store: EventStore, ctx: ProjectContext, q: LifecycleQuery) -> LifecycleResult:
    date_from, date_to = q.date_range.resolve(ctx)
    # Pin the dates so the SQL and the periods agree even across midnight.
    q = q.model_copy(update={"date_range": DateRange(date_from=date_from, date_to=date_to)})
    periods = period_starts(date_from, date_to, q.interval, ctx.week_start)
    ctx = with_rollup(store, ctx)
    got = {
        (r["p"], r["status"]): int(r["n"])
        for r in store.query(build_lifecycle_sql(store.dialect, ctx, q)).to_pylist()
    }
    col = {s: [got.get((p, s), 0) for p in periods] for s in STATUSES}
    return LifecycleResult(
        interval=q.interval,
        date_from=date_from,
        date_to=date_to,
        periods=periods,  # type: ignore[arg-type]
        new=col["new"],
        returning=col["returning"],
        resurrecting=col["resurrecting"],
        dormant=[-n for n in col["dormant"]],
    )
