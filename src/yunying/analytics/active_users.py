"""Active users: DAU, WAU and MAU for every local day, plus the overview's comparisons.

WAU and MAU are *trailing* windows (the 7 or 30 local days ending on the day), not
calendar weeks or months. Each active person-day is expanded to the 30 days whose
trailing window contains it, so one GROUP BY answers all three counts on both engines.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect

WEEK, MONTH = 7, 30


class ActiveUsersQuery(BaseModel):
    """Daily, weekly and monthly active persons for each day of a date range."""

    kind: Literal["active_users"] = "active_users"
    date_range: DateRange = Field(
        default_factory=DateRange, description="Local dates, both ends inclusive."
    )
    event: str | None = Field(
        default=None,
        min_length=1,
        max_length=400,
        description="Only this event makes a person active; null means any event.",
    )
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Only events (or persons) matching all filters count."
    )


class Change(BaseModel):
    """A figure for the last day next to the same figure one window earlier."""

    current: int
    previous: int = Field(description="Same window, ending one window length earlier.")
    change: float | None = Field(
        description="(current - previous) / previous; null when previous is 0."
    )


class ActiveUsersResult(BaseModel):
    kind: Literal["active_users"] = "active_users"
    days: list[date] = Field(description="Every local day of the range.")
    dau: list[int] = Field(description="Distinct persons active on the day.")
    wau: list[int] = Field(description="Distinct persons active in the 7 days ending that day.")
    mau: list[int] = Field(description="Distinct persons active in the 30 days ending that day.")
    dau_mau: list[float | None] = Field(description="DAU / MAU; null when MAU is 0.")
    dau_change: Change = Field(description="Last day vs the day before.")
    wau_change: Change = Field(description="7 days ending on the last day vs the 7 before.")
    mau_change: Change = Field(description="30 days ending on the last day vs the 30 before.")


def _first_day(date_from: date, date_to: date) -> date:
    """Earliest day whose windows are computed: the range, or the previous MAU window's end."""
    return min(date_from, date_to - timedelta(days=MONTH))


def build_active_users_sql(dialect: Dialect, ctx: ProjectContext, q: ActiveUsersQuery) -> str:
    """Rows (day, dau, wau, mau) for days with activity from ``_first_day`` to ``date_to``."""
    date_from, date_to = q.date_range.resolve(ctx)
    lo = _first_day(date_from, date_to)
    start, end = ctx.day_range_utc(lo - timedelta(days=MONTH - 1), date_to)
    src = events_sql(
        dialect,
        ctx,
        start=start,
        end=end,
        event_names=None if q.event is None else [q.event],
        filters=q.filters,
        columns=[f"{dialect.local_date('e.ts', ctx.timezone)} AS d"],
    )
    offsets = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(MONTH))
    spread = (
        f"SELECT pd.pid AS person, {dialect.add_days('pd.d', 'o.k')} AS day, o.k AS lag_days "
        f"FROM (SELECT DISTINCT pid, d FROM ({src}) x) pd CROSS JOIN ({offsets}) o"
    )
    return (
        f"SELECT day, "
        f"{dialect.count_distinct('CASE WHEN lag_days = 0 THEN person END')} AS dau, "
        f"{dialect.count_distinct(f'CASE WHEN lag_days < {WEEK} THEN person END')} AS wau, "
        f"{dialect.count_distinct('person')} AS mau "
        f"FROM ({spread}) s "
        f"WHERE day >= {dialect.date_lit(lo)} AND day <= {dialect.date_lit(date_to)} "
        f"GROUP BY day"
    )


def _change(current: int, previous: int) -> Change:
    return Change(
        current=current,
        previous=previous,
        change=None if previous == 0 else (current - previous) / previous,
    )


def run_active_users(
    store: EventStore, ctx: ProjectContext, q: ActiveUsersQuery
) -> ActiveUsersResult:
    date_from, date_to = q.date_range.resolve(ctx)
    # Pin the dates so the SQL and the periods agree even across midnight.
    q = q.model_copy(update={"date_range": DateRange(date_from=date_from, date_to=date_to)})
    table = store.query(build_active_users_sql(store.dialect, ctx, q))
    by_day = {r["day"]: (int(r["dau"]), int(r["wau"]), int(r["mau"])) for r in table.to_pylist()}

    def get(d: date, i: int) -> int:
        return by_day.get(d, (0, 0, 0))[i]

    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    dau = [get(d, 0) for d in days]
    wau = [get(d, 1) for d in days]
    mau = [get(d, 2) for d in days]
    return ActiveUsersResult(
        days=days,
        dau=dau,
        wau=wau,
        mau=mau,
        dau_mau=[None if m == 0 else a / m for a, m in zip(dau, mau, strict=True)],
        dau_change=_change(get(date_to, 0), get(date_to - timedelta(days=1), 0)),
        wau_change=_change(get(date_to, 1), get(date_to - timedelta(days=WEEK), 1)),
        mau_change=_change(get(date_to, 2), get(date_to - timedelta(days=MONTH), 2)),
    )
