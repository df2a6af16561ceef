"""Retention: of the persons who did a start event in period c, how many came back in c+k.

Cohorts are calendar periods (day, week, month) in the project's time zone. Column 0 is
the cohort size; column k counts cohort members who did the return event in period c+k
("on" mode) or in any of c+1 … c+k ("within" mode). The SQL returns only sparse counts;
zero-filling and averaging happen here in Python so both engines share that logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, Field

from yunying.analytics import retention_masks
from yunying.analytics.common import NONE, OTHER, Breakdown, DateRange, EventSelector, Interval
from yunying.analytics.context import ProjectContext, with_rollup
from yunying.analytics.filters import PropertyFilter, property_expr
from yunying.analytics.periods import period_of as period_floor
from yunying.analytics.periods import period_offset
from yunying.analytics.periods import shift_period as period_add
from yunying.analytics.retention_masks import masks_sql
from yunying.analytics.source import day_source_sql, events_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect


class RetentionQuery(BaseModel):
    """Cohort retention of persons doing ``start_event`` who later do ``return_event``."""

    kind: Literal["retention"] = "retention"
    start_event: EventSelector = Field(description="Event that puts a person in a cohort.")
    return_event: EventSelector | None = Field(
        default=None, description="Event that counts as coming back; defaults to start_event."
    )
    retention_type: Literal["recurring", "first_time"] = Field(
        default="recurring",
        description=(
            "recurring: a cohort per period for everyone doing the start event in it; "
            "first_time: only the period of the person's first ever start event."
        ),
    )
    period: Interval = Field(default="day", description="Calendar period of cohorts/columns.")
    periods: int = Field(
        default=7, ge=1, le=366, description="Number of return columns after column 0."
    )
    mode: Literal["on", "within"] = Field(
        default="on",
        description=(
            "on: column k = returned in period c+k exactly; "
            "within: column k = returned in any period c+1 … c+k (cumulative)."
        ),
    )
    date_range: DateRange = Field(
        default_factory=DateRange,
        description="Cohort periods: every period touching the range (widened to whole periods).",
    )
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Applied to both start and return events."
    )
    breakdown: Breakdown | None = Field(
        default=None,
        description=(
            "Split cohorts by an event property of the person's first start event in the "
            "cohort period, or by a person property."
        ),
    )


class RetentionCohort(BaseModel):
    period_start: date
    breakdown_value: str | None = None
    size: int
    counts: list[int] = Field(description="counts[0] = size; counts[k] = returned (column k).")
    percentages: list[float] = Field(description="100 × counts[k] / size (0 for empty).")
    complete: list[bool] = Field(description="Whether column k's period has ended by today.")


class RetentionAverage(BaseModel):
    """Cohort-size-weighted average; column k uses only cohorts whose column k is complete."""

    breakdown_value: str | None = None
    sizes: list[int]
    counts: list[int]
    percentages: list[float | None]


class RetentionResult(BaseModel):
    retention_type: Literal["recurring", "first_time"]
    period: Interval
    periods: int
    mode: Literal["on", "within"]
    cohorts: list[RetentionCohort]
    average: RetentionAverage
    breakdown_averages: list[RetentionAverage] = Field(default_factory=list)


# ---- calendar periods (Python side, mirrors Dialect.period_of_date) ------------------------


def cohort_periods(ctx: ProjectContext, q: RetentionQuery) -> list[date]:
    d_from, d_to = q.date_range.resolve(ctx)
    first = period_floor(d_from, q.period, ctx.week_start)
    last = period_floor(d_to, q.period, ctx.week_start)
    out = [first]
    while out[-1] < last:
        out.append(period_add(out[-1], q.period, 1))
    return out


# ---- SQL -------------------------------------------------------------------------------------


def _breakdown_col(dialect: Dialect, q: RetentionQuery) -> str:
    if q.breakdown is None:
        return f"{dialect.str_lit('')} AS bd"
    b = q.breakdown
    expr = property_expr(dialect, b.property, alias="e" if b.type == "event" else "p", kind=b.type)
    return f"coalesce({expr}, {dialect.str_lit(NONE)}) AS bd"


def uses_masks(q: RetentionQuery, first: date, last: date) -> bool:
    """Whether the query's periods fit a person's 64-bit return mask (retention_masks)."""
    if q.period == "hour":
        return False
    span = period_offset(first, period_add(last, q.period, q.periods), q.period)
    return span < retention_masks.MASK_BITS


def cohorts_are_returns(q: RetentionQuery) -> bool:
    """Whether every cohort row is also a return row of its period, so the persons' return
    masks alone give the table (``retention_masks.person_masks_sql``): recurring cohorts
    of the return event itself (same event, same filters), without a breakdown."""
    ret = q.return_event or q.start_event
    return q.retention_type == "recurring" and q.breakdown is None and ret == q.start_event


def build_retention_sql(dialect: Dialect, ctx: ProjectContext, q: RetentionQuery) -> str:
    """Rows (part, cp, cbd, rp, n): part 0 = cohort sizes, part 1 = returns per period.

    In "within" mode part 1 counts each member once, at their first return period.
    Queries that ``uses_masks`` return (cp, cbd, size, k1 …) instead, or (mask, n) when
    also ``cohorts_are_returns``: ``result_rows`` turns either into the rows above.
    """
    periods = cohort_periods(ctx, q)
    first, last = periods[0], periods[-1]
    ret = q.return_event or q.start_event

    def period_of(col: str) -> str:
        return dialect.period_start(col, ctx.timezone, q.period, ctx.week_start)

    event_props = [q.breakdown.property] if q.breakdown and q.breakdown.type == "event" else []
    return_last = period_add(last, q.period, q.periods + 1) - timedelta(days=1)
    # A row per person-day where person_days can answer (see source.day_source_sql).
    starts = day_source_sql(
        dialect,
        ctx,
        date_from=None if q.retention_type == "first_time" else first,
        date_to=period_add(last, q.period, 1) - timedelta(days=1),
        event_names=[q.start_event.event],
        filters=[*q.start_event.filters, *q.filters],
        columns=[_breakdown_col(dialect, q)],
        event_properties=event_props,
        day_grained=q.period != "hour",
    )
    returns = day_source_sql(
        dialect,
        ctx,
        date_from=first,
        date_to=return_last,
        event_names=[ret.event],
        filters=[*ret.filters, *q.filters],
        day_grained=q.period != "hour",
    )
    if uses_masks(q, first, last) and cohorts_are_returns(q):
        return retention_masks.person_masks_sql(
            dialect, period=q.period, first=first, returns=returns, period_of=period_of
        )
    first_lit = dialect.date_lit(first)
    if q.retention_type == "first_time":
        cohort = (
            "SELECT pid, cp0 AS cp, cbd FROM (\n"
            f"    SELECT pid, min(cp) AS cp0, {dialect.arg_min('bd', 'ts')} AS cbd\n"
            "    FROM s GROUP BY pid\n"
            f"  ) f WHERE cp0 >= {first_lit}"
        )
    else:
        # Without a breakdown bd is one constant: no need to find each row's first event.
        cbd = dialect.arg_min("bd", "ts") if q.breakdown is not None else "min(bd)"
        cohort = f"SELECT pid, cp, {cbd} AS cbd FROM s WHERE cp >= {first_lit} GROUP BY pid, cp"
    head = (
        "WITH s AS (\n"
        f"  SELECT pid, ts, {period_of('ts')} AS cp, bd\n"
        f"  FROM ({starts}) x\n"
        "),\n"
        f"c AS (\n  {cohort}\n),\n"
    )
    if uses_masks(q, first, last):
        return head + masks_sql(
            dialect,
            period=q.period,
            periods=q.periods,
            mode=q.mode,
            first=first,
            returns=returns,
            period_of=period_of,
        )
    if q.period == "day":
        upper = dialect.add_days("c.cp", q.periods)
    elif q.period == "week":
        upper = dialect.add_days("c.cp", 7 * q.periods)
    else:
        upper = dialect.add_months("c.cp", q.periods)
    if q.mode == "on":
        returned = "SELECT 1 AS part, cp, cbd, rp, count(*) AS n FROM h GROUP BY cp, cbd, rp"
    else:
        returned = (
            "SELECT 1 AS part, cp, cbd, frp AS rp, count(*) AS n FROM (\n"
            "    SELECT pid, cp, cbd, min(rp) AS frp FROM h GROUP BY pid, cp, cbd\n"
            "  ) w GROUP BY cp, cbd, frp"
        )
    return (
        head + "r AS (\n"
        f"  SELECT DISTINCT pid, {period_of('ts')} AS rp\n"
        f"  FROM ({returns}) y\n"
        "),\n"
        "h AS (\n"
        "  SELECT c.pid AS pid, c.cp AS cp, c.cbd AS cbd, r.rp AS rp\n"
        "  FROM c INNER JOIN r ON r.pid = c.pid\n"
        f"  WHERE r.rp > c.cp AND r.rp <= {upper}\n"
        ")\n"
        "SELECT part, cp, cbd, rp, n FROM (\n"
        "  SELECT 0 AS part, cp, cbd, cp AS rp, count(*) AS n FROM c GROUP BY cp, cbd\n"
        "  UNION ALL\n"
        f"  {returned}\n"
        ") u ORDER BY part, cp, cbd, rp"
    )


# ---- assembling the result -------------------------------------------------------------------


def _top_values(sizes: dict[str, int], limit: int) -> set[str]:
    ranked = sorted(sizes, key=lambda v: (-sizes[v], v))
    return set(ranked[:limit])


def _average(cohorts: list[RetentionCohort], n_cols: int, value: str | None) -> RetentionAverage:
    sizes = [0] * n_cols
    counts = [0] * n_cols
    for c in cohorts:
        for k in range(n_cols):
            if k == 0 or c.complete[k]:
                sizes[k] += c.size
                counts[k] += c.counts[k]
    pct = [100.0 * counts[k] / sizes[k] if sizes[k] else None for k in range(n_cols)]
    return RetentionAverage(breakdown_value=value, sizes=sizes, counts=counts, percentages=pct)


def assemble_retention(
    ctx: ProjectContext, q: RetentionQuery, data: list[dict[str, Any]], today: date
) -> RetentionResult:
    """Zero-fill every cohort period, cumulate "within" counts, weight the averages."""
    periods = cohort_periods(ctx, q)
    n_cols = q.periods + 1
    raw: dict[tuple[str, date], list[int]] = {}
    for row in data:
        value = str(row["cbd"]) if q.breakdown is not None else ""
        cp = row["cp"]
        k = 0 if int(row["part"]) == 0 else period_offset(cp, row["rp"], q.period)
        if not 0 <= k < n_cols:
            continue
        raw.setdefault((value, cp), [0] * n_cols)[k] += int(row["n"])
    if q.breakdown is not None:
        totals: dict[str, int] = {}
        for (value, _), cols in raw.items():
            totals[value] = totals.get(value, 0) + cols[0]
        keep = _top_values(totals, q.breakdown.limit)
        merged: dict[tuple[str, date], list[int]] = {}
        for (value, cp), cols in raw.items():
            key = (value if value in keep else OTHER, cp)
            acc = merged.setdefault(key, [0] * n_cols)
            for k in range(n_cols):
                acc[k] += cols[k]
        raw = merged
        totals = {}
        for (value, _), cols in raw.items():
            totals[value] = totals.get(value, 0) + cols[0]
        values: list[str | None] = sorted(totals, key=lambda v: (-totals[v], v))
    else:
        values = [None]
    cohorts: list[RetentionCohort] = []
    for value in values:
        for cp in periods:
            cols = list(raw.get((value or "", cp), [0] * n_cols))
            if q.mode == "within":
                for k in range(2, n_cols):
                    cols[k] += cols[k - 1]
            size = cols[0]
            complete = [period_add(cp, q.period, k + 1) <= today for k in range(n_cols)]
            cohorts.append(
                RetentionCohort(
                    period_start=cp,
                    breakdown_value=value,
                    size=size,
                    counts=cols,
                    percentages=[100.0 * n / size if size else 0.0 for n in cols],
                    complete=complete,
                )
            )
    by_value = [
        _average([c for c in cohorts if c.breakdown_value == v], n_cols, v)
        for v in values
        if v is not None
    ]
    return RetentionResult(
        retention_type=q.retention_type,
        period=q.period,
        periods=q.periods,
        mode=q.mode,
        cohorts=cohorts,
        average=_average(cohorts, n_cols, None),
        breakdown_averages=by_value,
    )


def result_rows(ctx: ProjectContext, q: RetentionQuery, table: pa.Table) -> list[dict[str, Any]]:
    """``build_retention_sql``'s result in the (part, cp, cbd, rp, n) shape, whichever
    of its three shapes it has."""
    if "mask" in table.column_names:
        cohorts = cohort_periods(ctx, q)
        counts = retention_masks.person_mask_counts(
            table.column("mask").to_numpy(),
            table.column("n").to_numpy(),
            len(cohorts),
            q.periods,
            q.mode,
        )
        data = retention_masks.person_mask_table(counts, cohorts)
    else:
        data = rows(table)
    if data and "size" in data[0]:
        return retention_masks.long_rows(data, q.period, q.periods)
    return data


def run_retention(
    store: EventStore, ctx: ProjectContext, q: RetentionQuery, *, today: date | None = None
) -> RetentionResult:
    """Run on ``store``; ``today`` (local date, default now) decides which columns are complete."""
    if q.period != "hour":
        ctx = with_rollup(store, ctx)
    data = result_rows(ctx, q, store.query(build_retention_sql(store.dialect, ctx, q)))
    return assemble_retention(ctx, q, data, today or ctx.today())


# ---- D-N retention of new persons ------------------------------------------------------------


def _selector(value: str | EventSelector | None) -> EventSelector | None:
    return EventSelector(event=value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class DnCell:
    """One D-N rate: persons first seen on local days ``date_from`` … ``date_to``, day ``days``.

    ``date_to`` is already cut to the persons whose day N is over (see ``dn_cells``); the cell
    is empty (nobody eligible) when that leaves no day.
    """

    key: str
    days: int
    date_from: date
    date_to: date

    @property
    def name(self) -> str:
        return f"{self.key}_{self.days}"

    @property
    def empty(self) -> bool:
        return self.date_to < self.date_from


def dn_cells(
    ranges: Mapping[str, tuple[date, date]], days: Sequence[int], today: date
) -> list[DnCell]:
    """A cell per range and N; only persons whose day N has fully passed are eligible,
    because an unfinished day is no answer."""
    for n in days:
        if n < 0:
            raise ValueError("days must be >= 0")
    return [
        DnCell(key, n, lo, min(hi, today - timedelta(days=n + 1)))
        for key, (lo, hi) in ranges.items()
        for n in dict.fromkeys(days)
    ]


def with_dn_retention(
    dialect: Dialect, *, persons: str, returns: str, cells: Sequence[DnCell]
) -> str:
    """SELECT every column of ``persons`` plus 0/1 columns ``e_<cell>`` (eligible) and
    ``r_<cell>`` (retained) per cell: the one definition of D-N retention of new persons.

    ``persons`` is a subquery with one row per person: ``pid`` and ``fday``, the local day of
    the person's first start event. ``returns`` names a relation with one row per person and
    local day of a return event (``pid``, ``day``). A person is eligible for a cell when
    ``fday`` is in its days, and retained when also back on ``fday + N``.
    """
    ns = sorted({c.days for c in cells})
    day_cols = "".join(f", {dialect.add_days('x.fday', n)} AS dn_{n}" for n in ns)
    joins = "".join(
        f" LEFT JOIN {returns} r{n} ON r{n}.pid = pe.pid AND r{n}.day = pe.dn_{n}" for n in ns
    )
    cols = []
    for c in cells:
        if c.empty:
            cols += [f"0 AS e_{c.name}", f"0 AS r_{c.name}"]
            continue
        inside = (
            f"pe.fday >= {dialect.date_lit(c.date_from)} "
            f"AND pe.fday <= {dialect.date_lit(c.date_to)}"
        )
        cols += [
            f"CASE WHEN {inside} THEN 1 ELSE 0 END AS e_{c.name}",
            f"CASE WHEN {inside} AND r{c.days}.pid IS NOT NULL THEN 1 ELSE 0 END AS r_{c.name}",
        ]
    return (
        f"SELECT pe.*, {', '.join(cols)} FROM (SELECT x.*{day_cols} FROM ({persons}) x) pe{joins}"
    )


def build_retention_rates_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    start_event: EventSelector | None,
    return_event: EventSelector | None,
    cells: Sequence[DnCell],
) -> str:
    """One row with columns ``eligible_<cell>`` and ``retained_<cell>`` per cell."""
    live = [c for c in cells if not c.empty]
    if not live:
        return "SELECT " + ", ".join(
            f"0 AS eligible_{c.name}, 0 AS retained_{c.name}" for c in cells
        )
    first_day = min(c.date_from for c in live)
    start_utc = ctx.day_start_utc(first_day)
    _, end_utc = ctx.day_range_utc(first_day, max(c.date_to for c in live))
    firsts = events_sql(
        dialect,
        ctx,
        end=end_utc,
        event_names=None if start_event is None else [start_event.event],
        filters=start_event.filters if start_event else (),
    )
    r_start, r_end = ctx.day_range_utc(
        first_day + timedelta(days=min(c.days for c in live)),
        max(c.date_to + timedelta(days=c.days) for c in live),
    )
    returns = events_sql(
        dialect,
        ctx,
        start=r_start,
        end=r_end,
        event_names=None if return_event is None else [return_event.event],
        filters=return_event.filters if return_event else (),
    )
    tz = ctx.timezone
    persons = (
        f"SELECT pid, {dialect.local_date('fts', tz)} AS fday FROM f "
        f"WHERE fts >= {dialect.ts_lit(start_utc)}"
    )
    per_person = with_dn_retention(dialect, persons=persons, returns="r", cells=cells)
    sums = ", ".join(
        f"sum(e_{c.name}) AS eligible_{c.name}, sum(r_{c.name}) AS retained_{c.name}" for c in cells
    )
    return (
        f"WITH f AS (SELECT pid, min(ts) AS fts FROM ({firsts}) x GROUP BY pid), "
        f"r AS (SELECT DISTINCT pid, {dialect.local_date('ts', tz)} AS day FROM ({returns}) y) "
        f"SELECT {sums} FROM ({per_person}) z"
    )


def retention_rates(
    store: EventStore,
    ctx: ProjectContext,
    *,
    start_event: str | EventSelector | None,
    days: Sequence[int],
    date_range: DateRange,
    return_event: str | EventSelector | None = None,
    today: date | None = None,
) -> dict[int, tuple[int, int]]:
    """(eligible, retained) for each N in ``days``, in one query (see ``retention_rate``)."""
    d_from, d_to = date_range.resolve(ctx)
    cells = dn_cells({"x": (d_from, d_to)}, days, today or ctx.today())
    sql = build_retention_rates_sql(
        store.dialect,
        ctx,
        start_event=_selector(start_event),
        return_event=_selector(return_event),
        cells=cells,
    )
    row = rows(store.query(sql))[0]
    return {
        c.days: (int(row[f"eligible_{c.name}"] or 0), int(row[f"retained_{c.name}"] or 0))
        for c in cells
    }


def retention_counts(
    store: EventStore,
    ctx: ProjectContext,
    *,
    start_event: str | EventSelector | None,
    days: int,
    date_range: DateRange,
    return_event: str | EventSelector | None = None,
    today: date | None = None,
) -> tuple[int, int]:
    """(eligible, retained) behind ``retention_rate``."""
    return retention_rates(
        store,
        ctx,
        start_event=start_event,
        days=[days],
        date_range=date_range,
        return_event=return_event,
        today=today,
    )[days]


def retention_rate(
    store: EventStore,
    ctx: ProjectContext,
    *,
    start_event: str | EventSelector | None,
    days: int,
    date_range: DateRange,
    return_event: str | EventSelector | None = None,
    today: date | None = None,
) -> float | None:
    """D-N retention: share of persons whose first ever start event falls in the range who
    did the return event (any event when None) on local day N after that first day.

    ``start_event=None`` means "any event" (new persons). Persons whose day N has not ended
    by ``today`` are left out; None when nobody is eligible.
    """
    eligible, retained = retention_counts(
        store,
        ctx,
        start_event=start_event,
        days=days,
        date_range=date_range,
        return_event=return_event,
        today=today,
    )
    return retained / eligible if eligible else None
