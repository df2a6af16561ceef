"""The overview dashboard's figures (AARRR for two periods, DAU/WAU/MAU) in ONE query.

Why not call ``run_aarrr`` and ``run_active_users``: together they are eleven queries,
most of which rescan the whole history to find each person's first event (several
seconds on the demo data). Here the events are read once and reduced to one row per
person and active local day; window functions over each person's days give first event,
first-touch channel, first activation and the next active day, and one grouped pass
produces every figure. The definitions are those of ``analytics.aarrr`` and
``analytics.active_users``, and the results are the same models (tests compare them with
the analytics functions on both engines, figure by figure).

DAU/WAU/MAU without expanding each active day into 30 rows: each active day d of a
person "covers" the days [d, min(d + w, next active day)), so these intervals never
overlap and WAU/MAU per day is a running sum of interval starts minus interval ends.
"""

from __future__ import annotations

import threading
import weakref
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field

from yunying.analytics.aarrr import COMPARED, AarrrPeriod, AarrrResult, ChannelCount, channel_expr
from yunying.analytics.active_users import MONTH, WEEK, ActiveUsersResult, Change
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.source import person_map_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect

RETENTION_DAYS = (1, 7, 30)
ACTIVATION_DAYS = 7
_EPOCH = date(1970, 1, 1)


class Overview(BaseModel):
    aarrr: AarrrResult
    active: ActiveUsersResult
    dau_mau_current: float | None = Field(description="DAU/MAU on the last day.")
    dau_mau_previous: float | None = Field(description="DAU/MAU on the day before.")
    dau_mau_change: float | None


def _periods(date_from: date, date_to: date) -> tuple[date, date]:
    length = (date_to - date_from).days + 1
    return date_from - timedelta(days=length), date_from - timedelta(days=1)


def _cte(dialect: Dialect, name: str, sql: str) -> str:
    """A CTE read several times: DuckDB is told to compute it once (ClickHouse inlines)."""
    hint = " MATERIALIZED" if dialect.name == "duckdb" else ""
    return f"{name} AS{hint} ({sql})"


