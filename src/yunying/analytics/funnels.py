"""Funnels: how many persons go through a sequence of steps, and where they drop off.

The query model and result live here; the SQL (shared by DuckDB and ClickHouse) is built in
``funnel_sql``. Ordered funnels of plain event names on a DuckDB store read the sorted
``event_timelines`` instead (``funnel_timelines``): same definition, ~10× faster. The
exact semantics are written out in docs/metrics.md ("Funnels").
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from yunying.analytics.common import Breakdown, DateRange, EventSelector
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.funnel_sql import build_funnel_persons_sql, build_funnel_sql, entry_dates
from yunying.analytics.funnel_timelines import best_from_timelines, summary_row
from yunying.store.base import EventStore, rows

FunnelMode = Literal["ordered", "strict", "unordered"]
WindowUnit = Literal["seconds", "minutes", "hours", "days", "weeks"]

_UNIT_SECONDS: dict[str, int] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 7 * 86400,
}
MAX_WINDOW_SECONDS = 366 * 86400


class FunnelExclusion(EventSelector):
    """An event that must not happen between two matched steps of an attempt."""

    from_step: int = Field(ge=1, le=20, description="Step a (1-based): exclusion counts after it.")
    to_step: int = Field(ge=2, le=20, description="Step b (1-based): exclusion counts before it.")

    @model_validator(mode="after")
    def _ordered(self) -> FunnelExclusion:
        if self.from_step >= self.to_step:
            raise ValueError("exclusion from_step must be before to_step")
        return self


class FunnelQuery(BaseModel):
    """A conversion funnel over persons (after identity merge)."""

    kind: Literal["funnel"] = "funnel"
    steps: list[EventSelector] = Field(
        min_length=2,
        max_length=20,
        description="The steps, in order (2 to 20). Each is an event name plus property filters.",
    )
    mode: FunnelMode = Field(
        default="ordered",
        description=(
            "ordered: steps in this order, other events in between ignored; strict: each "
            "next step must be the person's very next event; unordered: steps in any order, "
            "results read 'completed N steps'."
        ),
    )
    date_range: DateRange = Field(
        default_factory=DateRange,
        description="Local days in which a person may enter (do step 1); later steps may "
        "fall after the range end as long as they are inside the window.",
    )
    window: int = Field(
        default=14, ge=1, description="Conversion window length, measured from the entry."
    )
    window_unit: WindowUnit = Field(default="days", description="Unit of ``window``.")
    filters: list[PropertyFilter] = Field(
        default_factory=list,
        description="Global filters: events that fail them are invisible to the funnel "
        "(also for strict mode's 'very next event').",
    )
    exclusions: list[FunnelExclusion] = Field(
        default_factory=list,
        max_length=10,
        description="Exclusion events: one strictly between the matched steps a and b of any "
        "attempt removes the person from the whole funnel (ordered and strict modes).",
    )
    breakdown: Breakdown | None = Field(
        default=None,
        description="Split by an event property (of the entry event of the person's best "
        "attempt) or a person property.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FunnelQuery:
        if self.window_seconds > MAX_WINDOW_SECONDS:
            raise ValueError("conversion window may be at most 366 days")
        for x in self.exclusions:
            if x.to_step > len(self.steps):
                raise ValueError(f"exclusion to_step {x.to_step} is past the last step")
        if self.exclusions and self.mode == "unordered":
            raise ValueError("exclusions need ordered or strict mode")
        return self

    @property
    def window_seconds(self) -> int:
        return self.window * _UNIT_SECONDS[self.window_unit]


class FunnelStep(BaseModel):
    """One step's numbers; conversions are fractions (0..1), times are seconds."""

    step: int = Field(description="1-based step number.")
    name: str = Field(description="Step label (unordered mode: 'completed N steps').")
    event: str | None = Field(description="The step's event (None in unordered mode).")
    count: int = Field(description="Persons who reached at least this step.")
    conversion_from_previous: float | None = Field(
        description="count / previous step's count (step 1: count / count = 1)."
    )
    conversion_overall: float | None = Field(description="count / step 1's count.")
    median_time_seconds: float | None = Field(
        description="Median time from the previous step to this one (best attempts)."
    )
    average_time_seconds: float | None = Field(
        description="Mean time from the previous step to this one (best attempts)."
    )
    dropped_after: int = Field(
        description="Persons who reached this step but not the next (0 for the last step)."
    )


