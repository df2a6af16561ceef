"""Channel metrics (渠道运营): per acquisition channel, how many new persons it brought, how
well they activate, stay and pay, and — with imported costs — what they cost (CAC) and
return (ROI).

The cohort is the persons whose first ever event (after identity merge) falls in the
range, each attributed to one channel by first touch (default) or last touch
(``analytics.attribution``). Per person: activation = the activation event within
``activation_days`` × 24 h of the first event (as AARRR); D-N retention = any event on
local day ``first day + N``, only for persons whose day N is over (as
``analytics.retention``); paying = any event with revenue > 0 and revenue = the sum of the
revenue property (refunds negative), on the person's first ``revenue_days`` local days or,
by default, up to today. Costs are summed per channel over the range's days.

One query reads the events once: reduced to one row per person and local day (before the
range, to one row per person: they only decide who is new), then to one row per new
person, then grouped by channel and first day — so the time series of new persons comes
from the same rows as the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yunying.analytics.attribution import (
    DIRECT,
    AttributionRules,
    conversion_event_for,
    rules_for,
    touch_channel_sql,
)
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.periods import period_of, period_starts
from yunying.analytics.retention import DnCell, dn_cells, with_dn_retention
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect

Model = Literal["first_touch", "last_touch"]
RETENTION_DAYS = (1, 7, 30)
TOTAL = "$total"


class ChannelQuery(BaseModel):
    """Channel metrics for the persons first seen in a date range."""

    model: Model = Field(default="first_touch", description="Attribution: first or last touch.")
    date_range: DateRange = Field(
        default_factory=DateRange, description="Local days in which persons were first seen."
    )
    activation_event: str | None = Field(
        default=None, max_length=400, description="Defaults to the project's activation event."
    )
    activation_days: int = Field(default=7, ge=1, le=365)
    conversion_event: str | None = Field(
        default=None,
        max_length=400,
        description=(
            "Last touch only: touches up to the person's first such event count; defaults to "
            "the project's signup, else activation event. Without one (or before it "
            "happens), touches up to the end of the range count."
        ),
    )
    revenue_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Revenue and paying on the person's first N local days; None: to date.",
    )
    interval: Literal["day", "week", "month"] = Field(
        default="day", description="Periods of the new-persons series."
    )


class ChannelMetrics(BaseModel):
    """One channel (or the total); rates are fractions, None when undefined."""

    channel: str
    new_persons: int
    activated_persons: int | None
    activation_rate: float | None
    retention_d1: float | None
    retention_d7: float | None
    retention_d30: float | None
    paying_persons: int
    paying_rate: float | None = Field(description="paying_persons / new_persons.")
    revenue: float
    arpu: float | None = Field(description="revenue / new_persons.")
    cost: float | None = Field(description="Imported cost over the range; None if none.")
    cac: float | None = Field(description="cost / new_persons.")
    roi: float | None = Field(description="(revenue - cost) / cost.")


class ChannelSeries(BaseModel):
    channel: str
    values: list[int] = Field(description="New persons per period (see ``periods``).")


class ChannelReport(BaseModel):
    model: Model
    date_from: date
    date_to: date
    activation_event: str | None
    activation_days: int
    conversion_event: str | None = Field(description="Last touch: the conversion used.")
    revenue_days: int | None
    channels: list[ChannelMetrics] = Field(description="Most new persons first.")
    total: ChannelMetrics = Field(description="All new persons; cost = all imported cost.")
    has_costs: bool = Field(description="Whether any cost was imported for the range.")
    interval: Literal["day", "week", "month"]
    periods: list[date]
    series: list[ChannelSeries] = Field(description="New persons by channel and period.")


class PersonChannel(BaseModel):
    person_id: str
    first_day: date
    channel: str


# ---- SQL ---------------------------------------------------------------------------------


def build_channel_sql(
    d: Dialect,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date,
    model: Model,
    activation_event: str | None,
    activation_days: int,
    conversion_event: str | None,
    revenue_days: int | None,
    cells: Sequence[DnCell],
    rules: AttributionRules,
    per_person: bool = False,
) -> str:
    """Rows per (channel_name, fday): ``n``, ``act``, ``paid``, ``rev``, ``eligible_<cell>``,
    ``retained_<cell>``; with ``per_person`` one row per new person (pid, fday,
    channel_name) instead.

    Aliases differ from the columns they are computed from (ClickHouse resolves a name to
    a SELECT alias first, which would nest aggregates).
    """
    lit = d.str_lit
    floor_utc, end_utc = ctx.day_range_utc(date_from, date_to)
    scan_end = max(end_utc, ctx.day_start_utc(today + timedelta(days=1)))
    day = (
        f"CASE WHEN e.ts >= {d.ts_lit(floor_utc)} THEN {d.local_date('e.ts', ctx.timezone)} "
        f"ELSE {d.date_lit(date_from - timedelta(days=1))} END"
    )
    rev = property_expr(d, ctx.revenue_property, alias="e", numeric=True)
    src = events_sql(
        d,
        ctx,
        end=scan_end,
        columns=[f"{day} AS day", f"{touch_channel_sql(d, rules)} AS tch", f"{rev} AS rv"],
    )
    ctes = []
    key = "(ts, uuid)"
    act = f"CASE WHEN event = {lit(activation_event)} THEN ts END" if activation_event else "NULL"
    cols = [
        "pid",
        "day",
        "min(ts) AS dfts",
        f"{d.arg_min(f'coalesce(tch, {lit(DIRECT)})', key)} AS dfch",
        f"min({act}) AS dact",
        "sum(coalesce(rv, 0)) AS drev",
        "max(CASE WHEN rv > 0 THEN 1 ELSE 0 END) AS dpaid",
    ]
    if model == "last_touch":
        if conversion_event:
            conv = events_sql(d, ctx, end=scan_end, event_names=[conversion_event])
            ctes.append(f"conv AS (SELECT pid, min(ts) AS cts FROM ({conv}) c GROUP BY pid)")
            src = (
                f"SELECT x.*, coalesce(cv.cts, {d.ts_lit(end_utc)}) AS cut FROM ({src}) x "
                "LEFT JOIN conv cv ON cv.pid = x.pid"
            )
            cut = "cut"
        else:
            cut = d.ts_lit(end_utc)
        cols.append(f"{d.arg_max(f'CASE WHEN ts <= {cut} THEN tch END', key)} AS dlch")
    per_day = f"SELECT {', '.join(cols)} FROM ({src}) x GROUP BY pid, day"
    ctes.append(d.cte_materialized("pd", per_day))
    if model == "last_touch":
        channel = f"coalesce({d.arg_max('dlch', 'day')}, {lit(DIRECT)})"
    else:
        channel = d.arg_min("dfch", "day")
    if revenue_days is not None:
        days_in = f"day < {d.add_days('pf', revenue_days)}"
        base = "(SELECT pd.*, min(day) OVER (PARTITION BY pid) AS pf FROM pd) w"
    else:
        days_in, base = "TRUE", "pd"
    window = activation_days * 86400
    start_utc = d.ts_lit(floor_utc)
    person = (
        f"SELECT pid, min(dfts) AS fts, min(day) AS fday, {channel} AS channel_name, "
        f"min(dact) AS act, sum(CASE WHEN {days_in} THEN drev ELSE 0 END) AS prev, "
        f"max(CASE WHEN {days_in} AND dpaid = 1 THEN 1 ELSE 0 END) AS ppaid "
        f"FROM {base} GROUP BY pid "
        f"HAVING min(dfts) >= {start_utc} AND min(dfts) < {d.ts_lit(end_utc)}"
    )
    with_cte = f"WITH {', '.join(ctes)} "
    if per_person:
        return (
            f"{with_cte}SELECT pid, fday, channel_name FROM ({person}) z "
            "ORDER BY channel_name, fday, pid"
        )
    persons = with_dn_retention(d, persons=person, returns="pd", cells=cells)
    activated = f"act IS NOT NULL AND act < {d.add_seconds('fts', window)}"
    sums = [
        "count(*) AS n",
        f"sum(CASE WHEN {activated} THEN 1 ELSE 0 END) AS nact",
        "sum(ppaid) AS npaid",
        "sum(prev) AS nrev",
    ]
    sums += [f"sum(e_{c.name}) AS eligible_{c.name}" for c in cells]
    sums += [f"sum(r_{c.name}) AS retained_{c.name}" for c in cells]
    return (
        f"{with_cte}SELECT channel_name, fday, {', '.join(sums)} "
        f"FROM ({persons}) z GROUP BY channel_name, fday"
    )


# ---- assembling -----------------------------------------------------------------------------


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def metrics(
    channel: str,
    data: Sequence[Mapping[str, Any]],
    *,
    cells: Sequence[DnCell],
    activation: bool,
    cost: float | None,
) -> ChannelMetrics:
    """One channel's figures from its (channel, day) rows; pure arithmetic."""

    def total(col: str) -> int:
        return sum(int(r[col] or 0) for r in data)

    new = total("n")
    activated = total("nact") if activation else None
    paying = total("npaid")
    revenue = float(sum(float(r["nrev"] or 0.0) for r in data))
    ret = {c.days: _div(total(f"retained_{c.name}"), total(f"eligible_{c.name}")) for c in cells}
    return ChannelMetrics(
        channel=channel,
        new_persons=new,
        activated_persons=activated,
        activation_rate=_div(activated, new) if activated is not None else None,
        retention_d1=ret.get(1),
        retention_d7=ret.get(7),
        retention_d30=ret.get(30),
        paying_persons=paying,
        paying_rate=_div(paying, new),
        revenue=revenue,
        arpu=_div(revenue, new),
        cost=cost,
        cac=_div(cost, new),
        roi=(revenue - cost) / cost if cost else None,
    )