def build_overview_sql(
    dialect: Dialect,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date,
    activation_event: str | None,
    activation_days: int = ACTIVATION_DAYS,
) -> str:
    """Rows (kind, kstr, kday, n, …sums): kind 0 per first-touch channel (kstr), kind 1
    interval starts per day (= DAU), 2 WAU interval ends per day, 3 MAU interval ends."""
    d, lit = dialect, dialect.str_lit
    p_from, p_to = _periods(date_from, date_to)
    # Events up to 31 days after the range: activation windows and D30 returns.
    last_day = date_to + timedelta(days=31)
    _, scan_end = ctx.day_range_utc(date_from, last_day)
    first_needed = min(date_from, date_to - timedelta(days=MONTH))
    w0 = first_needed - timedelta(days=MONTH - 1)
    # Local days matter only from ``floor`` on; earlier events all fall on one day before it.
    floor = min(w0, p_from)
    day = local_day_sql(d, ctx, "e.timestamp", floor, last_day)
    rev = property_expr(d, ctx.revenue_property, alias="e", numeric=True)
    act_ts = (
        f"CASE WHEN e.event = {lit(activation_event)} THEN e.timestamp END"
        if activation_event
        else "NULL"
    )
    sent, accepted = lit(ctx.invite_sent_event), lit(ctx.invite_accepted_event)
    per_id = (
        f"SELECT e.distinct_id AS did, e.person_id AS epid, {day} AS day, "
        f"min(e.timestamp) AS fts, {d.arg_min(channel_expr(d), 'e.timestamp')} AS fch, "
        f"min({act_ts}) AS act_ts, sum(coalesce({rev}, 0)) AS rev, "
        f"max(CASE WHEN {rev} > 0 THEN 1 ELSE 0 END) AS paid, "
        f"sum(CASE WHEN e.event = {sent} THEN 1 ELSE 0 END) AS sent, "
        f"sum(CASE WHEN e.event = {accepted} THEN 1 ELSE 0 END) AS acc "
        f"FROM events e WHERE e.project_id = {int(ctx.project_id)} "
        f"AND e.timestamp < {d.ts_lit(scan_end)} GROUP BY e.distinct_id, e.person_id, {day}"
    )
    per_day = (
        "SELECT coalesce(m.person_id, a.epid) AS pid, a.day AS day, min(a.fts) AS fts, "
        f"{d.arg_min('a.fch', 'a.fts')} AS fch, min(a.act_ts) AS act_ts, sum(a.rev) AS rev, "
        "max(a.paid) AS paid, sum(a.sent) AS sent, sum(a.acc) AS acc "
        f"FROM ({per_id}) a LEFT JOIN ({person_map_sql(d, ctx)}) m ON m.distinct_id = a.did "
        "GROUP BY coalesce(m.person_id, a.epid), a.day"
    )

    def in_days(lo: date, hi: date, col: str = "day") -> str:
        return f"({col} >= {d.date_lit(lo)} AND {col} <= {d.date_lit(hi)})"

    ranges = (("c", date_from, date_to), ("p", p_from, p_to))
    person_cols = [
        "min(fts) AS pfts",
        f"{d.arg_min('fch', 'fts')} AS pfch",
        "min(act_ts) AS pact",
        "min(day) AS fday",
        *(f"{d.add_days('min(day)', n)} AS d{n}" for n in RETENTION_DAYS),
    ]
    for tag, lo, hi in ranges:
        cond = in_days(lo, hi)
        person_cols += [
            f"max(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {tag}_active",
            f"max(CASE WHEN {cond} AND paid = 1 THEN 1 ELSE 0 END) AS {tag}_paying",
            f"sum(CASE WHEN {cond} THEN rev ELSE 0 END) AS {tag}_rev",
            f"sum(CASE WHEN {cond} THEN sent ELSE 0 END) AS {tag}_sent",
            f"max(CASE WHEN {cond} AND sent > 0 THEN 1 ELSE 0 END) AS {tag}_inviter",
            f"sum(CASE WHEN {cond} THEN acc ELSE 0 END) AS {tag}_acc",
        ]
    person = f"SELECT pid, {', '.join(person_cols)} FROM pd GROUP BY pid"
    returned = ", ".join(
        f"CASE WHEN r{n}.pid IS NULL THEN 0 ELSE 1 END AS r{n}" for n in RETENTION_DAYS
    )
    joins = " ".join(
        f"LEFT JOIN pd r{n} ON r{n}.pid = pe.pid AND r{n}.day = pe.d{n}" for n in RETENTION_DAYS
    )
    persons = f"SELECT pe.*, {returned} FROM ({person}) pe {joins}"
    sums: list[tuple[str, str]] = []
    window_s = activation_days * 86400
    for tag, lo, hi in ranges:
        start, end = ctx.day_range_utc(lo, hi)
        new = f"pfts >= {d.ts_lit(start)} AND pfts < {d.ts_lit(end)}"
        activated = f"{new} AND pact IS NOT NULL AND pact < {d.add_seconds('pfts', window_s)}"
        sums += [
            (f"{tag}_new", f"sum(CASE WHEN {new} THEN 1 ELSE 0 END)"),
            (f"{tag}_act", f"sum(CASE WHEN {activated} THEN 1 ELSE 0 END)"),
            (f"{tag}_active", f"sum({tag}_active)"),
            (f"{tag}_paying", f"sum({tag}_paying)"),
            (f"{tag}_rev", f"sum({tag}_rev)"),
            (f"{tag}_sent", f"sum({tag}_sent)"),
            (f"{tag}_inviters", f"sum({tag}_inviter)"),
            (f"{tag}_acc", f"sum({tag}_acc)"),
        ]
        for n in RETENTION_DAYS:
            eligible = in_days(lo, min(hi, today - timedelta(days=n + 1)), "fday")
            sums += [
                (f"{tag}_e{n}", f"sum(CASE WHEN {eligible} THEN 1 ELSE 0 END)"),
                (f"{tag}_r{n}", f"sum(CASE WHEN {eligible} AND r{n} = 1 THEN 1 ELSE 0 END)"),
            ]
    none_day = d.date_lit(_EPOCH)
    channel_rows = (
        f"SELECT 0 AS kind, pfch AS kstr, {none_day} AS kday, count(*) AS n, "
        + ", ".join(f"{expr} AS {name}" for name, expr in sums)
        + " FROM persons GROUP BY pfch"
    )
    zeros = ", ".join(f"0 AS {name}" for name, _ in sums)
    intervals = (
        "SELECT pid, day, lead(day) OVER (PARTITION BY pid ORDER BY day) AS nd "
        f"FROM pd WHERE {in_days(w0, last_day)}"
    )

    def ends(width: int) -> str:
        cap = d.add_days("day", width)
        # nd > day: ClickHouse's lead gives a default date, not NULL, after the last row.
        return f"CASE WHEN nd > day AND nd < {cap} THEN nd ELSE {cap} END"

    day_rows = " UNION ALL ".join(
        f"SELECT {kind} AS kind, {lit('')} AS kstr, {key} AS kday, count(*) AS n, {zeros} "
        f"FROM iv WHERE {in_days(w0, date_to)} GROUP BY {key}"
        for kind, key in ((1, "day"), (2, ends(WEEK)), (3, ends(MONTH)))
    )
    return (
        f"WITH {_cte(d, 'pd', per_day)}, {_cte(d, 'iv', intervals)}, "
        f"persons AS ({persons}) "
        f"{channel_rows} UNION ALL {day_rows}"
    )


