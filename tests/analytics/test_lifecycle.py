"""Lifecycle: hand-computed cases (history before the range included), engine comparison,
and properties that tie it to active persons per period."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ev, load, random_events
from yunying.analytics.context import ProjectContext
from yunying.analytics.lifecycle import LifecycleQuery, LifecycleResult, run_lifecycle
from yunying.analytics.trends import TrendsQuery, run_trends
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def q(date_from: str, date_to: str, event: str = "pv", **kw: Any) -> LifecycleQuery:
    return LifecycleQuery(
        event=event, date_range={"date_from": date_from, "date_to": date_to}, **kw
    )


def table(r: LifecycleResult) -> tuple[list[int], ...]:
    return r.new, r.returning, r.resurrecting, r.dormant


def test_daily_with_merge_and_local_boundary(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2023-12-30 10:00"),  # before the range
            ev("a", "pv", "2024-01-01 23:30"),  # 15:30 UTC
            ev("a", "pv", "2024-01-02 00:30"),  # 16:30 UTC: the next local day
            ev("b", "pv", "2024-01-02 10:00"),
            ev("c", "pv", "2024-01-04 10:00"),  # c is a
            ev("d", "pv", "2024-01-01 10:00"),
            ev("e", "other", "2024-01-03 10:00"),
        ],
        merges={"c": "a"},
    )
    r = run_lifecycle(store, CTX, q("2024-01-01", "2024-01-04"))
    assert r.periods == [date(2024, 1, d) for d in (1, 2, 3, 4)]
    assert table(r) == (
        [1, 1, 0, 0],  # new: d, then b
        [0, 1, 0, 0],  # returning: a on the 2nd
        [1, 0, 0, 1],  # resurrecting: a on the 1st (active 12-30) and on the 4th (as c)
        [0, -1, -2, 0],  # dormant: d on the 2nd; a and b on the 3rd
    )


def test_period_before_the_range_decides_the_first_period(store: EventStore) -> None:
    load(
        store,
        [
            ev("e", "pv", "2023-12-31 10:00"),
            ev("e", "pv", "2024-01-01 10:00"),  # returning on the 1st
            ev("e", "pv", "2024-01-03 10:00"),  # after the range: e is still dormant on the 2nd
            ev("f", "pv", "2023-12-31 10:00"),  # dormant on the 1st
            ev("g", "pv", "2023-12-20 10:00"),
            ev("g", "pv", "2024-01-01 10:00"),  # resurrecting on the 1st
            ev("h", "pv", "2024-01-01 10:00"),  # new on the 1st
            ev("j", "pv", "2023-06-01 10:00"),
            ev("j2", "pv", "2024-01-02 10:00"),  # j2 is j: resurrecting, not new
            ev("i", "pv", "2024-01-05 10:00"),  # after the range: nothing
        ],
        merges={"j2": "j"},
    )
    r = run_lifecycle(store, CTX, q("2024-01-01", "2024-01-02"))
    assert table(r) == ([1, 0], [1, 0], [1, 1], [-1, -3])


@pytest.mark.parametrize(
    ("week_start", "periods", "expected"),
    [
        (
            1,
            [date(2024, 1, 1), date(2024, 1, 8)],
            ([2, 0], [0, 1], [0, 0], [0, -1]),
        ),
        (
            7,
            [date(2023, 12, 31), date(2024, 1, 7), date(2024, 1, 14)],
            ([1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, -2]),
        ),
    ],
)
def test_weeks_follow_week_start(
    store: EventStore, week_start: int, periods: list[date], expected: tuple[list[int], ...]
) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-06 12:00"),  # Saturday
            ev("a", "pv", "2024-01-08 00:30"),  # Monday locally, Sunday 16:30 UTC
            ev("b", "pv", "2024-01-07 12:00"),  # Sunday
        ],
    )
    ctx = ProjectContext(1, week_start=week_start)
    r = run_lifecycle(store, ctx, q("2024-01-01", "2024-01-14", interval="week"))
    assert r.periods == periods
    assert table(r) == expected


def test_months_in_local_time(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2023-11-15 10:00"),
            ev("a", "pv", "2024-01-31 23:30"),
            ev("b", "pv", "2024-02-01 00:30"),  # 2024-01-31 16:30 UTC
        ],
    )
    r = run_lifecycle(store, CTX, q("2024-01-01", "2024-03-31", interval="month"))
    assert r.periods == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert table(r) == ([0, 1, 0], [0, 0, 0], [1, 0, 0], [0, -1, -1])
    utc = run_lifecycle(
        store, ProjectContext(1, timezone="UTC"), q("2024-01-01", "2024-03-31", interval="month")
    )
    assert table(utc) == ([1, 0, 0], [0, 0, 0], [1, 0, 0], [0, -2, 0])


def test_filters_decide_first_activity(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2023-12-01 10:00", plan="free"),
            ev("a", "pv", "2024-01-01 10:00", plan="pro"),
        ],
    )
    d = ("2024-01-01", "2024-01-01")
    assert table(run_lifecycle(store, CTX, q(*d))) == ([0], [0], [1], [0])
    pro = [{"key": "plan", "value": "pro"}]
    assert table(run_lifecycle(store, CTX, q(*d, filters=pro))) == ([1], [0], [0], [0])


def test_query_model() -> None:
    assert LifecycleQuery(event="pv").kind == "lifecycle"
    with pytest.raises(ValueError):
        LifecycleQuery(event="pv", interval="hour")


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    rnd = random.Random(3)
    events = random_events(rnd, 350, start=date(2023, 12, 1), days=90, persons=30)
    for s in both:
        load(s, events, merges={"u1": "u2", "u5": "u6", "u7": "u6"})
    for query in (
        q("2024-01-10", "2024-02-10"),
        q("2024-01-10", "2024-02-25", interval="week"),
        q("2024-01-01", "2024-02-29", interval="month", event="buy"),
    ):
        a, b = (run_lifecycle(s, CTX, query).model_dump() for s in both)
        assert a == b
        assert any(a["returning"]) and any(a["dormant"])


_project = itertools.count(4000)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 27)), max_size=30),
    interval=st.sampled_from(["day", "week"]),
)
def test_statuses_add_up_to_active_persons(
    store: EventStore, rows: list[tuple[int, int]], interval: str
) -> None:
    """new + returning + resurrecting = active persons (trends) in every period, and
    returning + dormant accounts for everyone active in the previous period."""
    project = next(_project)
    ctx = ProjectContext(project)
    base = date(2024, 1, 1)  # a Monday; the range starts a week later on a Monday
    load(
        store,
        [
            ev(f"p{p}", "pv", f"{base + timedelta(days=d)} 12:00", project_id=project)
            for p, d in rows
        ],
        project_id=project,
    )
    d = {"date_from": "2024-01-08", "date_to": "2024-01-28"}
    r = run_lifecycle(store, ctx, q(d["date_from"], d["date_to"], interval=interval))
    uniq = run_trends(
        store,
        ctx,
        TrendsQuery(
            series=[{"event": "pv"}], math="unique_persons", interval=interval, date_range=d
        ),
    ).series[0]
    assert uniq.periods == r.periods
    width = 1 if interval == "day" else 7

    def active(period: date) -> set[int]:
        lo = (period - base).days
        return {p for p, day in rows if lo <= day < lo + width}

    for i, period in enumerate(r.periods):
        assert r.new[i] + r.returning[i] + r.resurrecting[i] == uniq.values[i]
        previous = active(period - timedelta(days=width))
        assert r.returning[i] - r.dormant[i] == len(previous)
        first_day = {p: min(day for pp, day in rows if pp == p) for p in active(period)}
        assert r.new[i] == sum(
            1 for day in first_day.values() if (base + timedelta(days=day)) >= period
        )