def cost_by_channel(
    costs: Mapping[tuple[date, str], float], date_from: date, date_to: date
) -> dict[str, float]:
    """Imported costs summed per channel over the range's days."""
    out: dict[str, float] = {}
    for (day, channel), amount in costs.items():
        if date_from <= day <= date_to:
            out[channel] = out.get(channel, 0.0) + float(amount)
    return out


def assemble(
    data: Sequence[Mapping[str, Any]],
    *,
    q: ChannelQuery,
    ctx: ProjectContext,
    date_from: date,
    date_to: date,
    cells: Sequence[DnCell],
    activation_event: str | None,
    conversion_event: str | None,
    costs: Mapping[tuple[date, str], float],
) -> ChannelReport:
    spend = cost_by_channel(costs, date_from, date_to)
    by_channel: dict[str, list[Mapping[str, Any]]] = {}
    for r in data:
        by_channel.setdefault(str(r["channel_name"]), []).append(r)
    for channel in spend:
        by_channel.setdefault(channel, [])
    activation = activation_event is not None
    channels = [
        metrics(ch, rs, cells=cells, activation=activation, cost=spend.get(ch))
        for ch, rs in by_channel.items()
    ]
    channels.sort(key=lambda m: (-m.new_persons, -(m.cost or 0.0), m.channel))
    total = metrics(
        TOTAL,
        data,
        cells=cells,
        activation=activation,
        cost=sum(spend.values()) if spend else None,
    )
    periods = [p for p in period_starts(date_from, date_to, q.interval, ctx.week_start)]
    index = {p: i for i, p in enumerate(periods)}
    series = []
    for m in channels:
        values = [0] * len(periods)
        for r in by_channel[m.channel]:
            p = period_of(r["fday"], q.interval, ctx.week_start)
            values[index[p]] += int(r["n"] or 0)
        series.append(ChannelSeries(channel=m.channel, values=values))
    return ChannelReport(
        model=q.model,
        date_from=date_from,
        date_to=date_to,
        activation_event=activation_event,
        activation_days=q.activation_days,
        conversion_event=conversion_event,
        revenue_days=q.revenue_days,
        channels=channels,
        total=total,
        has_costs=bool(spend),
        interval=q.interval,
        periods=periods,  # type: ignore[arg-type]
        series=series,
    )