def fixed_offset(ctx: ProjectContext, first: date, last: date) -> int | None:
    """The zone's UTC offset in seconds if it is the same on every day first … last."""
    tz = ctx.tz
    offsets = set()
    day = first
    while day <= last + timedelta(days=1):
        for hour in (0, 12):
            offset = datetime.combine(day, time(hour), tzinfo=tz).utcoffset()
            offsets.add(int(offset.total_seconds()) if offset is not None else 0)
        day += timedelta(days=1)
    return offsets.pop() if len(offsets) == 1 else None


def local_day_sql(dialect: Dialect, ctx: ProjectContext, ts: str, first: date, last: date) -> str:
    """Local date of ``ts`` for days first … last; the day before ``first`` for earlier ones.

    Converting a time zone per row is the most expensive step of the whole query, so a zone
    whose offset does not change in the span (no DST switch) is a plain shift.
    """
    start = ctx.day_start_utc(first)
    offset = fixed_offset(ctx, first, last)
    local = (
        dialect.local_date(ts, ctx.timezone)
        if offset is None
        else f"CAST({dialect.add_seconds(ts, offset)} AS DATE)"
    )
    before = dialect.date_lit(first - timedelta(days=1))
    return f"CASE WHEN {ts} >= {dialect.ts_lit(start)} THEN {local} ELSE {before} END"


def _int(v: Any) -> int:
    return int(v or 0)


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _period(
    tag: str, lo: date, hi: date, data: list[dict[str, Any]], activation: str | None
) -> AarrrPeriod:
    channels = [r for r in data if _int(r["kind"]) == 0]

    def total(col: str) -> int:
        return sum(_int(r[f"{tag}_{col}"]) for r in channels)

    new = total("new")
    by_channel = sorted(
        (
            ChannelCount(channel=str(r["kstr"]), persons=_int(r[f"{tag}_new"]))
            for r in channels
            if _int(r[f"{tag}_new"])
        ),
        key=lambda c: (-c.persons, c.channel),
    )
    activated = total("act") if activation else None
    revenue = float(sum(float(r[f"{tag}_rev"] or 0) for r in channels))
    active, paying = total("active"), total("paying")
    sent, inviters, accepted = total("sent"), total("inviters"), total("acc")
    ret = {n: _div(total(f"r{n}"), total(f"e{n}")) for n in RETENTION_DAYS}
    return AarrrPeriod(
        date_from=lo,
        date_to=hi,
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
        k_factor=(sent / inviters) * (accepted / sent) if inviters and sent else None,
    )


def _change(current: int, previous: int) -> Change:
    return Change(
        current=current,
        previous=previous,
        change=None if previous == 0 else (current - previous) / previous,
    )


