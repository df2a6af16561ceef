"""Trends: an aggregate of events per calendar period, per series and breakdown value.

Periods are computed in Python from the date range (every period present, zero-filled), so
the SQL only returns the periods that have data. The SQL returns each row's period as an
integer *slot* counted from the range start (hour, day or week offset in days, month
offset), which both engines produce as plain integers; timestamps with time zones come
back differently from the two engines and are never returned.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from yunying.analytics.common import NONE, OTHER, Breakdown, DateRange, EventSelector
from yunying.analytics.context import ProjectContext, with_rollup
from yunying.analytics.filters import PropertyFilter, property_expr
from yunying.analytics.periods import period_of, period_starts
from yunying.analytics.source import day_source_sql
from yunying.events.model import NUMERIC_PROMOTED, PROMOTED_PROPERTIES
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect, Interval

Math = Literal["total", "unique_persons", "sum", "avg", "min", "max", "median"]
PROPERTY_MATHS = ("sum", "avg", "min", "max", "median")
Number = int | float


def slot_sql(
    dialect: Dialect, ctx: ProjectContext, ts: str, start: date, interval: Interval
) -> str:
    """Integer position of UTC timestamp ``ts`` relative to the range's first period.

    hour: hours since ``start`` 00:00 local (wall clock); day: days since ``start``; week:
    days from the first week's start to the row's week start (a multiple of 7); month:
    months since the first month.
    """
    d = dialect.local_date(ts, ctx.timezone)
    if interval == "hour":
        hour = f"EXTRACT(HOUR FROM {dialect.local_ts(ts, ctx.timezone)})"
        return f"({dialect.days_between(dialect.date_lit(start), d)} * 24 + {hour})"
    first = dialect.date_lit(period_of(start, interval, ctx.week_start))
    if interval == "day":
        return dialect.days_between(first, d)
    if interval == "week":
        return dialect.days_between(first, dialect.period_of_date(d, "week", ctx.week_start))
    return dialect.months_between(first, dialect.month_start(d))


def slot_index(slot: int, interval: Interval) -> int:
    return slot // 7 if interval == "week" else slot


# ---- query and result models ----------------------------------------------------------


class TrendsQuery(BaseModel):
    """How often events happen per period, optionally split by a property."""

    kind: Literal["trends"] = "trends"
    series: list[EventSelector] = Field(
        min_length=1, max_length=20, description="One line per event (with its own filters)."
    )
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Filters applied to every series."
    )
    math: Math = Field(
        default="total",
        description="total: event count; unique_persons: distinct persons per period; "
        "sum/avg/min/max/median: of the numeric event property `math_property`.",
    )
    math_property: str | None = Field(
        default=None,
        min_length=1,
        max_length=400,
        description="Numeric event property aggregated by sum/avg/min/max/median.",
    )
    interval: Interval = Field(default="day", description="Calendar period: hour/day/week/month.")
    date_range: DateRange = Field(
        default_factory=DateRange, description="Local dates, both ends inclusive."
    )
    breakdown: Breakdown | None = Field(
        default=None,
        description="Split each series by a property: the top `limit` values by event count "
        "over the range; other values become '$other', a missing value '$none'.",
    )

    @model_validator(mode="after")
    def _property_math(self) -> TrendsQuery:
        if self.math in PROPERTY_MATHS and not self.math_property:
            raise ValueError(f"math {self.math!r} needs math_property")
        return self


class TrendsSeries(BaseModel):
    """One line of the chart: a series, or one breakdown value of a series."""

    series_index: int = Field(description="Position of the series in the query.")
    label: str
    event: str
    breakdown_value: str | None = Field(
        default=None, description="Breakdown value ('$other', '$none'); null without breakdown."
    )
    periods: list[datetime | date] = Field(description="Start of every period in the range.")
    values: list[Number | None] = Field(
        description="Value per period; 0 for empty periods (null for avg/min/max/median)."
    )
    aggregate: Number | None = Field(
        description="The math over the whole range (unique persons: distinct over the range)."
    )


class TrendsResult(BaseModel):
    kind: Literal["trends"] = "trends"
    interval: Interval
    math: Math
    date_from: date
    date_to: date
    series: list[TrendsSeries]


# ---- SQL ---------------------------------------------------------------------------


def _agg(dialect: Dialect, math_: Math) -> str:
    if math_ == "total":
        return "sum(w)"  # w: events the row stands for (1, or a person-day's count)
    if math_ == "unique_persons":
        return dialect.count_distinct("pid")
    if math_ == "median":
        return dialect.median("val")
    return f"{math_}(val)"


def breakdown_expr(dialect: Dialect, b: Breakdown) -> str:
    """Breakdown property as text (numbers in their JSON spelling on both engines)."""
    if b.type == "event" and PROMOTED_PROPERTIES.get(b.property) in NUMERIC_PROMOTED:
        return dialect.json_str("e.properties", b.property)
    return property_expr(dialect, b.property, alias="e" if b.type == "event" else "p", kind=b.type)


def _day_grained(q: TrendsQuery) -> bool:
    """Counts or persons per day or coarser: what person_days can answer."""
    return q.interval != "hour" and q.math in ("total", "unique_persons")


def build_trends_sql(dialect: Dialect, ctx: ProjectContext, q: TrendsQuery) -> str:
    """Rows (s, bkey, slot, lvl, n, value): lvl 0 per period, lvl 1 the range total (slot -1)."""
    date_from, date_to = q.date_range.resolve(ctx)
    cols = [f"{slot_sql(dialect, ctx, 'e.ts', date_from, q.interval)} AS slot"]
    if q.breakdown is not None:
        cols.append(f"{breakdown_expr(dialect, q.breakdown)} AS bv")
    if q.math in PROPERTY_MATHS:
        assert q.math_property is not None
        cols.append(f"{property_expr(dialect, q.math_property, alias='e', numeric=True)} AS val")
    names = ", ".join(c.rsplit(" AS ", 1)[1] for c in cols)
    event_props = [q.breakdown.property] if q.breakdown and q.breakdown.type == "event" else []
    branches = []
    for i, sel in enumerate(q.series):
        # A row per person-day (n events each) where person_days can answer.
        src = day_source_sql(
            dialect,
            ctx,
            date_from=date_from,
            date_to=date_to,
            event_names=[sel.event],
            filters=[*q.filters, *sel.filters],
            columns=cols,
            event_properties=event_props,
            day_grained=_day_grained(q),
        )
        branches.append(f"SELECT {i} AS s, pid, {names}, n FROM ({src}) x{i}")
    base = " UNION ALL ".join(branches)
    extra = ", val" if q.math in PROPERTY_MATHS else ""
    if q.breakdown is not None:
        lit = dialect.str_lit
        top = (
            f"SELECT bv FROM base WHERE bv IS NOT NULL GROUP BY bv "
            f"ORDER BY sum(n) DESC, bv LIMIT {int(q.breakdown.limit)}"
        )
        key = (
            f"CASE WHEN bv IS NULL THEN {lit(NONE)} WHEN bv IN (SELECT bv FROM top) "
            f"THEN bv ELSE {lit(OTHER)} END"
        )
        ctes = f"base AS ({base}), top AS ({top}), "
        keyed = f"keyed AS (SELECT s, pid, slot, n AS w{extra}, {key} AS bkey FROM base)"
    else:
        ctes = f"base AS ({base}), "
        bkey = dialect.str_lit("")
        keyed = f"keyed AS (SELECT s, pid, slot, n AS w{extra}, {bkey} AS bkey FROM base)"
    agg = _agg(dialect, q.math)
    return (
        f"WITH {ctes}{keyed} "
        f"SELECT s, bkey, CAST(slot AS BIGINT) AS period_slot, 0 AS lvl, sum(w) AS n, "
        f"{agg} AS value FROM keyed GROUP BY s, bkey, slot "
        f"UNION ALL "
        f"SELECT s, bkey, CAST(-1 AS BIGINT) AS period_slot, 1 AS lvl, sum(w) AS n, "
        f"{agg} AS value FROM keyed GROUP BY s, bkey"
    )


# ---- shaping -------------------------------------------------------------------------


def _clean(value: Any, math_: Math) -> Number | None:
    """Engine numbers (UInt64, NaN for empty avg) as plain ints/floats; empty counts as 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0.0 if math_ == "sum" else None
    if math_ in ("total", "unique_persons"):
        return int(value)
    return float(value)


