"""Latest events and event definitions (both engines)."""

from __future__ import annotations

from datetime import date

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.insights.explore import event_definitions, event_names, latest_events
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def seed(store: EventStore) -> None:
    load(
        store,
        [
            ev("anon", "$pageview", "2024-03-01 09:00", **{"$current_url": "https://a.cn/x"}),
            ev("u1", "signup", "2024-03-01 09:05", channel="douyin"),
            ev("u1", "view", "2024-03-20 10:00", category="美食"),
            ev("u2", "view", "2024-03-21 10:00", category="旅行"),
            ev("u2", "pay", "2024-01-01 10:00", **{"$revenue": 6}),
            ev("x", "view", "2024-03-22 10:00", project_id=2),
        ],
        merges={"anon": "u1"},
        person_props={"u2": {"city": "北京"}},
    )


def test_latest_events_newest_first_with_filters(store: EventStore) -> None:
    seed(store)
    rows = latest_events(store, CTX)
    assert [r.event for r in rows] == ["view", "view", "signup", "$pageview", "pay"]
    assert rows[-2].person_id == pid("u1") and rows[-2].distinct_id == "anon"
    assert rows[0].properties["category"] == "旅行"
    assert [r.distinct_id for r in latest_events(store, CTX, event="view")] == ["u2", "u1"]
    food = PropertyFilter(key="category", value="美食")
    assert [r.distinct_id for r in latest_events(store, CTX, filters=[food])] == ["u1"]
    city = PropertyFilter(key="city", value="北京", type="person")
    assert [r.event for r in latest_events(store, CTX, filters=[city])] == ["view", "pay"]
    assert len(latest_events(store, CTX, limit=2)) == 2


def test_event_definitions_count_the_last_30_days(store: EventStore) -> None:
    seed(store)
    defs = {d.event: d for d in event_definitions(store, CTX, today=date(2024, 3, 25))}
    assert set(defs) == {"$pageview", "signup", "view", "pay"}
    assert (defs["view"].volume, defs["view"].total) == (2, 2)
    assert (defs["pay"].volume, defs["pay"].total) == (0, 1)
    assert defs["signup"].volume == 1 and defs["signup"].last_seen is not None
    assert event_names(store, CTX)[0] == "view"
