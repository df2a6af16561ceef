"""AARRR (pirate metrics): one dashboard row per funnel stage, with the previous period.

New persons are those whose first ever event (over all history, after identity merge)
falls in the range; their first-touch channel, activation and D-N retention follow from
that first event. Revenue and referral count everything in the range.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.retention import retention_rate
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect

DIRECT = "direct"
RETENTION_DAYS = (1, 7, 30)


class AarrrQuery(BaseModel):
    """Acquisition, activation, retention, revenue and referral for one date range."""

    kind: Literal["aarrr"] = "aarrr"
    date_range: DateRange = Field(
        default_factory=DateRange, description="Compared with the equally long period before."
    )
    activation_event: str | None = Field(
        default=None,
        max_length=400,
        description="Event that marks an activated person; defaults to the project's.",
    )
    activation_days: int = Field(
        default=7, ge=1, le=365, description="Activation counts within this many days."
    )


class ChannelCount(BaseModel):
    channel: str
    persons: int


class AarrrPeriod(BaseModel):
    """Every figure for one period; rates are fractions (0.25 = 25%), None when undefined."""

    date_from: date
    date_to: date
    new_persons: int = Field(description="Persons whose first ever event is in the range.")
    new_by_channel: list[ChannelCount] = Field(description="New persons by first-touch channel.")
    activated_persons: int | None = Field(description="New persons who activated in the window.")
    activation_rate: float | None
    retention_d1: float | None
    retention_d7: float | None
    retention_d30: float | None
    active_persons: int = Field(description="Persons with any event in the range.")
    paying_persons: int = Field(description="Persons with an event with revenue > 0.")
    revenue: float = Field(description="Sum of revenue over events in the range (refunds < 0).")
    arpu: float | None = Field(description="revenue / active_persons.")
    arppu: float | None = Field(description="revenue / paying_persons.")
    invites_sent: int
    inviters: int = Field(description="Persons who sent at least one invite.")
    invites_accepted: int
    k_factor: float | None = Field(
        description="(invites_sent / inviters) × (invites_accepted / invites_sent)."
    )


# Figures compared with the previous period (relative change).
COMPARED = (
    "new_persons", "activated_persons", "activation_rate", "retention_d1", "retention_d7",
    "retention_d30", "active_persons", "paying_persons", "revenue", "arpu", "arppu",
    "invites_sent", "inviters", "invites_accepted", "k_factor",
)  # fmt: skip


class AarrrResult(BaseModel):
    activation_event: str | None
    activation_days: int
    current: AarrrPeriod
    previous: AarrrPeriod
    change: dict[str, float | None] = Field(
        description="(current - previous) / previous per figure; None when previous is 0/None."
    )


def channel_expr(dialect: Dialect) -> str:
    """First-touch channel of an event row ``e``: channel, utm_source, referrer host, direct."""
    return (
        f"coalesce(nullif(e.channel, ''), nullif(e.utm_source, ''), "
        f"{dialect.url_host('e.referrer')}, {dialect.str_lit(DIRECT)})"
    )


def build_acquisition_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    activation_event: str | None,
    activation_days: int,
) -> str:
    """Rows (channel_name, persons, activated) for persons first seen in the range."""
    start, end = ctx.day_range_utc(date_from, date_to)
    firsts = events_sql(dialect, ctx, end=end, columns=[f"{channel_expr(dialect)} AS ch"])
    sql = (
        f"WITH f AS (SELECT pid, min(ts) AS fts, {dialect.arg_min('ch', 'ts')} AS fch "
        f"FROM ({firsts}) x GROUP BY pid), "
        f"n AS (SELECT pid, fts, fch FROM f WHERE fts >= {dialect.ts_lit(start)})"
    )
    if activation_event is None:
        return (
            sql
            + " SELECT fch AS channel_name, count(*) AS persons, 0 AS activated FROM n "
            + ("GROUP BY fch")
        )
    window = activation_days * 86400
    acts = events_sql(
        dialect,
        ctx,
        start=start,
        end=end + timedelta(days=activation_days),
        event_names=[activation_event],
    )
    return sql + (
        ", act AS (SELECT DISTINCT n.pid AS apid FROM n "
        f"INNER JOIN ({acts}) y ON y.pid = n.pid "
        f"WHERE y.ts >= n.fts AND y.ts < {dialect.add_seconds('n.fts', window)}) "
        "SELECT fch AS channel_name, count(*) AS persons, "
        "sum(CASE WHEN act.apid IS NULL THEN 0 ELSE 1 END) AS activated "
        "FROM n LEFT JOIN act ON act.apid = n.pid GROUP BY fch"
    )


def build_engagement_sql(
    dialect: Dialect, ctx: ProjectContext, *, date_from: date, date_to: date
) -> str:
    """One row: active, paying, revenue_total, sent, inviters, accepted in the range."""
    start, end = ctx.day_range_utc(date_from, date_to)
    rev = property_expr(dialect, ctx.revenue_property, alias="e", numeric=True)
    base = events_sql(dialect, ctx, start=start, end=end, columns=[f"{rev} AS rev"])
    sent = dialect.str_lit(ctx.invite_sent_event)
    accepted = dialect.str_lit(ctx.invite_accepted_event)
    cd = dialect.count_distinct
    return (
        f"SELECT {cd('pid')} AS active, "
        f"{cd('CASE WHEN rev > 0 THEN pid END')} AS paying, "
        "sum(coalesce(rev, 0)) AS revenue_total, "
        f"sum(CASE WHEN event = {sent} THEN 1 ELSE 0 END) AS sent, "
        f"{cd(f'CASE WHEN event = {sent} THEN pid END')} AS inviters, "
        f"sum(CASE WHEN event = {accepted} THEN 1 ELSE 0 END) AS accepted "
        f"FROM ({base}) x"
    )


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _num(v: Any) -> int:
    return int(v or 0)


def aarrr_period(
    store: EventStore,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    activation_event: str | None,
    activation_days: int,
    today: date | None = None,
) -> AarrrPeriod:
    """All AARRR figures for local days ``date_from`` … ``date_to``."""
    d = store.dialect
    acq = rows(
        store.query(
            build_acquisition_sql(
                d,
                ctx,
                date_from=date_from,
                date_to=date_to,
                activation_event=activation_event,
                activation_days=activation_days,
            )
        )
    )
    by_channel = sorted(
        (ChannelCount(channel=str(r["channel_name"]), persons=_num(r["persons"])) for r in acq),
        key=lambda c: (-c.persons, c.channel),
    )
    new = sum(c.persons for c in by_channel)
    activated = sum(_num(r["activated"]) for r in acq) if activation_event else None
    eng = rows(store.query(build_engagement_sql(d, ctx, date_from=date_from, date_to=date_to)))[0]
    revenue = float(eng["revenue_total"] or 0.0)
    active, paying = _num(eng["active"]), _num(eng["paying"])
    sent, inviters, accepted = _num(eng["sent"]), _num(eng["inviters"]), _num(eng["accepted"])
    rng = DateRange(date_from=date_from, date_to=date_to)
    ret = {
        n: retention_rate(store, ctx, start_event=None, days=n, date_range=rng, today=today)
        for n in RETENTION_DAYS
    }
    k = None
    if inviters and sent:
        k = (sent / inviters) * (accepted / sent)
    return AarrrPeriod(
        date_from=date_from,
        date_to=date_to,
        new_persons=new,
        new_by_channel=by_channel,
        activated_persons=activated,
        activation_rate=_div(activated, new) if activated is not None else None,
        retention_d1=ret[1],
        retention_d7=ret[7],
        retention_d30=ret[30],
        active_persons=active,
        paying_persons=paying,
        revenue=revenue,
        arpu=_div(revenue, active),
        arppu=_div(revenue, paying),
        invites_sent=sent,
        inviters=inviters,
        invites_accepted=accepted,
        k_factor=k,
    )


def run_aarrr(
    store: EventStore, ctx: ProjectContext, q: AarrrQuery, *, today: date | None = None
) -> AarrrResult:
    """Figures for the range and for the equally long period just before it."""
    d_from, d_to = q.date_range.resolve(ctx)
    length = (d_to - d_from).days + 1
    p_from, p_to = d_from - timedelta(days=length), d_from - timedelta(days=1)
    activation = q.activation_event or ctx.activation_event

    def period(start: date, end: date) -> AarrrPeriod:
        return aarrr_period(
            store,
            ctx,
            date_from=start,
            date_to=end,
            activation_event=activation,
            activation_days=q.activation_days,
            today=today,
        )

    current, previous = period(d_from, d_to), period(p_from, p_to)
    change: dict[str, float | None] = {}
    for name in COMPARED:
        cur, prev = getattr(current, name), getattr(previous, name)
        change[name] = (cur - prev) / prev if cur is not None and prev else None
    return AarrrResult(
        activation_event=activation,
        activation_days=q.activation_days,
        current=current,
        previous=previous,
        change=change,
    )
