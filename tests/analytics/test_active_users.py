"""Active users (DAU/WAU/MAU): hand-computed cases, engine comparison, reference check."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ev, load, random_events
from yunying.analytics.active_users import ActiveUsersQuery, run_active_users
from yunying.analytics.context import ProjectContext
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def q(date_from: str, date_to: str, **kw: Any) -> ActiveUsersQuery:
    return ActiveUsersQuery(date_range={"date_from": date_from, "date_to": date_to}, **kw)


def test_local_day_boundary(store: EventStore) -> None:
    # 15:30 and 16:30 UTC on 2024-01-01: two local days in Shanghai, one in UTC.
    load(store, [ev("a", "pv", "2024-01-01 23:30"), ev("b", "pv", "2024-01-02 00:30")])
    r = run_active_users(store, CTX, q("2024-01-01", "2024-01-02"))
    assert r.days == [date(2024, 1, 1), date(2024, 1, 2)]
    assert (r.dau, r.wau, r.mau) == ([1, 1], [1, 2], [1, 2])
    assert r.dau_mau == [1.0, 0.5]
    utc = run_active_users(store, ProjectContext(1, timezone="UTC"), q("2024-01-01", "2024-01-02"))
    assert (utc.dau, utc.wau) == ([2, 0], [2, 2])


def test_trailing_windows_merge_and_changes(store: EventStore) -> None:
    load(
        store,
        [
            ev("d", "pv", "2023-12-15 10:00"),  # before the range: still in early MAU windows
            ev("a", "pv", "2024-01-01 10:00"),
            ev("b", "pv", "2024-01-05 10:00"),
            ev("b", "pv", "2024-01-06 10:00"),
            ev("c", "pv", "2024-01-20 10:00"),  # c is b after the merge
        ],
        merges={"c": "b"},
    )
    r = run_active_users(store, CTX, q("2024-01-01", "2024-01-31"))
    day = {d: i for i, d in enumerate(r.days)}

    def at(m: int) -> tuple[int, int, int]:
        i = day[date(2024, 1, m)]
        return r.dau[i], r.wau[i], r.mau[i]

    assert len(r.days) == 31
    assert at(1) == (1, 1, 2)  # a; MAU window 12-03..01-01 also holds d
    assert at(5) == (1, 2, 3)
    assert at(7) == (0, 2, 3)  # WAU window 01-01..01-07: a, b
    assert at(8) == (0, 1, 3)  # a dropped out of the 7-day window
    assert at(12) == (0, 1, 3)
    assert at(13) == (0, 0, 3)  # MAU window 12-15..01-13 still holds d
    assert at(14) == (0, 0, 2)
    assert at(20) == (1, 1, 2)  # c counts as b: a and b, not three persons
    assert at(26) == (0, 1, 2)
    assert at(27) == (0, 0, 2)
    assert at(30) == (0, 0, 2)
    assert at(31) == (0, 0, 1)  # MAU window 01-02..01-31: b only
    assert r.dau_mau[day[date(2024, 1, 20)]] == 0.5
    assert r.dau_mau[day[date(2024, 1, 31)]] == 0.0
    assert r.dau_change.model_dump() == {"current": 0, "previous": 0, "change": None}
    # WAU 01-25..01-31 = 0 vs 01-18..01-24 = 1 (b); MAU 1 vs window ending 01-01 = 2 (a, d).
    assert r.wau_change.model_dump() == {"current": 0, "previous": 1, "change": -1.0}
    assert r.mau_change.model_dump() == {"current": 1, "previous": 2, "change": -0.5}


def test_changes_reach_before_the_range(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-02-09 10:00"),
            ev("a", "pv", "2024-02-10 10:00"),
            ev("b", "pv", "2024-02-10 11:00"),
            ev("c", "pv", "2024-01-05 11:00"),  # in the previous 30-day window only
        ],
    )
    r = run_active_users(store, CTX, q("2024-02-10", "2024-02-10"))
    assert (r.dau, r.wau, r.mau) == ([2], [2], [2])
    assert r.dau_change.model_dump() == {"current": 2, "previous": 1, "change": 1.0}
    assert r.wau_change.model_dump() == {"current": 2, "previous": 0, "change": None}
    # previous MAU window: 30 days ending 2024-01-11 = 2023-12-13..2024-01-11 → c.
    assert r.mau_change.model_dump() == {"current": 2, "previous": 1, "change": 1.0}


def test_event_and_filters(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "buy", "2024-01-01 10:00", plan="pro"),
            ev("b", "pv", "2024-01-01 10:00"),
            ev("c", "buy", "2024-01-01 10:00", plan="free"),
        ],
        person_props={"a": {"vip": True}, "c": {"vip": False}},
    )
    d = ("2024-01-01", "2024-01-01")
    assert run_active_users(store, CTX, q(*d)).dau == [3]
    assert run_active_users(store, CTX, q(*d, event="buy")).dau == [2]
    pro = [{"key": "plan", "value": "pro"}]
    assert run_active_users(store, CTX, q(*d, event="buy", filters=pro)).dau == [1]
    vip = [{"key": "vip", "value": True, "type": "person"}]
    assert run_active_users(store, CTX, q(*d, filters=vip)).dau == [1]
    assert run_active_users(store, CTX, q(*d, event="nothing")).dau == [0]


def test_query_model() -> None:
    query = ActiveUsersQuery()
    assert query.kind == "active_users"
    assert query.event is None
    assert "event" in ActiveUsersQuery.model_json_schema()["properties"]


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    rnd = random.Random(11)
    events = random_events(
        rnd, 400, start=date(2024, 1, 1), days=75, persons=40, plan=["pro", "free"]
    )
    merges = {f"u{i}": f"u{i + 1}" for i in range(0, 20, 4)}
    for s in both:
        load(s, events, merges=merges)
    for query in (
        q("2024-02-01", "2024-03-15"),
        q("2024-02-20", "2024-03-01", event="buy", filters=[{"key": "plan", "value": "pro"}]),
    ):
        a, b = (run_active_users(s, CTX, query).model_dump() for s in both)
        assert a == b
        assert max(a["mau"]) > 0


_project = itertools.count(2000)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 70)), max_size=25))
def test_matches_python_reference(store: EventStore, rows: list[tuple[int, int]]) -> None:
    """DAU/WAU/MAU equal a direct count of persons over each trailing window."""
    project = next(_project)
    base = date(2024, 1, 1)
    load(
        store,
        [
            ev(f"p{p}", "pv", f"{base + timedelta(days=d)} 12:00", project_id=project)
            for p, d in rows
        ],
        project_id=project,
    )
    r = run_active_users(store, ProjectContext(project), q("2024-02-01", "2024-03-11"))
    for i, day in enumerate(r.days):
        offset = (day - base).days

        def active(width: int, offset: int = offset) -> int:
            return len({p for p, d in rows if offset - width < d <= offset})

        assert (r.dau[i], r.wau[i], r.mau[i]) == (active(1), active(7), active(30))


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Shanghai"])
def test_synthetic_product_across_dst(store: EventStore, tz: str) -> None:
    """Merged ids and local days in a zone whose 2024-03-10 is 23 h long (or 8 h off UTC):
    every day's counts equal a direct count over the persons' local dates."""
    from tests.analytics.test_aarrr import synthetic

    events, merges = synthetic(tz)
    load(store, events, merges=merges)
    zone = ZoneInfo(tz)
    days_of: dict[str, set[date]] = {}
    for e in events:
        person = merges.get(e.distinct_id, e.distinct_id)
        days_of.setdefault(person, set()).add(e.timestamp.astimezone(zone).date())
    r = run_active_users(store, ProjectContext(1, timezone=tz), q("2024-03-01", "2024-03-31"))

    def active(day: date, width: int) -> int:
        window = {day - timedelta(days=k) for k in range(width)}
        return sum(bool(days & window) for days in days_of.values())

    assert r.dau == [active(d, 1) for d in r.days]
    assert r.wau == [active(d, 7) for d in r.days]
    assert r.mau == [active(d, 30) for d in r.days]
    assert r.mau_change.previous == active(date(2024, 3, 1), 30)
    assert max(r.dau) > 0
