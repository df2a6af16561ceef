"""Stickiness: hand-computed histograms on both engines, engine comparison, a property."""

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
from yunying.analytics.stickiness import StickinessQuery, run_stickiness
from yunying.analytics.trends import TrendsQuery, run_trends
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def q(date_from: str, date_to: str, event: str = "pv", **kw: Any) -> StickinessQuery:
    return StickinessQuery(
        event=event, date_range={"date_from": date_from, "date_to": date_to}, **kw
    )


def test_days_with_merge_and_local_boundary(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 23:30"),  # 15:30 UTC
            ev("a", "pv", "2024-01-02 00:30"),  # 16:30 UTC, same UTC day
            ev("a2", "pv", "2024-01-04 09:00"),  # a2 is a
            ev("b", "pv", "2024-01-01 08:00"),
            ev("b", "pv", "2024-01-01 09:00"),  # same day twice: one day
            ev("c", "other", "2024-01-02 09:00"),  # another event
            ev("d", "pv", "2024-01-05 09:00"),  # after the range
        ],
        merges={"a2": "a"},
    )
    r = run_stickiness(store, CTX, q("2024-01-01", "2024-01-04"))
    assert r.total_periods == 4
    assert r.periods_active == [1, 2, 3, 4]
    assert r.persons == [1, 0, 1, 0]  # b: 1 day; a: 3 days
    assert r.cumulative == [2, 1, 1, 0]
    assert r.total_persons == 2
    utc = run_stickiness(store, ProjectContext(1, timezone="UTC"), q("2024-01-01", "2024-01-04"))
    assert utc.persons == [1, 1, 0, 0]  # in UTC a's first two events share a day


@pytest.mark.parametrize(
    ("week_start", "total", "persons"),
    [
        (1, 2, [0, 1]),  # Monday weeks 01-01, 01-08: Sat+Sun in one, Mon 01-08 in the next
        (7, 3, [0, 1, 0]),  # Sunday weeks 12-31, 01-07, 01-14: Sat | Sun+Mon
    ],
)
def test_weeks_follow_week_start(
    store: EventStore, week_start: int, total: int, persons: list[int]
) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-06 12:00"),  # Saturday
            ev("a", "pv", "2024-01-07 12:00"),  # Sunday
            ev("a", "pv", "2024-01-08 00:30"),  # Monday (Sunday 16:30 UTC)
        ],
    )
    r = run_stickiness(
        store,
        ProjectContext(1, week_start=week_start),
        q("2024-01-01", "2024-01-14", interval="week"),
    )
    assert (r.total_periods, r.persons) == (total, persons)


def test_n_day_intervals(store: EventStore) -> None:
    # 7 days in 3-day buckets: days 1-3, 4-6, 7.
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 10:00"),
            ev("a", "pv", "2024-01-03 10:00"),  # a: bucket 1 only
            ev("b", "pv", "2024-01-03 10:00"),
            ev("b", "pv", "2024-01-04 10:00"),  # b: buckets 1, 2
            ev("c", "pv", "2024-01-01 10:00"),
            ev("c", "pv", "2024-01-05 10:00"),
            ev("c", "pv", "2024-01-07 10:00"),  # c: buckets 1, 2, 3
        ],
    )
    r = run_stickiness(store, CTX, q("2024-01-01", "2024-01-07", interval_count=3))
    assert (r.total_periods, r.persons, r.cumulative) == (3, [1, 1, 1], [3, 2, 1])
    daily = run_stickiness(store, CTX, q("2024-01-01", "2024-01-07"))
    assert daily.persons == [0, 2, 1, 0, 0, 0, 0]


def test_months_and_filters(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-31 23:30", plan="pro"),  # January locally
            ev("a", "pv", "2024-02-01 00:30", plan="pro"),  # February locally
            ev("b", "pv", "2024-02-10 10:00", plan="free"),
            ev("b", "pv", "2024-03-10 10:00"),
        ],
    )
    r = run_stickiness(store, CTX, q("2024-01-15", "2024-03-20", interval="month"))
    assert (r.total_periods, r.persons) == (3, [0, 2, 0])
    pro = run_stickiness(
        store,
        CTX,
        q("2024-01-15", "2024-03-20", interval="month", filters=[{"key": "plan", "value": "pro"}]),
    )
    assert pro.persons == [0, 1, 0]


def test_empty_and_model() -> None:
    assert StickinessQuery(event="pv").kind == "stickiness"
    with pytest.raises(ValueError):
        StickinessQuery(event="pv", interval_count=0)


def test_empty_store(store: EventStore) -> None:
    r = run_stickiness(store, CTX, q("2024-01-01", "2024-01-03"))
    assert (r.persons, r.cumulative, r.total_persons) == ([0, 0, 0], [0, 0, 0], 0)


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    rnd = random.Random(5)
    events = random_events(
        rnd, 300, start=date(2024, 1, 1), days=60, persons=30, plan=["pro", "free"]
    )
    for s in both:
        load(s, events, merges={"u1": "u2", "u3": "u4"})
    for query in (
        q("2024-01-05", "2024-02-20"),
        q("2024-01-05", "2024-02-20", interval="week"),
        q("2024-01-01", "2024-02-29", interval="month", event="buy"),
        q("2024-01-05", "2024-02-20", interval_count=4, filters=[{"key": "plan", "value": "pro"}]),
    ):
        a, b = (run_stickiness(s, CTX, query).model_dump() for s in both)
        assert a == b
        assert a["total_persons"] > 0


_project = itertools.count(3000)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20)), max_size=25),
    interval_count=st.integers(1, 5),
)
def test_histogram_adds_up(
    store: EventStore, rows: list[tuple[int, int]], interval_count: int
) -> None:
    """Persons in the histogram = distinct persons (trends), and buckets match Python."""
    project = next(_project)
    ctx = ProjectContext(project)
    base = date(2024, 1, 1)
    load(
        store,
        [
            ev(f"p{p}", "pv", f"{base + timedelta(days=d)} 12:00", project_id=project)
            for p, d in rows
        ],
        project_id=project,
    )
    r = run_stickiness(store, ctx, q("2024-01-01", "2024-01-21", interval_count=interval_count))
    uniq = run_trends(
        store,
        ctx,
        TrendsQuery(
            series=[{"event": "pv"}],
            math="unique_persons",
            date_range={"date_from": "2024-01-01", "date_to": "2024-01-21"},
        ),
    )
    assert r.total_persons == uniq.series[0].aggregate
    expected = [0] * r.total_periods
    for p in {p for p, _ in rows}:
        expected[len({d // interval_count for pp, d in rows if pp == p}) - 1] += 1
    assert r.persons == expected
