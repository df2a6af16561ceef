"""AARRR (pirate metrics): one dashboard row per funnel stage, with the previous period.

New persons are those whose first ever event (over all history, after identity merge)
falls in the range; their first-touch channel, activation and D-N retention follow from
that first event. Revenue and referral count everything in the range.

Both periods come from ONE query that reads the events once: events are reduced to one
row per person and local day (before the previous period, to one row per person), then
to one row per person, and one GROUP BY first-touch channel sums every figure. A query
per figure and period (eleven in all) rescanned the whole history for first events and
took seconds on the demo data, which is why the console once had its own copy of these
definitions; now it calls ``run_aarrr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from yunying.analytics.attribution import (
    DEFAULT_RULES,
    AttributionRules,
    channel_sql,
    rules_for,
)
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.retention import DnCell, dn_cells, with_dn_retention
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect

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


def channel_expr(dialect: Dialect, rules: AttributionRules = DEFAULT_RULES) -> str:
    """Channel of an event row ``e`` (channel, utm_source, referrer host, direct): the one
    definition in ``analytics.attribution``, so acquisition here and the channel report agree."""
    return channel_sql(dialect, rules)


# Local days after the range that matter: D30 returns (activation may ask for more).
_LOOKAHEAD_DAYS = max(RETENTION_DAYS)


def _period_cols(dialect: Dialect, tag: str, lo: date, hi: date) -> list[str]:
    """Per-person engagement in one period, from the person's day rows."""
    inside = f"day >= {dialect.date_lit(lo)} AND day <= {dialect.date_lit(hi)}"
    return [
        f"max(CASE WHEN {inside} THEN 1 ELSE 0 END) AS p{tag}_active",
        f"max(CASE WHEN {inside} AND dpaid = 1 THEN 1 ELSE 0 END) AS p{tag}_paying",
        f"sum(CASE WHEN {inside} THEN drev ELSE 0 END) AS p{tag}_rev",
        f"sum(CASE WHEN {inside} THEN dsent ELSE 0 END) AS p{tag}_sent",
        f"max(CASE WHEN {inside} AND dsent > 0 THEN 1 ELSE 0 END) AS p{tag}_inviters",
        f"sum(CASE WHEN {inside} THEN dacc ELSE 0 END) AS p{tag}_acc",
    ]


