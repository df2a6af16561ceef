"""Identity rules: merges, person properties, dedupe before identity, idempotence."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yunying.events.identity import IdentityState, merge_ids, resolve
from yunying.events.model import Event, content_uuid, person_uuid
from yunying.events.pipeline import write_events
from yunying.store.base import EventStore, PersonRow
from yunying.store.duckdb import DuckDBStore

T0 = datetime(2024, 3, 1, tzinfo=UTC)
_n = iter(range(1, 10**9))


def ev(did: str, event: str = "x", minute: int = 0, **props) -> Event:
    n = next(_n)
    ts = T0 + timedelta(minutes=minute)
    return Event(f"00000000-0000-4000-8000-{n:012d}", 1, event, did, ts, ts, props)


def identify(user: str, anon: str, minute: int = 0, **set_) -> Event:
    props = {"$anon_distinct_id": anon}
    if set_:
        props["$set"] = set_
    return ev(user, "$identify", minute, **props)


def alias(did: str, other: str, minute: int = 0) -> Event:
    return ev(did, "$create_alias", minute, alias=other)


def mapping(store: EventStore, ids) -> dict[str, str]:
    return store.distinct_id_map(1, ids)


def person_props(store: EventStore, did: str) -> dict:
    pid = mapping(store, [did])[did]
    return store.persons(1, [pid])[pid].properties


def empty_state() -> IdentityState:
    return IdentityState(1, {}, {}, lambda pid: [])


# ---- pure rules --------------------------------------------------------------------------


def test_identify_puts_user_on_the_anonymous_person():
    state = empty_state()
    events = [ev("anon", minute=0), identify("user", "anon", minute=1), ev("user", minute=2)]
    resolve(state, events)
    assert state.id_map == {"anon": person_uuid(1, "anon"), "user": person_uuid(1, "anon")}
    assert len({e.person_id for e in events}) == 1


def test_merge_of_two_existing_persons_moves_every_id_and_combines_properties():
    a, b = person_uuid(1, "a"), person_uuid(1, "b")
    state = IdentityState(
        1,
        {"a": a, "b": b},
        {
            a: PersonRow(1, a, {"k": "a", "only_a": 1}, T0, 1),
            b: PersonRow(1, b, {"k": "b"}, T0 - timedelta(days=1), 1),
        },
        lambda pid: {b: ["b", "b2", "b3"]}.get(pid, []),
    )
    resolve(state, [identify("a", "b", minute=5)])
    assert state.id_map["b2"] == state.id_map["b3"] == state.id_map["b"] == a
    kept = state.persons[a]
    assert kept.properties == {"k": "a", "only_a": 1}  # the identified person's values win
    assert kept.created_at == T0 - timedelta(days=1)  # the earlier person's start
    ids, persons = state.rows()
    assert {r.distinct_id for r in ids} == {"b", "b2", "b3"}
    assert [p.id for p in persons] == [a]


def test_placeholder_ids_never_merge():
    for bad in ("null", "undefined", "0", "Anonymous", " NaN "):
        assert merge_ids(identify("user", bad)) == []
        assert merge_ids(identify(bad, "anon")) == []
    assert merge_ids(identify("user", "anon")) == ["anon"]
    assert merge_ids(identify("user", "user")) == []
    assert merge_ids(alias("a", 12345)) == ["12345"]


def test_events_apply_in_time_order_within_a_batch():
    state = empty_state()
    late = ev("u", minute=9, **{"$set": {"plan": "pro"}})
    early = ev("u", minute=1, **{"$set": {"plan": "free"}, "$set_once": {"first": "free"}})
    resolve(state, [late, early])
    props = state.persons[person_uuid(1, "u")].properties
    assert props == {"plan": "pro", "first": "free"}


def test_set_once_and_unset():
    state = empty_state()
    resolve(
        state,
        [
            ev("u", minute=1, **{"$set_once": {"a": 1}, "$set": {"b": 1, "c": 1}}),
            ev("u", minute=2, **{"$set_once": {"a": 2}, "$unset": ["c", "missing"]}),
        ],
    )
    assert state.persons[person_uuid(1, "u")].properties == {"a": 1, "b": 1}


# ---- through the pipeline, on both engines -------------------------------------------------


def test_merges_across_batches_and_late_identify(store):
    write_events(store, [ev("anon1", minute=0), ev("anon2", minute=1)])
    write_events(store, [ev("user", minute=2, **{"$set": {"email": "e"}})])
    # the user identifies on two devices after the fact
    write_events(store, [identify("user", "anon1", minute=3), alias("user", "anon2", minute=4)])
    m = mapping(store, ["anon1", "anon2", "user"])
    assert len(set(m.values())) == 1
    assert person_props(store, "anon1") == {"email": "e"}


def test_same_batch_twice_changes_nothing(store):
    batch = [
        ev("a", minute=0),
        identify("u", "a", minute=1, plan="free"),
        alias("u", "b", minute=2),
        ev("u", minute=3, **{"$set": {"plan": "pro"}}),
    ]
    first = write_events(store, batch)
    assert (first.received, first.inserted) == (4, 4)
    snapshot = _snapshot(store)
    again = write_events(store, batch)
    assert (again.received, again.inserted) == (4, 0)
    assert _snapshot(store) == snapshot


def test_retried_stale_set_does_not_overwrite_newer_value(store):
    old = ev("u", minute=1, **{"$set": {"plan": "free"}})
    write_events(store, [old])
    write_events(store, [ev("u", minute=2, **{"$set": {"plan": "pro"}})])
    write_events(store, [old])  # an SDK retry of the first request
    assert person_props(store, "u") == {"plan": "pro"}


def test_duplicates_inside_one_batch_count_once(store):
    e = ev("u", **{"$set": {"n": 1}})
    summary = write_events(store, [e, e, e])
    assert (summary.received, summary.inserted) == (3, 1)
    assert store.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 1}]


def _snapshot(store: EventStore) -> tuple:
    q = store.query
    return (
        q("SELECT uuid, person_id FROM events ORDER BY uuid").to_pylist(),
        q(
            "SELECT distinct_id, max(version) AS v, count(*) AS n FROM person_distinct_ids "
            "GROUP BY distinct_id ORDER BY distinct_id"
        ).to_pylist(),
        q(
            "SELECT id, max(version) AS v, count(*) AS n FROM persons GROUP BY id ORDER BY id"
        ).to_pylist(),
    )


# ---- property: merges partition ids into connected components ------------------------------

IDS = ["a", "b", "c", "d", "e", "f"]
_op = st.one_of(
    st.tuples(st.just("identify"), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("alias"), st.sampled_from(IDS), st.sampled_from(IDS)),
    st.tuples(st.just("event"), st.sampled_from(IDS), st.just("")),
    st.tuples(st.just("set"), st.sampled_from(IDS), st.sampled_from(["p", "q"])),
)


def _events(ops: list[tuple[str, str, str]]) -> list[Event]:
    out = []
    for i, (kind, x, y) in enumerate(ops):
        ts = T0 + timedelta(seconds=i)
        uid = content_uuid("prop", i, kind, x, y)
        if kind == "identify":
            props = {"$anon_distinct_id": y}
            name = "$identify"
        elif kind == "alias":
            props, name = {"alias": y}, "$create_alias"
        elif kind == "set":
            props, name = {"$set": {"v": y}}, "$set"
        else:
            props, name = {}, "pageview"
        out.append(Event(uid, 1, name, x, ts, ts, props))
    return out


def _components(ops) -> dict[str, str]:
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for kind, x, y in ops:
        find(x)
        if kind in ("identify", "alias") and x != y:
            parent[find(y)] = find(x)
    return {x: find(x) for x in parent}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(_op, min_size=1, max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=25), max_size=4),
)
def test_connected_ids_share_one_person_and_replay_is_a_no_op(ops, cuts):
    events = _events(ops)
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    store = DuckDBStore()
    store.ensure_schema()
    try:
        for lo, hi in itertools.pairwise(bounds):
            write_events(store, events[lo:hi])
        comp = _components(ops)
        m = mapping(store, comp)
        assert set(m) == set(comp)
        for x in comp:
            for y in comp:
                assert (m[x] == m[y]) == (comp[x] == comp[y]), (x, y)
        # $set after a component's last merge: the latest wins. Before it, a merge keeps
        # the surviving person's value (PostHog's rule), which is one of the values set.
        last_merge = {comp[x]: i for i, (k, x, _) in enumerate(ops) if k != "set" and k != "event"}
        sets: dict[str, list[tuple[int, str]]] = {}
        for i, (kind, x, y) in enumerate(ops):
            if kind == "set":
                sets.setdefault(comp[x], []).append((i, y))
        for root, values in sets.items():
            got = person_props(store, root).get("v")
            if all(i > last_merge.get(root, -1) for i, _ in values):
                assert got == values[-1][1]
            else:
                assert got in {v for _, v in values}
        snapshot = _snapshot(store)
        write_events(store, events)  # the whole sequence again, as one batch
        assert _snapshot(store) == snapshot
    finally:
        store.close()