def pinned(q: ChannelQuery, ctx: ProjectContext, today: date) -> ChannelQuery:
    """The query with its dates fixed (missing ends: the 30 days up to ``today``)."""
    d_to = q.date_range.date_to or today
    d_from = q.date_range.date_from or d_to - timedelta(days=29)
    if d_from > d_to:
        raise ValueError("date_from must not be after date_to")
    return q.model_copy(update={"date_range": DateRange(date_from=d_from, date_to=d_to)})


def _settings(ctx: ProjectContext, q: ChannelQuery) -> tuple[str | None, str | None]:
    activation = q.activation_event or ctx.activation_event
    conversion = conversion_event_for(ctx, q.conversion_event) if q.model == "last_touch" else None
    return activation, conversion


def run_channels(
    store: EventStore,
    ctx: ProjectContext,
    q: ChannelQuery,
    *,
    costs: Mapping[tuple[date, str], float] | None = None,
    today: date | None = None,
    rules: AttributionRules | None = None,
) -> ChannelReport:
    """The channel report; ``costs`` maps (local day, channel) to the cost of that day."""
    plan = _plan(store, ctx, q, today, rules, per_person=False)
    return assemble(
        rows(store.query(plan.sql)),
        q=plan.q,
        ctx=ctx,
        date_from=plan.date_from,
        date_to=plan.date_to,
        cells=plan.cells,
        activation_event=plan.activation,
        conversion_event=plan.conversion,
        costs=costs or {},
    )