class FunnelSeries(BaseModel):
    """The funnel for one breakdown value."""

    value: str = Field(description="Breakdown value ('$none' when unset, '$other' = the rest).")
    steps: list[FunnelStep]
    conversion_rate: float | None = Field(description="Last step's count / step 1's count.")


class FunnelResult(BaseModel):
    mode: FunnelMode
    date_from: str = Field(description="First local entry day (ISO date).")
    date_to: str = Field(description="Last local entry day (ISO date).")
    window_seconds: int = Field(description="Conversion window in seconds.")
    steps: list[FunnelStep] = Field(description="All persons.")
    conversion_rate: float | None = Field(description="Last step's count / step 1's count.")
    breakdown: list[FunnelSeries] = Field(
        default_factory=list, description="Per breakdown value, largest step-1 count first."
    )


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _steps(q: FunnelQuery, row: dict[str, Any]) -> list[FunnelStep]:
    n = len(q.steps)
    counts = [int(row.get(f"n{k}") or 0) for k in range(1, n + 1)]
    out = []
    for k in range(1, n + 1):
        c = counts[k - 1]
        if q.mode == "unordered":
            name, event = f"completed {k} step{'s' if k > 1 else ''}", None
        else:
            name, event = q.steps[k - 1].label, q.steps[k - 1].event
        out.append(
            FunnelStep(
                step=k,
                name=name,
                event=event,
                count=c,
                conversion_from_previous=_ratio(c, counts[k - 2] if k > 1 else c),
                conversion_overall=_ratio(c, counts[0]),
                median_time_seconds=_num(row.get(f"med{k}")) if k > 1 else None,
                average_time_seconds=_num(row.get(f"avg{k}")) if k > 1 else None,
                dropped_after=c - counts[k] if k < n else 0,
            )
        )
    return out


def run_funnel(store: EventStore, ctx: ProjectContext, q: FunnelQuery) -> FunnelResult:
    """Counts, conversions and times per step (and per breakdown value)."""
    date_from, date_to = entry_dates(ctx, q)
    best = best_from_timelines(store, ctx, q)  # plain ordered funnels on DuckDB
    if best is not None:
        result = [summary_row(best, len(q.steps))]
    else:
        result = rows(store.query(build_funnel_sql(store.dialect, ctx, q)))
    total = next((r for r in result if int(r.get("lvl") or 0) == 0), {})
    steps = _steps(q, total)
    series = []
    for r in result:
        if int(r.get("lvl") or 0) == 1:
            s = _steps(q, r)
            series.append(
                FunnelSeries(
                    value=str(r["bv"]), steps=s, conversion_rate=_ratio(s[-1].count, s[0].count)
                )
            )
    series.sort(key=lambda s: (-s.steps[0].count, s.value))
    return FunnelResult(
        mode=q.mode,
        date_from=date_from.isoformat(),
        date_to=date_to.isoformat(),
        window_seconds=q.window_seconds,
        steps=steps,
        conversion_rate=_ratio(steps[-1].count, steps[0].count),
        breakdown=series,
    )


def funnel_persons(
    store: EventStore,
    ctx: ProjectContext,
    q: FunnelQuery,
    step: int,
    dropped: bool = False,
    limit: int = 100,
    offset: int = 0,
    breakdown_value: str | None = None,
) -> list[str]:
    """Person ids at ``step`` (reached at least it) or, with ``dropped``, who reached exactly
    ``step`` (dropped after it). Built on the same CTEs as the SQL counts, so lengths agree
    (the fast path's counts equal those; tests/analytics/test_funnel_timelines.py)."""
    n = len(q.steps)
    if not 1 <= step <= n:
        raise ValueError(f"step must be between 1 and {n}")
    if dropped and step == n:
        return []  # reaching the last step is converting, not dropping off
    sql = build_funnel_persons_sql(
        store.dialect,
        ctx,
        q,
        step=step,
        dropped=dropped,
        limit=limit,
        offset=offset,
        breakdown_value=breakdown_value,
    )
    return [str(r["pid"]) for r in rows(store.query(sql))]


__all__ = [
    "FunnelExclusion",
    "FunnelQuery",
    "FunnelResult",
    "FunnelSeries",
    "FunnelStep",
    "build_funnel_persons_sql",
    "build_funnel_sql",
    "funnel_persons",
    "run_funnel",
]
