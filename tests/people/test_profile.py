"""Profiles: every field on a hand-built person (both engines), the lifecycle stage rules,
derived values and segment memberships when jobs have written them, and their absence."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from tests.db.conftest import db_url, session  # noqa: F401  (fixtures)
from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.db.projects import create_project
from yunying.db.segment_models import Segment
from yunying.insights.errors import NotFound
from yunying.people.profile import full_profile, lifecycle_stage
from yunying.store import derived
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, activation_event="activate")
TODAY = date(2024, 3, 6)  # a Wednesday; its week starts Monday 03-04

EVENTS = [
    ev("anon", "$pageview", "2024-03-01 09:00", **{"$referrer": "https://m.baidu.com/s?wd=x",
       "$current_url": "https://shop.cn/"}),
    ev("anon", "$pageview", "2024-03-01 09:01", **{"$referrer": "https://shop.cn/",
       "$current_url": "https://shop.cn/x"}),  # own site: no touch
    ev("alice", "$identify", "2024-03-01 09:02", **{"$anon_distinct_id": "anon"}),
    ev("alice", "signup", "2024-03-01 09:03", utm_source="douyin", utm_medium="cpc",
       utm_campaign="spring"),
    ev("alice", "activate", "2024-03-02 10:00"),
    ev("alice", "view", "2024-03-05 23:30"),
    ev("alice", "view", "2024-03-06 00:30"),  # the next local day (Shanghai)
    ev("bob", "signup", "2024-03-05 10:00", project_id=2),
]  # fmt: skip


def seed(store: EventStore) -> None:
    load(store, EVENTS, merges={"anon": "alice"}, person_props={"alice": {"name": "Alice"}})
    load(store, [e for e in EVENTS if e.project_id == 2], project_id=2)


def test_profile_fields(store: EventStore) -> None:
    seed(store)
    p = full_profile(store, CTX, pid("alice"), today=TODAY)
    assert (p.name, p.properties, p.distinct_ids) == ("Alice", {"name": "Alice"}, ["alice", "anon"])
    assert p.first_seen is not None and p.first_seen.isoformat() == "2024-03-01T01:00:00+00:00"
    assert p.last_seen is not None and p.last_seen.isoformat() == "2024-03-05T16:30:00+00:00"
    assert p.first_touch_channel == p.attribution.first_touch.channel == "baidu.com"
    assert p.attribution.first_touch.type == "search"
    # conversion defaults to the activation event: the last touch before it is the ad click
    assert p.attribution.conversion_event == "activate"
    assert (p.attribution.last_touch.channel, p.attribution.last_touch.utm_campaign) == (
        "douyin", "spring",
    )  # fmt: skip
    assert p.events == 7 and p.active_days == 4  # 03-01, 03-02, 03-05, 03-06 local
    assert [(c.event, c.count) for c in p.event_counts] == [
        ("$pageview", 2), ("view", 2), ("$identify", 1), ("activate", 1), ("signup", 1),
    ]  # fmt: skip
    assert (p.lifecycle.stage, p.lifecycle.period, p.lifecycle.interval) == (
        "returning", date(2024, 3, 4), "week",
    )  # fmt: skip
    # Nothing derived yet: every derived field is empty, not invented.
    assert (p.activity_layer, p.rfm_group, p.churn_risk, p.p_alive, p.churn_warning) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert p.segments == []
    assert "points" not in p.model_dump() and "messages" not in p.model_dump()


def test_unknown_and_other_projects_persons(store: EventStore) -> None:
    seed(store)
    with pytest.raises(NotFound):
        full_profile(store, CTX, pid("bob", 2), today=TODAY)
    with pytest.raises(NotFound):
        full_profile(store, CTX, "nobody", today=TODAY)


def test_derived_values_and_segments(
    store: EventStore,
    session: Session,  # noqa: F811
) -> None:
    seed(store)
    project, _, _ = create_project(session, name="P")
    named = Segment(project_id=project.id, name="高价值用户", kind="dynamic")
    session.add(named)
    session.commit()
    ctx = ProjectContext(project_id=project.id)
    load(store, [ev("carol", "view", "2024-03-05 10:00", project_id=project.id)],
         project_id=project.id)  # fmt: skip
    carol = pid("carol", project.id)

    def write(name: str, **cols: list) -> None:  # type: ignore[type-arg]
        derived.write_values(store, project.id, name, pa.table({"person_id": [carol], **cols}))

    write("layer:activity", value_str=["core"])
    write("rfm:group", value_str=["important_value"])
    write("score:churn_risk", value_num=[0.82])
    write("score:p_alive", value_num=[0.4])
    write("churn:warning", value_num=[1.0], value_str=["inactive_7d"])
    write(f"segment:{named.id}", value_num=[1.0])
    write("segment:999", value_num=[1.0])  # a segment deleted from the operational store
    write("score:p_alive", value_num=[0.9])  # a newer run wins
    other = pa.table({"person_id": [carol], "value_str": ["churned"]})
    derived.write_values(store, project.id + 100, "layer:activity", other)  # another project
    p = full_profile(store, ctx, carol, session=session, today=TODAY)
    assert (p.activity_layer, p.rfm_group, p.churn_risk, p.p_alive) == (
        "core", "important_value", 0.82, 0.9,
    )  # fmt: skip
    assert p.churn_warning == "inactive_7d"
    assert [(s.segment_id, s.name, s.kind) for s in p.segments] == [
        (str(named.id), "高价值用户", "dynamic")
    ]
    without_session = full_profile(store, ctx, carol, today=TODAY)
    assert {s.segment_id for s in without_session.segments} == {str(named.id), "999"}
    assert all(s.name is None for s in without_session.segments)


@pytest.mark.parametrize(
    ("days", "today", "interval", "stage", "inactive"),
    [
        ({date(2024, 3, 6)}, date(2024, 3, 6), "week", "new", 0),
        ({date(2024, 2, 28), date(2024, 3, 5)}, date(2024, 3, 6), "week", "returning", 0),
        ({date(2024, 2, 20), date(2024, 3, 5)}, date(2024, 3, 6), "week", "resurrecting", 0),
        ({date(2024, 2, 28)}, date(2024, 3, 6), "week", "dormant", 1),
        ({date(2024, 2, 1)}, date(2024, 3, 6), "week", "dormant", 5),
        ({date(2024, 3, 5)}, date(2024, 3, 6), "day", "dormant", 1),
        ({date(2024, 3, 4), date(2024, 3, 6)}, date(2024, 3, 6), "day", "resurrecting", 0),
        ({date(2024, 1, 31), date(2024, 3, 1)}, date(2024, 3, 6), "month", "resurrecting", 0),
        ({date(2024, 3, 7)}, date(2024, 3, 6), "week", None, 0),  # only future activity
        (set(), date(2024, 3, 6), "week", None, 0),
    ],
)
def test_lifecycle_stage(days, today, interval, stage, inactive) -> None:  # type: ignore[no-untyped-def]
    got = lifecycle_stage(days, today, interval)
    assert (got.stage, got.inactive_periods) == (stage, inactive)


def test_lifecycle_week_start_sunday() -> None:
    # 2024-03-03 is a Sunday: with Sunday weeks it starts the current week.
    got = lifecycle_stage({date(2024, 3, 2), date(2024, 3, 3)}, date(2024, 3, 6), "week", 7)
    assert (got.period, got.stage) == (date(2024, 3, 3), "returning")