@dataclass(frozen=True)
class _Plan:
    """The pinned query and the SQL the report and its person list share."""

    q: ChannelQuery
    date_from: date
    date_to: date
    activation: str | None
    conversion: str | None
    cells: list[DnCell]
    sql: str


def _plan(
    store: EventStore,
    ctx: ProjectContext,
    q: ChannelQuery,
    today: date | None,
    rules: AttributionRules | None,
    *,
    per_person: bool,
) -> _Plan:
    today = today or ctx.today()
    q = pinned(q, ctx, today)
    d_from, d_to = q.date_range.resolve(ctx)
    activation, conversion = _settings(ctx, q)
    cells = [] if per_person else dn_cells({"c": (d_from, d_to)}, RETENTION_DAYS, today)
    sql = build_channel_sql(
        store.dialect,
        ctx,
        date_from=d_from,
        date_to=d_to,
        today=today,
        model=q.model,
        activation_event=activation,
        activation_days=q.activation_days,
        conversion_event=conversion,
        revenue_days=q.revenue_days,
        cells=cells,
        rules=rules or rules_for(ctx),
        per_person=per_person,
    )
    return _Plan(q, d_from, d_to, activation, conversion, list(cells), sql)


def new_person_channels(
    store: EventStore,
    ctx: ProjectContext,
    q: ChannelQuery,
    *,
    channel: str | None = None,
    limit: int | None = None,
    today: date | None = None,
    rules: AttributionRules | None = None,
) -> list[PersonChannel]:
    """The new persons of the range with their channel (optionally of one channel only),
    exactly as the report counts them."""
    sql = _plan(store, ctx, q, today, rules, per_person=True).sql
    if channel is not None:
        sql = f"SELECT * FROM ({sql}) s WHERE channel_name = {store.dialect.str_lit(channel)}"
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) s ORDER BY channel_name, fday, pid LIMIT {int(limit)}"
    return [
        PersonChannel(person_id=str(r["pid"]), first_day=r["fday"], channel=str(r["channel_name"]))
        for r in rows(store.query(sql))
    ]


def channel_report(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    query: ChannelQuery,
    today: date | None = None,
) -> ChannelReport:
    """The report with the project's imported costs (what the API, CLI and console call)."""
    from yunying.people.channel_costs import cost_map

    today = today or ctx.today()
    q = pinned(query, ctx, today)
    d_from, d_to = q.date_range.resolve(ctx)
    costs = cost_map(session, ctx.project_id, d_from, d_to)
    return run_channels(store, ctx, q, costs=costs, today=today)
