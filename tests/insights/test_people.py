"""People service: list with search and filters, funnel-step ids, profile (both engines)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.insights.errors import NotFound
from yunying.insights.people import list_persons, person_profile
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def seed(store: EventStore) -> None:
    events = [
        ev("anon-1", "$pageview", "2024-03-01 09:00", channel="douyin"),
        ev("alice", "signup", "2024-03-01 09:05", utm_source="baidu"),
        ev("alice", "view", "2024-03-03 23:30"),
        ev("alice", "view", "2024-03-04 00:30"),
        ev("bob", "signup", "2024-03-02 10:00", **{"$referrer": "https://www.xiaohongshu.com/x"}),
        ev("bob", "view", "2024-03-05 10:00"),
        ev("carol", "signup", "2024-02-20 10:00"),
        ev("other", "signup", "2024-03-06 10:00", project_id=2),
    ]
    load(
        store,
        events,
        merges={"anon-1": "alice"},
        person_props={"alice": {"name": "Alice", "city": "上海"}, "bob": {"city": "北京"}},
    )
    load(store, [e for e in events if e.project_id == 2], project_id=2)


def test_list_orders_by_last_activity_and_counts_merged_events(store: EventStore) -> None:
    seed(store)
    page = list_persons(store, CTX)
    assert page.total == 3
    assert [p.id for p in page.persons] == [pid("bob"), pid("alice"), pid("carol")]
    alice = page.persons[1]
    assert (alice.name, alice.events) == ("Alice", 4)  # anon-1's page view counts
    assert page.persons[0].name == "bob"  # no name property: a distinct id


def test_search_filters_and_paging(store: EventStore) -> None:
    seed(store)
    assert [p.id for p in list_persons(store, CTX, search="ALI").persons] == [pid("alice")]
    assert [p.id for p in list_persons(store, CTX, search="anon-1").persons] == [pid("alice")]
    assert [p.id for p in list_persons(store, CTX, search="北京").persons] == [pid("bob")]
    assert list_persons(store, CTX, search="it's \\ nobody").total == 0
    shanghai = PropertyFilter(key="city", value="上海", type="person")
    assert [p.id for p in list_persons(store, CTX, filters=[shanghai]).persons] == [pid("alice")]
    page = list_persons(store, CTX, limit=2, offset=2)
    assert page.total == 3 and [p.id for p in page.persons] == [pid("carol")]
    beyond = list_persons(store, CTX, limit=2, offset=10)
    assert beyond.total == 3 and beyond.persons == []
    only = list_persons(store, CTX, person_ids=[pid("carol"), pid("other", 2)])
    assert [p.id for p in only.persons] == [pid("carol")]


def test_profile(store: EventStore) -> None:
    seed(store)
    profile = person_profile(store, CTX, pid("alice"), days=7, today=date(2024, 3, 5))
    assert profile.name == "Alice" and profile.properties["city"] == "上海"
    assert profile.distinct_ids == ["alice", "anon-1"]
    assert profile.first_touch_channel == "douyin"  # the anonymous first visit
    assert profile.events == 4
    assert [e.event for e in profile.recent] == ["view", "view", "signup", "$pageview"]
    by_day = {d.day: d.events for d in profile.calendar}
    assert len(profile.calendar) == 7 and profile.calendar[-1].day == date(2024, 3, 5)
    assert by_day[date(2024, 3, 1)] == 2 and by_day[date(2024, 3, 3)] == 1
    assert by_day[date(2024, 3, 4)] == 1  # 00:30 Shanghai time is the next local day
    bob = person_profile(store, CTX, pid("bob"), today=date(2024, 3, 5))
    assert bob.first_touch_channel == "xiaohongshu.com"
    with pytest.raises(NotFound):
        person_profile(store, CTX, pid("other", 2))  # another project's person
    with pytest.raises(NotFound):
        person_profile(store, CTX, "no-such-person")


def test_scope_distinct_id_lookup_and_active_days(store: EventStore) -> None:
    from yunying.insights.people import person_scope, resolve_distinct_id

    seed(store)
    ids, where = person_scope(store, CTX, pid("alice"))
    assert ids == ["alice", "anon-1"] and "anon-1" in where
    assert resolve_distinct_id(store, CTX, "anon-1") == pid("alice")
    with pytest.raises(NotFound):
        resolve_distinct_id(store, CTX, "other")  # project 2's id
    profile = person_profile(store, CTX, pid("alice"), days=2, today=date(2024, 3, 5))
    assert profile.active_days == 3  # all history, not only the two calendar days shown
    assert person_profile(store, CTX, pid("carol")).active_days == 1
