"""Funnels on both engines: hand-computed cases, engine agreement, and a reference model."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from statistics import mean, median
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import make_store
from tests.factories import at, ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnels import FunnelQuery, FunnelResult, funnel_persons, run_funnel
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)
WEEK = {"date_from": "2024-01-01", "date_to": "2024-01-07"}


def fq(*steps: str | dict[str, Any], **kw: Any) -> FunnelQuery:
    kw.setdefault("date_range", WEEK)
    return FunnelQuery(steps=[{"event": s} if isinstance(s, str) else s for s in steps], **kw)


def counts(store: EventStore, q: FunnelQuery) -> list[int]:
    return [s.count for s in run_funnel(store, CTX, q).steps]


def persons(store: EventStore, q: FunnelQuery, step: int, **kw: Any) -> set[str]:
    return set(funnel_persons(store, CTX, q, step, limit=10_000, **kw))


# ---- ordered basics ----------------------------------------------------------------------


def test_counts_conversions_and_drop_off(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:05"),
            ev("u1", "C", "2024-01-02 10:10"),
            ev("u2", "A", "2024-01-02 10:00"),
            ev("u2", "B", "2024-01-02 11:00"),
            ev("u3", "A", "2024-01-03 10:00"),
            ev("u4", "B", "2024-01-03 10:00"),  # never enters
        ],
    )
    r = run_funnel(store, CTX, fq("A", "B", "C"))
    assert [s.count for s in r.steps] == [3, 2, 1]
    assert [s.conversion_from_previous for s in r.steps] == pytest.approx([1, 2 / 3, 1 / 2])
    assert [s.conversion_overall for s in r.steps] == pytest.approx([1, 2 / 3, 1 / 3])
    assert [s.dropped_after for s in r.steps] == [1, 1, 0]
    assert r.conversion_rate == pytest.approx(1 / 3)
    assert [s.name for s in r.steps] == ["A", "B", "C"]
    assert r.breakdown == []


def test_empty_funnel(store):
    r = run_funnel(store, CTX, fq("A", "B"))
    assert [s.count for s in r.steps] == [0, 0]
    assert r.conversion_rate is None
    assert r.steps[1].median_time_seconds is None
    assert r.steps[1].average_time_seconds is None


def test_out_of_order_does_not_convert(store):
    load(store, [ev("u1", "B", "2024-01-02 10:00"), ev("u1", "A", "2024-01-02 11:00")])
    assert counts(store, fq("A", "B")) == [1, 0]


def test_same_timestamp_is_not_after(store):
    load(store, [ev("u1", "A", "2024-01-02 10:00"), ev("u1", "B", "2024-01-02 10:00")])
    assert counts(store, fq("A", "B")) == [1, 0]


def test_repeated_step_needs_a_second_occurrence(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:01"),
            ev("u2", "A", "2024-01-02 10:00"),
            ev("u2", "B", "2024-01-02 10:01"),
            ev("u2", "A", "2024-01-02 10:02"),
            ev("u3", "A", "2024-01-02 10:00"),
            ev("u3", "A", "2024-01-02 10:01"),  # before B: cannot be step 3
            ev("u3", "B", "2024-01-02 10:02"),
        ],
    )
    assert counts(store, fq("A", "B", "A")) == [3, 3, 1]
    assert persons(store, fq("A", "B", "A"), 3) == {pid("u2")}


def test_window_end_is_inclusive(store):
    entry = at("2024-01-02 10:00")
    load(
        store,
        [
            ev("in", "A", entry),
            ev("in", "B", entry + timedelta(hours=1)),  # exactly at the window end
            ev("out", "A", entry),
            ev("out", "B", entry + timedelta(hours=1, microseconds=1)),
        ],
    )
    q = fq("A", "B", window=1, window_unit="hours")
    assert counts(store, q) == [2, 1]
    assert persons(store, q, 2) == {pid("in")}


def test_window_is_measured_from_entry_not_reset_per_step(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:50"),
            ev("u1", "C", "2024-01-02 11:40"),  # 50 min after B, 100 min after entry
        ],
    )
    assert counts(store, fq("A", "B", "C", window=60, window_unit="minutes")) == [1, 1, 0]


def test_second_attempt_reaching_further_counts_with_its_times(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 11:00"),
            ev("u1", "A", "2024-01-04 10:00"),
            ev("u1", "B", "2024-01-04 12:00"),
            ev("u1", "C", "2024-01-04 13:00"),
        ],
    )
    r = run_funnel(store, CTX, fq("A", "B", "C", window=1, window_unit="days"))
    assert [s.count for s in r.steps] == [1, 1, 1]
    # Times come from the best attempt (the second), not the first one's A→B hour.
    assert r.steps[1].median_time_seconds == pytest.approx(7200)
    assert r.steps[2].average_time_seconds == pytest.approx(3600)


def test_best_attempt_ties_use_earliest_entry(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:10"),
            ev("u1", "A", "2024-01-05 10:00"),
            ev("u1", "B", "2024-01-05 10:30"),
        ],
    )
    r = run_funnel(store, CTX, fq("A", "B", window=1, window_unit="days"))
    assert r.steps[1].median_time_seconds == pytest.approx(600)


def test_entry_range_uses_project_time_zone(store):
    load(
        store,
        [
            ev("before", "A", "2024-01-01 23:59:59"),  # 2024-01-01 15:59:59 UTC
            ev("before", "B", "2024-01-02 00:10"),
            ev("first", "A", "2024-01-02 00:00"),  # 2024-01-01 16:00 UTC: inside
            ev("first", "B", "2024-01-02 00:10"),
            ev("last", "A", "2024-01-02 23:59:59"),
            ev("last", "B", "2024-01-03 01:00"),  # after the range end, inside the window
            ev("after", "A", "2024-01-03 00:00"),
            ev("after", "B", "2024-01-03 00:10"),
        ],
    )
    q = fq("A", "B", date_range={"date_from": "2024-01-02", "date_to": "2024-01-02"})
    assert counts(store, q) == [2, 2]
    assert persons(store, q, 1) == {pid("first"), pid("last")}
    utc = ProjectContext(project_id=1, timezone="UTC")
    r = run_funnel(store, utc, q)  # in UTC, 2024-01-02 holds "last" and "after" only
    assert [s.count for s in r.steps] == [2, 2]


def test_identity_merge_mid_funnel_joins_the_person(store):
    load(
        store,
        [
            ev("anon-1", "A", "2024-01-02 10:00"),
            ev("user-1", "B", "2024-01-02 10:30"),
            ev("anon-2", "A", "2024-01-02 10:00"),  # not merged: two separate persons
            ev("user-2", "B", "2024-01-02 10:30"),
        ],
        merges={"anon-1": "user-1"},
    )
    q = fq("A", "B")
    assert counts(store, q) == [2, 1]
    assert persons(store, q, 2) == {pid("user-1")}


def test_step_and_global_filters(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00", color="red", os="ios"),
            ev("u1", "B", "2024-01-02 10:05", os="ios"),
            ev("u2", "A", "2024-01-02 10:00", color="blue", os="ios"),
            ev("u2", "B", "2024-01-02 10:05", os="ios"),
            ev("u3", "A", "2024-01-02 10:00", color="red", os="ios"),
            ev("u3", "B", "2024-01-02 10:05", os="android"),  # invisible under the filter
        ],
        person_props={"u1": {"tier": "gold"}, "u3": {"tier": "gold"}},
    )
    red_a = {"event": "A", "filters": [{"key": "color", "value": "red"}]}
    assert counts(store, fq(red_a, "B")) == [2, 2]
    ios = [{"key": "os", "value": "ios"}]
    assert counts(store, fq(red_a, "B", filters=ios)) == [2, 1]
    gold = [{"key": "tier", "value": "gold", "type": "person"}]
    assert counts(store, fq("A", "B", filters=gold)) == [2, 2]
    gold_b = {"event": "B", "filters": gold}
    assert counts(store, fq("A", gold_b)) == [3, 2]


def test_hostile_strings_are_quoted(store):
    name = "it's \\ `x` \" ; DROP TABLE events; --"
    load(
        store,
        [ev("a", name, "2024-01-02 10:00", **{name: "v'1"}), ev("a", "B", "2024-01-02 11:00")],
    )
    step = {"event": name, "filters": [{"key": name, "value": "v'1"}]}
    q = fq(step, "B", breakdown={"property": name})
    r = run_funnel(store, CTX, q)
    assert [s.count for s in r.steps] == [1, 1]
    assert r.breakdown[0].value == "v'1"
    assert funnel_persons(store, CTX, q, 2, breakdown_value="v'1") == [pid("a")]


def test_dialect_epoch_micros_is_exact(store):
    """The dialect helper added for funnels: integer microseconds, same on both engines."""
    ts = datetime(2024, 1, 2, 3, 4, 5, 678901)
    expr = store.dialect.epoch_micros(store.dialect.ts_lit(ts))
    got = store.query(f"SELECT {expr} AS us").to_pylist()[0]["us"]
    assert int(got) == 1704164645678901


# ---- strict and unordered ----------------------------------------------------------------


def test_strict_mode_is_broken_by_an_unrelated_event(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "X", "2024-01-02 10:01"),
            ev("u1", "B", "2024-01-02 10:02"),
            ev("u2", "A", "2024-01-02 10:00"),
            ev("u2", "B", "2024-01-02 10:02"),
            ev("u3", "A", "2024-01-02 10:00"),  # first attempt broken by X ...
            ev("u3", "X", "2024-01-02 10:01"),
            ev("u3", "A", "2024-01-02 10:02"),  # ... the second converts
            ev("u3", "B", "2024-01-02 10:03"),
        ],
    )
    assert counts(store, fq("A", "B", mode="strict")) == [3, 2]
    assert persons(store, fq("A", "B", mode="strict"), 2) == {pid("u2"), pid("u3")}
    assert counts(store, fq("A", "B", mode="ordered")) == [3, 3]
    # a later step right after a broken one does not count: X is not B, so C is not reached
    assert counts(store, fq("A", "X", "B", mode="strict")) == [3, 2, 1]
    assert counts(store, fq("A", "B", "B", mode="strict")) == [3, 2, 0]


def test_strict_mode_window_end_is_inclusive(store):
    entry = at("2024-01-02 10:00")
    load(
        store,
        [
            ev("in", "A", entry),
            ev("in", "B", entry + timedelta(minutes=30)),
            ev("in", "C", entry + timedelta(hours=1)),
            ev("out", "A", entry),
            ev("out", "B", entry + timedelta(minutes=30)),
            ev("out", "C", entry + timedelta(hours=1, microseconds=1)),
        ],
    )
    q = fq("A", "B", "C", mode="strict", window=1, window_unit="hours")
    assert counts(store, q) == [2, 2, 1]


def test_unordered_counts_completed_steps(store):
    load(
        store,
        [
            ev("u1", "C", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 11:00"),
            ev("u1", "A", "2024-01-02 13:00"),
            ev("u2", "B", "2024-01-02 10:00"),
            ev("u2", "A", "2024-01-02 10:30"),
            ev("u3", "C", "2024-01-02 10:00"),
            ev("u4", "A", "2024-01-02 10:00"),
            ev("u4", "C", "2024-01-04 10:00"),  # outside the one-day window
        ],
    )
    q = fq("A", "B", "C", mode="unordered", window=1, window_unit="days")
    r = run_funnel(store, CTX, q)
    assert [s.count for s in r.steps] == [4, 2, 1]
    assert [s.name for s in r.steps] == [
        "completed 1 step",
        "completed 2 steps",
        "completed 3 steps",
    ]
    assert r.steps[0].event is None
    assert r.steps[1].median_time_seconds == pytest.approx(2700)  # u1 3600, u2 1800
    assert r.steps[2].median_time_seconds == pytest.approx(7200)  # u1 11:00 → 13:00
    assert persons(store, q, 2) == {pid("u1"), pid("u2")}
    assert persons(store, q, 1, dropped=True) == {pid("u3"), pid("u4")}


def test_unordered_repeated_step_needs_two_events(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:01"),
            ev("u2", "B", "2024-01-02 10:00"),
            ev("u2", "A", "2024-01-02 10:01"),
            ev("u2", "A", "2024-01-02 10:01"),  # same time: still a second occurrence
            ev("u3", "A", "2024-01-02 10:00"),
            ev("u3", "B", "2024-01-02 10:30"),
            ev("u3", "A", "2024-01-02 11:00"),  # exactly at the window end: inside
        ],
    )
    r = run_funnel(store, CTX, fq("A", "A", "B", mode="unordered", window=1, window_unit="hours"))
    assert [s.count for s in r.steps] == [3, 3, 2]
    assert r.steps[1].median_time_seconds == pytest.approx(60)  # 60, 60, 1800
    assert r.steps[2].median_time_seconds == pytest.approx(900)  # 0, 1800


@pytest.mark.parametrize("mode", ["ordered", "strict", "unordered"])
def test_twenty_steps(store, mode: str):
    names = [f"E{i:02d}" for i in range(20)]
    start = at("2024-01-02 10:00")
    load(
        store,
        [ev("all", n, start + timedelta(minutes=i)) for i, n in enumerate(names)]
        + [ev("half", n, start + timedelta(minutes=i)) for i, n in enumerate(names[:10])],
    )
    r = run_funnel(store, CTX, fq(*names, mode=mode))
    assert [s.count for s in r.steps] == [2] * 10 + [1] * 10
    assert r.steps[19].median_time_seconds == pytest.approx(60)


# ---- exclusions --------------------------------------------------------------------------


def test_exclusions_remove_the_person(store):
    load(
        store,
        [
            # excluded: X between matched A and matched B
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "X", "2024-01-02 10:01"),
            ev("u1", "B", "2024-01-02 10:02"),
            ev("u1", "C", "2024-01-02 10:03"),
            # kept: X between B and C only
            ev("u2", "A", "2024-01-02 10:00"),
            ev("u2", "B", "2024-01-02 10:01"),
            ev("u2", "X", "2024-01-02 10:02"),
            ev("u2", "C", "2024-01-02 10:03"),
            # kept: never reaches B, so nothing is "between A and B"
            ev("u3", "A", "2024-01-02 10:00"),
            ev("u3", "X", "2024-01-02 10:01"),
            # excluded although its second attempt is clean: the whole person goes
            ev("u4", "A", "2024-01-02 10:00"),
            ev("u4", "X", "2024-01-02 10:01"),
            ev("u4", "B", "2024-01-02 10:02"),
            ev("u4", "A", "2024-01-05 10:00"),
            ev("u4", "B", "2024-01-05 10:01"),
            ev("u4", "C", "2024-01-05 10:02"),
            # kept: X at the same instant as A is not strictly between
            ev("u5", "A", "2024-01-02 10:00"),
            ev("u5", "X", "2024-01-02 10:00"),
            ev("u5", "B", "2024-01-02 10:01"),
            # kept: X at the same instant as B is not strictly between either
            ev("u6", "A", "2024-01-02 10:00"),
            ev("u6", "B", "2024-01-02 10:01"),
            ev("u6", "X", "2024-01-02 10:01"),
        ],
    )
    q = fq("A", "B", "C", exclusions=[{"event": "X", "from_step": 1, "to_step": 2}])
    assert counts(store, q) == [4, 3, 1]
    assert persons(store, q, 1) == {pid("u2"), pid("u3"), pid("u5"), pid("u6")}
    wide = fq("A", "B", "C", exclusions=[{"event": "X", "from_step": 1, "to_step": 3}])
    assert counts(store, wide) == [3, 2, 0]  # u2 now excluded too (X before its C)
    late = fq("A", "B", "C", exclusions=[{"event": "X", "from_step": 2, "to_step": 3}])
    assert counts(store, late) == [5, 4, 2]  # only u2: u1's X is before its matched B
    assert counts(store, fq("A", "B", "C")) == [6, 5, 3]


def test_exclusion_in_strict_mode(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:01"),
            ev("u1", "C", "2024-01-02 10:02"),
        ],
    )
    ex = [{"event": "B", "from_step": 1, "to_step": 3}]
    assert counts(store, fq("A", "B", "C", mode="strict", exclusions=ex)) == [0, 0, 0]
    assert counts(store, fq("A", "B", "C", mode="strict")) == [1, 1, 1]


# ---- breakdown, times, persons -----------------------------------------------------------


def _breakdown_events() -> list:
    return [
        ev("u1", "A", "2024-01-02 10:00", plan="pro"),
        ev("u1", "B", "2024-01-02 10:01"),
        ev("u2", "A", "2024-01-02 10:00", plan="free"),
        ev("u3", "A", "2024-01-02 10:00", plan="pro"),
        ev("u3", "B", "2024-01-02 10:01"),
        ev("u4", "A", "2024-01-02 10:00"),
        ev("u4", "B", "2024-01-02 10:01"),
        # first attempt "free" does not convert; the best attempt (second) is "pro"
        ev("u5", "A", "2024-01-02 10:00", plan="free"),
        ev("u5", "A", "2024-01-05 10:00", plan="pro"),
        ev("u5", "B", "2024-01-05 10:01"),
    ]


def test_breakdown_by_event_property_of_best_attempt(store):
    load(store, _breakdown_events(), person_props={"u1": {"tier": "gold"}})
    q = fq("A", "B", window=1, window_unit="days", breakdown={"property": "plan"})
    r = run_funnel(store, CTX, q)
    assert [s.count for s in r.steps] == [5, 4]
    got = {b.value: [s.count for s in b.steps] for b in r.breakdown}
    assert got == {"pro": [3, 3], "free": [1, 0], "$none": [1, 1]}
    assert [b.value for b in r.breakdown] == ["pro", "$none", "free"]
    assert r.breakdown[0].conversion_rate == pytest.approx(1.0)
    assert persons(store, q, 1, breakdown_value="free") == {pid("u2")}
    top1 = q.model_copy(update={"breakdown": q.breakdown.model_copy(update={"limit": 1})})
    got = {b.value: [s.count for s in b.steps] for b in run_funnel(store, CTX, top1).breakdown}
    assert got == {"pro": [3, 3], "$other": [2, 1]}
    by_person = fq("A", "B", breakdown={"property": "tier", "type": "person"})
    got = {b.value: [s.count for s in b.steps] for b in run_funnel(store, CTX, by_person).breakdown}
    assert got == {"gold": [1, 1], "$none": [4, 3]}


def test_time_to_convert_median_and_average(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00:00"),
            ev("u1", "B", "2024-01-02 10:01:00"),
            ev("u2", "A", "2024-01-02 10:00:00"),
            ev("u2", "B", "2024-01-02 10:02:00"),
            ev("u3", "A", "2024-01-02 10:00:00"),
            ev("u3", "B", "2024-01-02 10:10:00"),
            ev("u4", "A", "2024-01-02 10:00:00"),
        ],
    )
    r = run_funnel(store, CTX, fq("A", "B"))
    assert r.steps[0].median_time_seconds is None
    assert r.steps[1].median_time_seconds == pytest.approx(120)
    assert r.steps[1].average_time_seconds == pytest.approx(260)


def test_persons_and_dropped_agree_with_counts(store):
    load(
        store,
        [
            ev("u1", "A", "2024-01-02 10:00"),
            ev("u1", "B", "2024-01-02 10:05"),
            ev("u1", "C", "2024-01-02 10:10"),
            ev("u2", "A", "2024-01-02 10:00"),
            ev("u2", "B", "2024-01-02 11:00"),
            ev("u3", "A", "2024-01-03 10:00"),
            ev("u4", "A", "2024-01-03 10:00"),
        ],
    )
    q = fq("A", "B", "C")
    r = run_funnel(store, CTX, q)
    for s in r.steps:
        assert len(persons(store, q, s.step)) == s.count
        assert len(persons(store, q, s.step, dropped=True)) == s.dropped_after
    assert persons(store, q, 1, dropped=True) == {pid("u3"), pid("u4")}
    assert persons(store, q, 2, dropped=True) == {pid("u2")}
    assert persons(store, q, 3, dropped=True) == set()
    everyone = funnel_persons(store, CTX, q, 1)
    assert everyone == sorted(everyone)
    page = funnel_persons(store, CTX, q, 1, limit=2, offset=1)
    assert page == everyone[1:3]
    with pytest.raises(ValueError):
        funnel_persons(store, CTX, q, 4)
    with pytest.raises(ValueError):
        funnel_persons(store, CTX, q, 1, breakdown_value="x")


def test_docs_worked_example(store):
    """The example table in docs/metrics.md ("Funnels"), number for number."""
    load(
        store,
        [
            ev("alice", "view", "2024-01-02 10:00"),
            ev("alice", "cart", "2024-01-02 10:05"),
            ev("alice", "buy", "2024-01-02 10:35"),
            ev("bob", "view", "2024-01-02 09:00"),
            ev("bob", "buy", "2024-01-02 09:10"),
            ev("bob", "cart", "2024-01-02 09:20"),
            ev("carol", "view", "2024-01-03 12:00"),
            ev("carol", "view", "2024-01-05 11:00"),
            ev("carol", "cart", "2024-01-05 11:30"),
            ev("dave", "cart", "2024-01-02 10:00"),
            ev("erin", "view", "2024-01-07 23:30"),
            ev("erin", "cart", "2024-01-08 00:10"),
            ev("erin", "buy", "2024-01-08 00:20"),
        ],
    )
    q = fq("view", "cart", "buy", window=1, window_unit="days")
    r = run_funnel(store, CTX, q)
    assert [s.count for s in r.steps] == [4, 4, 2]
    assert [s.conversion_from_previous for s in r.steps] == pytest.approx([1, 1, 0.5])
    assert [s.median_time_seconds for s in r.steps] == [None, 1500, 1200]
    assert [s.average_time_seconds for s in r.steps] == [None, 1425, 1200]
    assert [s.dropped_after for s in r.steps] == [0, 2, 0]
    assert counts(store, q.model_copy(update={"mode": "strict"})) == [4, 3, 2]
    load(store, [ev("alice", "cancel", "2024-01-02 10:20")])
    ex = fq(
        "view",
        "cart",
        "buy",
        window=1,
        window_unit="days",
        exclusions=[{"event": "cancel", "from_step": 2, "to_step": 3}],
    )
    assert counts(store, ex) == [3, 3, 1]


# ---- validation (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"steps": [{"event": "A"}]},
        {"steps": [{"event": "A"}] * 21},
        {"exclusions": [{"event": "X", "from_step": 2, "to_step": 2}]},
        {"exclusions": [{"event": "X", "from_step": 1, "to_step": 3}]},
        {"mode": "unordered", "exclusions": [{"event": "X", "from_step": 1, "to_step": 2}]},
        {"window": 53, "window_unit": "weeks"},
        {"window": 0},
        {"mode": "sideways"},
    ],
)
def test_invalid_queries_are_rejected(kw: dict[str, Any]):
    base: dict[str, Any] = {"steps": [{"event": "A"}, {"event": "B"}]}
    with pytest.raises(ValidationError):
        FunnelQuery(**(base | kw))


def test_window_units():
    assert fq("A", "B").window_seconds == 14 * 86400
    assert fq("A", "B", window=90, window_unit="minutes").window_seconds == 5400
    assert fq("A", "B", window=2, window_unit="weeks").window_seconds == 14 * 86400


# ---- engines agree on random data --------------------------------------------------------


def _random_events(seed: int, n: int = 400) -> tuple[list, dict[str, str]]:
    rnd = random.Random(seed)
    people = [f"p{i}" for i in range(25)]
    base = at("2024-01-01 00:00")
    events = []
    for _ in range(n):
        when = base + timedelta(minutes=rnd.randrange(0, 9 * 24 * 60, 7))
        events.append(
            ev(
                rnd.choice(people),
                rnd.choice("AAABBBCCX"),
                when,
                plan=rnd.choice(["pro", "free", None]),
                n=rnd.randrange(3),
            )
        )
    merges = {f"p{i}": f"p{i + 1}" for i in range(0, 10, 3)}
    return events, merges


RANDOM_QUERIES = [
    fq("A", "B", "C", window=1, window_unit="days"),
    fq(
        "A",
        {"event": "B", "filters": [{"key": "n", "operator": "gte", "value": 1}]},
        "C",
        window=2,
        window_unit="days",
        exclusions=[{"event": "X", "from_step": 1, "to_step": 2}],
        breakdown={"property": "plan"},
    ),
    fq("A", "B", "A", "C", window=12, window_unit="hours", breakdown={"property": "plan"}),
    fq("A", "B", "C", mode="strict", window=3, window_unit="days", breakdown={"property": "n"}),
    fq("A", "B", "X", mode="strict", exclusions=[{"event": "C", "from_step": 1, "to_step": 3}]),
    fq(
        "A",
        "B",
        "C",
        mode="unordered",
        window=6,
        window_unit="hours",
        breakdown={"property": "plan"},
    ),
    fq("A", "A", "B", "C", mode="unordered", window=1, window_unit="days"),
]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.clickhouse
def test_engines_agree_on_random_data(both):
    duck, ch = both
    events, merges = _random_events(seed=20240101)
    for s in both:
        load(s, events, merges=merges)
    for q in RANDOM_QUERIES:
        a = run_funnel(duck, CTX, q).model_dump()
        b = run_funnel(ch, CTX, q).model_dump()
        assert _close(a, b), (q.mode, a, b)
        assert a["steps"][0]["count"] > 0
        for step in range(1, len(q.steps) + 1):
            for dropped in (False, True):
                pa = funnel_persons(duck, CTX, q, step, dropped=dropped, limit=1000)
                pb = funnel_persons(ch, CTX, q, step, dropped=dropped, limit=1000)
                assert pa == pb


# ---- a pure-Python reference, checked on random small sequences --------------------------

BASE = at("2024-01-01 00:00")
RANGE_START, RANGE_END = at("2024-01-02 00:00"), at("2024-01-04 00:00")
REF_RANGE = {"date_from": "2024-01-02", "date_to": "2024-01-03"}

Ev = tuple[str, str, datetime, int]  # person, event name, time, sequence (uuid order)


def _reach_exhaustive(evs: list[Ev], steps: list[str], k: int, prev: datetime, end: datetime):
    """Furthest step reachable trying every qualifying event (checks greedy optimality)."""
    if k == len(steps):
        return k
    best = k
    for _, name, t, _ in evs:
        if name == steps[k] and prev < t <= end:
            best = max(best, _reach_exhaustive(evs, steps, k + 1, t, end))
    return best


def _greedy(evs: list[Ev], steps: list[str], entry: Ev, window: timedelta) -> list[datetime]:
    times = [entry[2]]
    for name in steps[1:]:
        nxt = [t for _, n, t, _ in evs if n == name and times[-1] < t <= entry[2] + window]
        if not nxt:
            break
        times.append(min(nxt))
    return times


def reference_ordered(
    events: list[Ev], steps: list[str], window: timedelta, exclusion: tuple[str, int, int] | None
) -> tuple[list[int], list[list[float]], dict[str, int]]:
    """Brute force: counts per step, conversion times per step, reached per person."""
    reached: dict[str, int] = {}
    times: dict[str, list[datetime]] = {}
    excluded = set()
    for person in sorted({e[0] for e in events}):
        evs = sorted((e for e in events if e[0] == person), key=lambda e: (e[2], e[3]))
        entries = [e for e in evs if e[1] == steps[0] and RANGE_START <= e[2] < RANGE_END]
        best: tuple[int, datetime, int] | None = None
        for entry in entries:
            chain = _greedy(evs, steps, entry, window)
            assert len(chain) == _reach_exhaustive(evs, steps, 1, entry[2], entry[2] + window)
            if exclusion and len(chain) >= exclusion[2]:
                ta, tb = chain[exclusion[1] - 1], chain[exclusion[2] - 1]
                if any(n == exclusion[0] and ta < t < tb for _, n, t, _ in evs):
                    excluded.add(person)
            key = (-len(chain), entry[2], entry[3])
            if best is None or key < best:
                best = key
                times[person] = chain
        if best is not None:
            reached[person] = -best[0]
    for person in excluded:
        reached.pop(person, None)
    n = len(steps)
    cnt = [sum(1 for r in reached.values() if r >= k) for k in range(1, n + 1)]
    deltas = [
        [(times[p][k] - times[p][k - 1]).total_seconds() for p in reached if reached[p] > k]
        for k in range(1, n)
    ]
    return cnt, deltas, reached


def reference_strict(events: list[Ev], steps: list[str], window: timedelta) -> list[int]:
    reached: dict[str, int] = {}
    for person in {e[0] for e in events}:
        evs = sorted((e for e in events if e[0] == person), key=lambda e: (e[2], e[3]))
        for _, k in _reached_per_entry(evs, steps, window, "strict"):
            reached[person] = max(reached.get(person, 0), k)
    return [sum(1 for r in reached.values() if r >= k) for k in range(1, len(steps) + 1)]


def reference_unordered(events: list[Ev], steps: list[str], window: timedelta) -> list[int]:
    reached: dict[str, int] = {}
    need = {s: steps.count(s) for s in steps}
    for person in {e[0] for e in events}:
        evs = [e for e in events if e[0] == person and e[1] in need]
        for a in evs:
            if not RANGE_START <= a[2] < RANGE_END:
                continue
            inside = [e[1] for e in evs if a[2] <= e[2] <= a[2] + window]
            done = sum(min(inside.count(s), m) for s, m in need.items())
            reached[person] = max(reached.get(person, 0), done)
    return [sum(1 for r in reached.values() if r >= k) for k in range(1, len(steps) + 1)]


event_lists = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.sampled_from(["A", "B", "C", "X"]),
        st.integers(min_value=0, max_value=5 * 24),  # whole hours (many ties) from Jan 1
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=event_lists,
    steps=st.lists(st.sampled_from(["A", "B", "C"]), min_size=2, max_size=4),
    window_hours=st.sampled_from([1, 6, 24, 48]),
    exclude=st.booleans(),
    pair=st.integers(min_value=0, max_value=5),
)
def test_ordered_matches_reference(raw, steps, window_hours, exclude, pair):
    store = make_store("duckdb")
    try:
        made = [ev(p, name, BASE + timedelta(hours=h)) for p, name, h in raw]
        load(store, made)
        events = [(e.distinct_id, e.event, e.timestamp, i) for i, e in enumerate(made)]
        window = timedelta(hours=window_hours)
        pairs = [(a, b) for b in range(2, len(steps) + 1) for a in range(1, b)]
        a, b = pairs[pair % len(pairs)]  # exclusion between the matched steps a and b
        exclusion = ("X", a, b) if exclude else None
        q = fq(
            *steps,
            date_range=REF_RANGE,
            window=window_hours,
            window_unit="hours",
            exclusions=[{"event": "X", "from_step": a, "to_step": b}] if exclude else [],
        )
        r: FunnelResult = run_funnel(store, CTX, q)
        want, deltas, reached = reference_ordered(events, steps, window, exclusion)
        got = [s.count for s in r.steps]
        assert got == want
        assert all(a >= b for a, b in itertools.pairwise(got))
        for s, d in zip(r.steps[1:], deltas, strict=True):
            if d:
                assert s.median_time_seconds == pytest.approx(median(d))
                assert s.average_time_seconds == pytest.approx(mean(d))
            else:
                assert s.median_time_seconds is None
        last = funnel_persons(store, CTX, q, len(steps), limit=100)
        assert last == sorted(pid(p) for p, k in reached.items() if k == len(steps))

        strict = run_funnel(store, CTX, q.model_copy(update={"mode": "strict"}))
        assert [s.count for s in strict.steps] == reference_strict(events, steps, window)
        un = run_funnel(store, CTX, q.model_copy(update={"mode": "unordered", "exclusions": []}))
        got_un = [s.count for s in un.steps]
        assert got_un == reference_unordered(events, steps, window)
        assert all(a >= b for a, b in itertools.pairwise(got_un))
    finally:
        store.close()


def _reached_per_entry(
    evs: list[Ev], steps: list[str], window: timedelta, mode: str
) -> list[tuple[Ev, int]]:
    """(entry, reached) for each attempt of one person (events sorted by time, then uuid)."""
    out = []
    for i, e in enumerate(evs):
        if e[1] != steps[0] or not RANGE_START <= e[2] < RANGE_END:
            continue
        if mode == "ordered":
            out.append((e, len(_greedy(evs, steps, e, window))))
            continue
        k = 1
        while (
            k < len(steps)
            and i + k < len(evs)
            and evs[i + k][1] == steps[k]
            and evs[i + k - 1][2] < evs[i + k][2] <= e[2] + window
        ):
            k += 1
        out.append((e, k))
    return out


tagged_event_lists = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2"]),
        st.sampled_from(["A", "A", "B", "C"]),
        st.integers(min_value=20, max_value=3 * 24),  # whole hours: entries often tie
        st.sampled_from(["x", "y", None]),
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=tagged_event_lists,
    steps=st.lists(st.sampled_from(["A", "B", "C"]), min_size=2, max_size=3),
    window_hours=st.sampled_from([1, 6, 24]),
    mode=st.sampled_from(["ordered", "strict"]),
)
def test_breakdown_follows_the_best_attempt(engine, raw, steps, window_hours, mode):
    """The breakdown value is the best attempt's entry's: furthest step, then earliest
    entry, then uuid, which decides between entries at the same instant."""
    store = make_store(engine)
    try:
        made = [
            ev(p, name, BASE + timedelta(hours=h), **({"plan": v} if v else {}))
            for p, name, h, v in raw
        ]
        load(store, made)
        window = timedelta(hours=window_hours)
        events = [(e.distinct_id, e.event, e.timestamp, i) for i, e in enumerate(made)]
        best: dict[str, tuple[int, str]] = {}
        for person in sorted({e[0] for e in events}):
            evs = sorted((e for e in events if e[0] == person), key=lambda e: (e[2], e[3]))
            attempts = _reached_per_entry(evs, steps, window, mode)
            if attempts:
                entry, k = min(attempts, key=lambda a: (-a[1], a[0][2], a[0][3]))
                best[person] = (k, made[entry[3]].properties.get("plan") or "$none")
        q = fq(
            *steps,
            mode=mode,
            date_range=REF_RANGE,
            window=window_hours,
            window_unit="hours",
            breakdown={"property": "plan"},
        )
        r = run_funnel(store, CTX, q)
        want = {
            v: [
                sum(1 for k, b in best.values() if b == v and k >= s)
                for s in range(1, len(steps) + 1)
            ]
            for v in {b for _, b in best.values()}
        }
        assert {b.value: [s.count for s in b.steps] for b in r.breakdown} == want
        for v in want:
            got = funnel_persons(store, CTX, q, 1, breakdown_value=v, limit=100)
            assert got == sorted(pid(p) for p, (_, b) in best.items() if b == v)
    finally:
        store.close()
