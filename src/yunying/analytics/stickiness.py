"""Stickiness: how many persons did the event in 1, 2, … of the range's periods.

A period is a calendar day, week or month in the project time zone, or a block of
``interval_count`` of them counted from the range's first period (so "3-day intervals"
are days 1-3, 4-6, … of the range). Only events inside the date range count, so the first
and last week or month may be partial.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from yunying.analytics.common import DateRange, Interval
from yunying.analytics.context import ProjectContext, with_rollup
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.periods import period_starts
from yunying.analytics.source import day_source_sql
from yunying.analytics.trends import slot_sql
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect


class StickinessQuery(BaseModel):
    """Histogram of persons by the number of periods in which they did the event."""

    kind: Literal["stickiness"] = "stickiness"
    event: str = Field(min_length=1, max_length=400, description="The event that counts.")
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Only events (or persons) matching all filters count."
    )
    interval: Interval = Field(default="day", description="Calendar period: day/week/month.")
    interval_count: int = Field(
        default=1,
        ge=1,
        le=366,
        description="Periods per bucket: interval='day' with 3 counts 3-day intervals.",
    )
    date_range: DateRange = Field(
        default_factory=DateRange, description="Local dates, both ends inclusive."
    )


class StickinessResult(BaseModel):
    kind: Literal["stickiness"] = "stickiness"
    interval: Interval
    interval_count: int
    date_from: date
    date_to: date
    total_periods: int = Field(description="Buckets in the range (the histogram's length).")
    periods_active: list[int] = Field(description="1, 2, … total_periods.")
    persons: list[int] = Field(description="Persons active in exactly that many buckets.")
    cumulative: list[int] = Field(description="Persons active in at least that many buckets.")
    total_persons: int = Field(description="Persons active at least once.")


def _width(interval: Interval) -> int:
    """Slot units per period (week slots are day offsets)."""
    return 7 if interval == "week" else 1


def build_stickiness_sql(dialect: Dialect, ctx: ProjectContext, q: StickinessQuery) -> str:
    """Rows (active, persons): persons active in exactly ``active`` buckets."""
    date_from, date_to = q.date_range.resolve(ctx)
    slot = slot_sql(dialect, ctx, "e.ts", date_from, q.interval)
    src = day_source_sql(  # a row per person-day where person_days can answer
        dialect,
        ctx,
        date_from=date_from,
        date_to=date_to,
        day_grained=q.interval != "hour",
        event_names=[q.event],
        filters=q.filters,
        columns=[f"floor({slot} / {_width(q.interval) * q.interval_count}) AS bucket"],
    )
    return (
        f"SELECT active, count(*) AS persons FROM ("
        f"SELECT pid, {dialect.count_distinct('bucket')} AS active FROM ({src}) x GROUP BY pid"
        f") y GROUP BY active"
    )


def run_stickiness(store: EventStore, ctx: ProjectContext, q: StickinessQuery) -> StickinessResult:
    date_from, date_to = q.date_range.resolve(ctx)
    # Pin the dates so the SQL and the periods agree even across midnight.
    q = q.model_copy(update={"date_range": DateRange(date_from=date_from, date_to=date_to)})
    n_periods = len(period_starts(date_from, date_to, q.interval, ctx.week_start))
    total = -(-n_periods // q.interval_count)
    ctx = with_rollup(store, ctx)
    got = {
        int(r["active"]): int(r["persons"])
        for r in store.query(build_stickiness_sql(store.dialect, ctx, q)).to_pylist()
    }
    persons = [got.get(k, 0) for k in range(1, total + 1)]
    cumulative = [sum(persons[i:]) for i in range(total)]
    return StickinessResult(
        interval=q.interval,
        interval_count=q.interval_count,
        date_from=date_from,
        date_to=date_to,
        total_periods=total,
        periods_active=list(range(1, total + 1)),
        persons=persons,
        cumulative=cumulative,
        total_persons=sum(persons),
    )