def _active(date_from: date, date_to: date, data: list[dict[str, Any]]) -> ActiveUsersResult:
    first_needed = min(date_from, date_to - timedelta(days=MONTH))
    w0 = first_needed - timedelta(days=MONTH - 1)
    n_days = (date_to - w0).days + 1
    starts, ends_w, ends_m = [0] * (n_days + 1), [0] * (n_days + 1), [0] * (n_days + 1)
    for r in data:
        kind = _int(r["kind"])
        if kind == 0:
            continue
        i = (r["kday"] - w0).days
        if 0 <= i <= n_days:
            target = {1: starts, 2: ends_w, 3: ends_m}[kind]
            target[min(i, n_days)] += _int(r["n"])
    dau, wau, mau = {}, {}, {}
    s = w = m = 0
    for i in range(n_days):
        s += starts[i]
        w += ends_w[i]
        m += ends_m[i]
        day = w0 + timedelta(days=i)
        dau[day], wau[day], mau[day] = starts[i], s - w, s - m
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]

    def get(table: dict[date, int], day: date) -> int:
        return table.get(day, 0)

    return ActiveUsersResult(
        days=days,
        dau=[get(dau, x) for x in days],
        wau=[get(wau, x) for x in days],
        mau=[get(mau, x) for x in days],
        dau_mau=[None if get(mau, x) == 0 else get(dau, x) / get(mau, x) for x in days],
        dau_change=_change(get(dau, date_to), get(dau, date_to - timedelta(days=1))),
        wau_change=_change(get(wau, date_to), get(wau, date_to - timedelta(days=WEEK))),
        mau_change=_change(get(mau, date_to), get(mau, date_to - timedelta(days=MONTH))),
    )


def overview(
    store: EventStore,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date | None = None,
    activation_event: str | None = None,
) -> Overview:
    """AARRR (range and the equally long period before) and DAU/WAU/MAU, in one query."""
    today = today or ctx.today()
    activation = activation_event or ctx.activation_event
    sql = build_overview_sql(
        store.dialect,
        ctx,
        date_from=date_from,
        date_to=date_to,
        today=today,
        activation_event=activation,
    )
    data = rows(store.query(sql))
    p_from, p_to = _periods(date_from, date_to)
    current = _period("c", date_from, date_to, data, activation)
    previous = _period("p", p_from, p_to, data, activation)
    change: dict[str, float | None] = {}
    for name in COMPARED:
        cur, prev = getattr(current, name), getattr(previous, name)
        change[name] = (cur - prev) / prev if cur is not None and prev else None
    aarrr = AarrrResult(
        activation_event=activation,
        activation_days=ACTIVATION_DAYS,
        current=current,
        previous=previous,
        change=change,
    )
    active = _active(date_from, date_to, data)
    ratio_now = active.dau_mau[-1]
    ratio_before = active.dau_mau[-2] if len(active.days) > 1 else None
    return Overview(
        aarrr=aarrr,
        active=active,
        dau_mau=active.dau_change,
        dau_mau_current=ratio_now,
        dau_mau_previous=ratio_before,
        dau_mau_change=(ratio_now - ratio_before) / ratio_before
        if ratio_now is not None and ratio_before
        else None,
    )


_CACHE_TTL_S = 60.0
_cache_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[float, Overview]]] = (
    weakref.WeakKeyDictionary()
)


def cached_overview(
    store: EventStore,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date | None = None,
    ttl: float = _CACHE_TTL_S,
) -> Overview:
    """``overview`` remembered for ``ttl`` seconds per store, project settings and dates.

    The landing page is opened far more often than a minute's new events change it.
    """
    today = today or ctx.today()
    key = (
        ctx.project_id, ctx.timezone, ctx.activation_event, ctx.revenue_property,
        ctx.invite_sent_event, ctx.invite_accepted_event, date_from, date_to, today,
    )  # fmt: skip
    now = monotonic()
    with _cache_lock:
        hit = _cache.get(store, {}).get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    result = overview(store, ctx, date_from=date_from, date_to=date_to, today=today)
    with _cache_lock:
        per_store = _cache.setdefault(store, {})
        per_store[key] = (now, result)
        for k in [k for k, (at, _) in per_store.items() if now - at >= ttl]:
            del per_store[k]
    return result