def build_aarrr_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    periods: Sequence[tuple[str, date, date]],
    activation_event: str | None,
    activation_days: int,
    cells: Sequence[DnCell],
) -> str:
    """Rows per first-touch channel (``channel_name``) with, for each period tag ``t``:
    ``t_new``, ``t_act``, ``t_active``, ``t_paying``, ``t_rev``, ``t_sent``, ``t_inviters``,
    ``t_acc``; and ``eligible_<cell>``/``retained_<cell>`` (D-N) for each retention cell.

    Every alias differs from the columns it is computed from: ClickHouse resolves a name to
    a SELECT alias before a column, which would nest aggregates.

    Engagement figures are summed per person's first-touch channel only to share the one
    GROUP BY; every person with an event has one, so the totals are exact.
    """
    d = dialect
    floor = min(lo for _, lo, _ in periods)
    last = max(hi for _, _, hi in periods)
    floor_utc = ctx.day_start_utc(floor)
    # Activation windows (24 h × days from the first event) and D-N returns reach past the end.
    scan_end = max(
        ctx.day_start_utc(last + timedelta(days=_LOOKAHEAD_DAYS + 1)),
        ctx.day_start_utc(last + timedelta(days=1)) + timedelta(days=activation_days),
    )
    # Days before ``floor`` only decide who is new: one row per person is enough for them.
    day = (
        f"CASE WHEN e.ts >= {d.ts_lit(floor_utc)} THEN {d.local_date('e.ts', ctx.timezone)} "
        f"ELSE {d.date_lit(floor - timedelta(days=1))} END"
    )
    rev = property_expr(d, ctx.revenue_property, alias="e", numeric=True)
    src = events_sql(
        d,
        ctx,
        end=scan_end,
        columns=[f"{day} AS day", f"{channel_expr(d, rules_for(ctx))} AS ch", f"{rev} AS rv"],
    )
    lit = d.str_lit
    act = f"CASE WHEN event = {lit(activation_event)} THEN ts END" if activation_event else "NULL"
    per_day = (
        f"SELECT pid, day, min(ts) AS dfts, {d.arg_min('ch', 'ts')} AS dfch, "
        f"min({act}) AS dact, sum(coalesce(rv, 0)) AS drev, "
        "max(CASE WHEN rv > 0 THEN 1 ELSE 0 END) AS dpaid, "
        f"sum(CASE WHEN event = {lit(ctx.invite_sent_event)} THEN 1 ELSE 0 END) AS dsent, "
        f"sum(CASE WHEN event = {lit(ctx.invite_accepted_event)} THEN 1 ELSE 0 END) AS dacc "
        f"FROM ({src}) x GROUP BY pid, day"
    )
    person_cols = [
        "min(dfts) AS fts",
        f"{d.arg_min('dfch', 'dfts')} AS fch",
        "min(dact) AS act",
        "min(day) AS fday",
    ]
    for tag, lo, hi in periods:
        person_cols += _period_cols(d, tag, lo, hi)
    person = f"SELECT pid, {', '.join(person_cols)} FROM pd GROUP BY pid"
    persons = with_dn_retention(d, persons=person, returns="pd", cells=cells)
    window = activation_days * 86400
    sums = []
    for tag, lo, hi in periods:
        start, end = ctx.day_range_utc(lo, hi)
        new = f"fts >= {d.ts_lit(start)} AND fts < {d.ts_lit(end)}"
        activated = f"{new} AND act IS NOT NULL AND act < {d.add_seconds('fts', window)}"
        sums += [f"sum(CASE WHEN {new} THEN 1 ELSE 0 END) AS {tag}_new"]
        sums += [f"sum(CASE WHEN {activated} THEN 1 ELSE 0 END) AS {tag}_act"]
        sums += [
            f"sum(p{tag}_{col}) AS {tag}_{col}"
            for col in ("active", "paying", "rev", "sent", "inviters", "acc")
        ]
    sums += [f"sum(e_{c.name}) AS eligible_{c.name}" for c in cells]
    sums += [f"sum(r_{c.name}) AS retained_{c.name}" for c in cells]
    return (
        f"WITH {d.cte_materialized('pd', per_day)} "
        f"SELECT fch AS channel_name, {', '.join(sums)} FROM ({persons}) z GROUP BY fch"
    )


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _num(v: Any) -> int:
    return int(v or 0)


def assemble_period(
    data: list[dict[str, Any]],
    tag: str,
    *,
    date_from: date,
    date_to: date,
    activation_event: str | None,
    cells: Sequence[DnCell],
) -> AarrrPeriod:
    """One period's figures from the per-channel rows of ``build_aarrr_sql``."""

    def total(col: str) -> int:
        return sum(_num(r[col]) for r in data)

    by_channel = sorted(
        (
            ChannelCount(channel=str(r["channel_name"]), persons=_num(r[f"{tag}_new"]))
            for r in data
            if _num(r[f"{tag}_new"])
        ),
        key=lambda c: (-c.persons, c.channel),
    )
    new = total(f"{tag}_new")
    activated = total(f"{tag}_act") if activation_event else None
    revenue = float(sum(float(r[f"{tag}_rev"] or 0.0) for r in data))
    active, paying = total(f"{tag}_active"), total(f"{tag}_paying")
    sent, inviters = total(f"{tag}_sent"), total(f"{tag}_inviters")
    accepted = total(f"{tag}_acc")
    ret = {
        c.days: _div(total(f"retained_{c.name}"), total(f"eligible_{c.name}"))
        for c in cells
        if c.key == tag
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
    """Figures for the range and for the equally long period just before it, in one query.

    ``today`` (local date, default now) decides whose day N is over for D-N retention.
    """
    d_from, d_to = q.date_range.resolve(ctx)
    length = (d_to - d_from).days + 1
    p_from, p_to = d_from - timedelta(days=length), d_from - timedelta(days=1)
    activation = q.activation_event or ctx.activation_event
    periods = [("c", d_from, d_to), ("p", p_from, p_to)]
    cells = dn_cells(
        {tag: (lo, hi) for tag, lo, hi in periods}, RETENTION_DAYS, today or ctx.today()
    )
    sql = build_aarrr_sql(
        store.dialect,
        ctx,
        periods=periods,
        activation_event=activation,
        activation_days=q.activation_days,
        cells=cells,
    )
    data = rows(store.query(sql))
    current, previous = (
        assemble_period(
            data, tag, date_from=lo, date_to=hi, activation_event=activation, cells=cells
        )
        for tag, lo, hi in periods
    )
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