def _empty(math_: Math) -> Number | None:
    if math_ in ("total", "unique_persons"):
        return 0
    return 0.0 if math_ == "sum" else None


def run_trends(store: EventStore, ctx: ProjectContext, q: TrendsQuery) -> TrendsResult:
    date_from, date_to = q.date_range.resolve(ctx)
    # Pin the dates so the SQL and the periods agree even across midnight.
    q = q.model_copy(update={"date_range": DateRange(date_from=date_from, date_to=date_to)})
    periods = period_starts(date_from, date_to, q.interval, ctx.week_start)
    if _day_grained(q):
        ctx = with_rollup(store, ctx)
    table = store.query(build_trends_sql(store.dialect, ctx, q))
    per_period: dict[tuple[int, str], dict[int, Number | None]] = {}
    totals: dict[tuple[int, str], Number | None] = {}
    weight: dict[str, int] = {}
    for r in table.to_pylist():
        key = (int(r["s"]), r["bkey"])
        value = _clean(r["value"], q.math)
        if int(r["lvl"]) == 1:
            totals[key] = value
            weight[r["bkey"]] = weight.get(r["bkey"], 0) + int(r["n"])
        else:
            per_period.setdefault(key, {})[slot_index(int(r["period_slot"]), q.interval)] = value

    def order(k: str) -> tuple[int, int, str]:
        return ({OTHER: 1, NONE: 2}.get(k, 0), -weight[k], k)

    out: list[TrendsSeries] = []
    for i, sel in enumerate(q.series):
        keys = (
            [""] if q.breakdown is None else sorted((k for (s, k) in totals if s == i), key=order)
        )
        for k in keys:
            got = per_period.get((i, k), {})
            out.append(
                TrendsSeries(
                    series_index=i,
                    label=sel.label,
                    event=sel.event,
                    breakdown_value=None if q.breakdown is None else k,
                    periods=list(periods),
                    values=[got.get(j, _empty(q.math)) for j in range(len(periods))],
                    aggregate=totals.get((i, k), _empty(q.math)),
                )
            )
    return TrendsResult(
        interval=q.interval, math=q.math, date_from=date_from, date_to=date_to, series=out
    )
