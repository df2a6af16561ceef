"""The overview shows exactly what ``run_aarrr`` and ``run_active_users`` answer; its cache.

The metrics' own edge cases (identity merges, refunds, invites, a DST switch) are tested
against plain-Python references in tests/analytics/test_aarrr.py and test_active_users.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.analytics.test_aarrr import synthetic
from tests.factories import ev, load
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.active_users import ActiveUsersQuery, run_active_users
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.insights.overview import cached_overview, overview
from yunying.store.base import EventStore


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
        ("America/New_York", date(2024, 3, 1), date(2024, 3, 7), date(2024, 3, 9)),
    ],
)
def test_overview_is_the_analytics_results(
    store: EventStore, tz: str, d_from: date, d_to: date, today: date
) -> None:
    events, merges = synthetic(tz)
    load(store, events, merges=merges)
    ctx = ProjectContext(project_id=1, timezone=tz, activation_event="content_view")
    got = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    aarrr, active = expected(store, ctx, d_from, d_to, today)
    assert got.aarrr == aarrr
    assert got.active == active
    assert got.aarrr.current.new_persons > 0 and got.active.dau[-1] > 0
    assert got.dau_mau_current == active.dau_mau[-1]
    assert got.dau_mau_previous == active.dau_mau[-2]
    now, before = active.dau_mau[-1], active.dau_mau[-2]
    assert now is not None and before
    assert got.dau_mau_change == pytest.approx((now - before) / before)


def test_activation_event_argument_overrides_the_project(duck: EventStore) -> None:
    events, merges = synthetic("Asia/Shanghai")
    load(duck, events, merges=merges)
    ctx = ProjectContext(project_id=1)
    args = {"date_from": date(2024, 3, 1), "date_to": date(2024, 3, 30), "today": date(2024, 4, 20)}
    assert overview(duck, ctx, **args).aarrr.current.activated_persons is None
    got = overview(duck, ctx, activation_event="post", **args).aarrr
    assert got.activation_event == "post" and got.current.activated_persons is not None


def test_without_activation_event_and_empty_store(store: EventStore) -> None:
    ctx = ProjectContext(project_id=1)
    d_from, d_to, today = date(2024, 3, 1), date(2024, 3, 7), date(2024, 3, 9)
    empty = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    assert empty.aarrr.current.new_persons == 0 and empty.active.mau == [0] * 7
    assert empty.aarrr.current.retention_d1 is None
    assert empty.dau_mau_current is None and empty.dau_mau_change is None
    events, merges = synthetic("Asia/Shanghai", seed=9)
    load(store, events, merges=merges)
    got = overview(store, ctx, date_from=d_from, date_to=d_to, today=today)
    aarrr, active = expected(store, ctx, d_from, d_to, today)
    assert got.aarrr == aarrr and got.active == active
    assert got.aarrr.current.activated_persons is None


def test_single_day_range_has_no_previous_ratio(duck: EventStore) -> None:
    load(duck, [ev("x", "signup", "2024-03-02 10:00")])
    ctx = ProjectContext(project_id=1)
    got = overview(duck, ctx, date_from=date(2024, 3, 2), date_to=date(2024, 3, 2))
    assert got.active.dau == [1] and got.dau_mau_current == 1.0
    assert got.dau_mau_previous is None and got.dau_mau_change is None


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
