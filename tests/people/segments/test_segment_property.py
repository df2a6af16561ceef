"""The key property: random DSL trees give the members the pure-Python reference gives, on
both engines, over random events with identity merges; plus the set identities."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ENGINES, make_store
from tests.factories import ev, load, pid
from tests.people.segments import reference
from yunying.analytics.context import ProjectContext
from yunying.people.segments import dsl
from yunying.people.segments.compile import SegmentRef, compile_segment
from yunying.store import derived
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)
TODAY = date(2024, 1, 10)
IDS = [f"u{i}" for i in range(12)]
MERGES = {"u10": "u1", "u11": "u2", "u9": "u3"}
PLANS = ["free", "pro", "it's", "a;b", "%_x"]
STATIC = {pid("u1"), pid("u4"), pid("u5")}
DYNAMIC_DEF = {"type": "behaviour", "event": "buy", "window": {"last_days": 5}}


def _events() -> list[Any]:
    rnd = random.Random(7)
    out = []
    for _ in range(160):
        day = date(2023, 12, 28).toordinal() + rnd.randrange(16)
        minute = rnd.randrange(24 * 60)
        props: dict[str, Any] = {}
        if rnd.random() < 0.7:
            props["amount"] = rnd.randrange(1, 20)
        if rnd.random() < 0.6:
            props["plan"] = rnd.choice(PLANS)
        out.append(
            ev(
                rnd.choice(IDS),
                rnd.choice(["pv", "buy", "share"]),
                f"{date.fromordinal(day)} {minute // 60:02d}:{minute % 60:02d}",
                **props,
            )
        )
    return out


EVENTS = _events()
PERSON_PROPS: dict[str, dict[str, Any]] = {
    "u0": {"plan": "pro", "age": 30, "signup": "2024-01-02"},
    "u1": {"plan": "free", "age": 17, "signup": "2024-01-08T23:30:00"},
    "u2": {"plan": "it's", "signup": "2024-01-09T16:30:00Z"},
    "u3": {"age": 45, "signup": "not a date"},
    "u4": {"plan": "%_x", "vip": True, "signup": "2023-12-01"},
}
VALUES = {
    "layer:activity": {
        pid("u0"): (None, "core"),
        pid("u1"): (None, "silent"),
        pid("u5"): (None, "core"),
    },
    "score:churn_risk": {pid("u0"): (0.9, None), pid("u2"): (0.2, None), pid("u6"): (0.5, None)},
}


def _person_of(distinct_id: str) -> str:
    return pid(MERGES.get(distinct_id, distinct_id))


def _world() -> reference.World:
    w = reference.world(
        CTX,
        TODAY,
        EVENTS,
        person_of=_person_of,
        props={pid(k): v for k, v in PERSON_PROPS.items()},
    )
    w.values = VALUES
    w.segments = {100: STATIC, 101: dsl.parse_definition(DYNAMIC_DEF)}
    return w


WORLD = _world()


def resolve(segment_id: int) -> SegmentRef | None:
    if segment_id == 100:
        return SegmentRef(100, None)
    if segment_id == 101:
        return SegmentRef(101, dsl.parse_definition(DYNAMIC_DEF))
    return None


@pytest.fixture(scope="module", params=ENGINES)
def loaded(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    store = make_store(request.param)
    load(store, EVENTS, merges=MERGES, person_props=PERSON_PROPS)
    for name, values in VALUES.items():
        ids = sorted(values)
        derived.write_values(
            store,
            1,
            name,
            pa.table(
                {
                    "person_id": ids,
                    "value_num": [values[i][0] for i in ids],
                    "value_str": [values[i][1] for i in ids],
                }
            ),
        )
    derived.write_values(store, 1, "segment:100", pa.table({"person_id": sorted(STATIC)}))
    yield store
    store.close()


def members(store: EventStore, definition: Any) -> set[str]:
    sql = compile_segment(store.dialect, CTX, definition, today=TODAY, resolve=resolve)
    got = [r["person_id"] for r in store.query(sql + store.dialect.settings_suffix()).to_pylist()]
    assert len(got) == len(set(got)), "a person listed twice"
    return set(got)


# ---- random trees ------------------------------------------------------------------------

windows = st.one_of(
    st.builds(lambda n: {"last_days": n}, st.integers(1, 14)),
    st.builds(
        lambda a, n: {
            "date_from": date.fromordinal(date(2023, 12, 28).toordinal() + a).isoformat(),
            "date_to": date.fromordinal(date(2023, 12, 28).toordinal() + a + n).isoformat(),
        },
        st.integers(0, 14),
        st.integers(0, 6),
    ),
)
event_names = st.sampled_from(["pv", "buy", "share"])
matches = st.one_of(
    st.builds(
        lambda op, v: {"key": "amount", "operator": op, "value": v},
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(0, 20),
    ),
    st.builds(
        lambda op, v: {"key": "plan", "operator": op, "value": v},
        st.sampled_from(["eq", "neq", "contains", "not_contains"]),
        st.sampled_from([*PLANS, "'", "%", "_"]),
    ),
    st.builds(
        lambda op, v: {"key": "plan", "operator": op, "value": v},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(PLANS), min_size=1, max_size=3),
    ),
    st.builds(
        lambda op: {"key": "plan", "operator": op}, st.sampled_from(["is_set", "is_not_set"])
    ),
    st.just({"key": "plan", "operator": "regex", "value": "^(pro|fr)"}),
)
behaviour = st.builds(
    lambda e, fs, did, cmp, n, w: {
        "type": "behaviour",
        "event": e,
        "filters": fs,
        "did": did,
        "count": {"comparator": cmp, "value": n},
        "window": w,
    },
    st.one_of(st.none(), event_names),
    st.lists(matches, max_size=2),
    st.booleans(),
    st.sampled_from(["at_least", "at_most", "exactly"]),
    st.integers(0, 3),
    windows,
)
event_property = st.builds(
    lambda e, m, w: {"type": "event_property", "event": e, **m, "window": w},
    st.one_of(st.none(), event_names),
    matches,
    windows,
)
first_did = st.builds(
    lambda e, fs, w: {"type": "first_did", "event": e, "filters": fs, "window": w},
    event_names,
    st.lists(matches, max_size=1),
    windows,
)
active_days = st.builds(
    lambda n, d, e: {"type": "active_days", "at_least": n, "last_days": d, "event": e},
    st.integers(1, 4),
    st.integers(1, 14),
    st.one_of(st.none(), event_names),
)
person_property = st.one_of(
    st.builds(
        lambda m: {"type": "person_property", **m},
        st.one_of(
            matches.map(lambda m: {**m, "key": "plan"} if m["key"] == "plan" else m),
            st.builds(
                lambda op, v: {"key": "age", "operator": op, "value": v},
                st.sampled_from(["gt", "lte", "eq", "neq"]),
                st.integers(10, 50),
            ),
            st.builds(
                lambda op: {"key": "vip", "operator": op, "value": True},
                st.sampled_from(["eq", "neq"]),
            ),
        ),
    ),
    st.builds(
        lambda op, v: {"type": "person_property", "key": "signup", "operator": op, "value": v},
        st.sampled_from(["before", "after"]),
        st.sampled_from(["2024-01-02", "2024-01-09", "2023-12-01"]),
    ),
    st.builds(
        lambda op, n: {"type": "person_property", "key": "signup", "operator": op, "days_ago": n},
        st.sampled_from(["before", "after"]),
        st.integers(0, 10),
    ),
    st.builds(
        lambda n: {
            "type": "person_property",
            "key": "signup",
            "operator": "within_last_days",
            "value": n,
        },
        st.integers(1, 12),
    ),
)
derived_conditions = st.one_of(
    st.builds(
        lambda vs: {"type": "layer", "scheme": "activity", "values": vs},
        st.lists(st.sampled_from(["core", "silent", "active"]), min_size=1, max_size=2),
    ),
    st.builds(
        lambda op, v: {"type": "score", "name": "churn_risk", "operator": op, "value": v},
        st.sampled_from(["gt", "gte", "lt", "lte", "eq", "neq"]),
        st.sampled_from([0.2, 0.5, 0.7]),
    ),
    st.builds(lambda i: {"type": "in_segment", "segment_id": i}, st.sampled_from([100, 101])),
)
funnel = st.builds(
    lambda steps, k, w, cw: {
        "type": "funnel_step",
        "steps": [{"event": s} for s in steps],
        "step": min(k, len(steps)),
        "window": w,
        "conversion_window": cw,
        "conversion_unit": "hours",
    },
    st.lists(event_names, min_size=2, max_size=3),
    st.integers(1, 3),
    windows,
    st.sampled_from([1, 24, 72]),
)
leaf = st.one_of(
    behaviour, event_property, first_did, active_days, person_property, derived_conditions, funnel
)
trees = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.builds(
            lambda op, cs: {"op": op, "conditions": cs},
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(lambda c: {"op": "not", "condition": c}, children),
    ),
    max_leaves=6,
)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(definition=trees)
def test_random_trees_match_the_reference(loaded: EventStore, definition: dict) -> None:
    node = dsl.parse_definition(definition)
    assert members(loaded, definition) == reference.members(node, WORLD)


@SETTINGS
@given(definition=trees)
def test_not_is_everyone_else(loaded: EventStore, definition: dict) -> None:
    everyone = members(
        loaded, {"op": "or", "conditions": [definition, {"op": "not", "condition": definition}]}
    )
    assert everyone == WORLD.persons
    assert members(loaded, {"op": "not", "condition": definition}) == everyone - members(
        loaded, definition
    )


@SETTINGS
@given(a=trees, b=trees)
def test_and_or_are_intersection_and_union(loaded: EventStore, a: dict, b: dict) -> None:
    x, y = members(loaded, a), members(loaded, b)
    assert members(loaded, {"op": "and", "conditions": [a, b]}) == x & y
    assert members(loaded, {"op": "or", "conditions": [a, b]}) == x | y
