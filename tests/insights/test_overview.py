"""The overview's one-query figures equal ``run_aarrr`` and ``run_active_users`` exactly,
on both engines, in a fixed-offset zone and across a DST switch."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from tests.factories import ev, load
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.active_users import ActiveUsersQuery, run_active_users
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.insights.overview import cached_overview, fixed_offset, local_day_sql, overview
from yunying.store.base import EventStore

CHANNELS = [
    {"channel": "douyin"},
    {"utm_source": "baidu"},
    {"$referrer": "https://www.xiaohongshu.com/explore"},
    {"$referrer": "$direct"},
    {},
]


def synthetic(tz: str, seed: int = 3) -> tuple[list, dict[str, str]]:
    """~40 persons over Jan–Apr 2024: channels, anonymous ids merged into users,
    activations inside and outside 7 days, purchases and refunds, invites."""
    rng = random.Random(seed)
    events, merges = [], {}
    start = date(2024, 1, 10)
    for i in range(40):
        user = f"u{i}"
        first = start + timedelta(days=rng.randrange(0, 90))
        anon = f"anon{i}" if i % 3 == 0 else user
        if anon != user:
            merges[anon] = user
        hour = rng.choice(["00:30", "08:15", "15:59", "23:45"])
        events.append(ev(anon, "$pageview", f"{first} {hour}", tz=tz, **CHANNELS[i % 5]))
        for _ in range(rng.randrange(0, 12)):
            day = first + timedelta(days=rng.choice([0, 1, 1, 2, 3, 7, 7, 8, 15, 30, 31, 45]))
            name = rng.choice(["content_view", "post", "like", "invite_sent", "invite_accepted"])
            events.append(ev(user, name, f"{day} {rng.randrange(0, 24):02d}:{i:02d}", tz=tz))
        if i % 4 == 1:
            pay = first + timedelta(days=rng.randrange(0, 20))
            events.append(ev(user, "pay", f"{pay} 12:00", tz=tz, **{"$revenue": 30 + i}))
        if i % 11 == 5:
            events.append(ev(user, "refund", f"{first + timedelta(days=25)} 12:00", tz=tz,
                             **{"$revenue": -10}))  # fmt: skip
    return events, merges


def expected(store: EventStore, ctx: ProjectContext, d_from: date, d_to: date, today: date):
    dr = DateRange(date_from=d_from, date_to=d_to)
    return (
        run_aarrr(store, ctx, AarrrQuery(date_range=dr), today=today),
        run_active_users(store, ctx, ActiveUsersQuery(date_range=dr)),
    )


@pytest.mark.parametrize(
    ("tz", "d_from", "d_to", "today"),
    [
        ("Asia/Shanghai", date(2024, 3, 1), date(2024, 3, 30), date(2024, 4, 20)),
        ("Asia/Shanghai", date(2024, 2, 20), date(2024, 2, 26), date(2024, 2, 28)),
        ("America/New_York", date(2024, 3, 1), date(2024, 3, 30), date(2024, 4, 2)),
    ],
)
def test_overview_equals_the_analytics_functions(
    store: EventStore, tz: str, d_from: date, d_to: date, today: date
) -> None:
    events, merges = synthetic(tz)
    load(store, events, merges=merges)
    ctx = ProjectContext(project_id=1, timezone=tz, activation_event="content_view")
    got = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    aarrr, active = expected(store, ctx, d_from, d_to, today)
    assert got.aarrr.current.new_persons > 0 and got.aarrr.current.paying_persons > 0
    assert got.aarrr == aarrr
    assert got.active == active
    assert got.dau_mau_current == active.dau_mau[-1]
    assert got.dau_mau_previous == active.dau_mau[-2]


def test_without_activation_event_and_empty_store(store: EventStore) -> None:
    ctx = ProjectContext(project_id=1)
    d_from, d_to, today = date(2024, 3, 1), date(2024, 3, 7), date(2024, 3, 9)
    empty = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    assert empty.aarrr.current.new_persons == 0 and empty.active.mau == [0] * 7
    assert empty.dau_mau_change is None
    events, merges = synthetic("Asia/Shanghai", seed=9)
    load(store, events, merges=merges)
    got = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    aarrr, active = expected(store, ctx, d_from, d_to, today)
    assert got.aarrr == aarrr and got.active == active
    assert got.aarrr.current.activated_persons is None


def test_other_projects_do_not_count(duck: EventStore) -> None:
    load(duck, [ev("x", "signup", "2024-03-02 10:00", project_id=2)], project_id=2)
    ctx = ProjectContext(project_id=1)
    got = overview(duck, ctx, date_from=date(2024, 3, 1), date_to=date(2024, 3, 7))
    assert got.aarrr.current.new_persons == 0


def test_cached_overview_is_reused_within_the_ttl(duck: EventStore) -> None:
    ctx = ProjectContext(project_id=1)
    args = {"date_from": date(2024, 3, 1), "date_to": date(2024, 3, 7), "today": date(2024, 3, 9)}
    first = cached_overview(duck, ctx, **args)
    load(duck, [ev("x", "signup", "2024-03-02 10:00")])
    assert cached_overview(duck, ctx, **args) is first
    fresh = cached_overview(duck, ctx, ttl=0, **args)
    assert fresh.aarrr.current.new_persons == 1


def test_fixed_offset_detects_dst() -> None:
    shanghai = ProjectContext(project_id=1, timezone="Asia/Shanghai")
    new_york = ProjectContext(project_id=1, timezone="America/New_York")
    assert fixed_offset(shanghai, date(2024, 1, 1), date(2024, 12, 31)) == 8 * 3600
    assert fixed_offset(new_york, date(2024, 1, 1), date(2024, 2, 1)) == -5 * 3600
    assert fixed_offset(new_york, date(2024, 3, 1), date(2024, 3, 30)) is None
    from yunying.store.dialect import DuckDBDialect

    sql = local_day_sql(DuckDBDialect(), new_york, "ts", date(2024, 3, 1), date(2024, 3, 30))
    assert "timezone(" in sql  # the general path when the offset changes
