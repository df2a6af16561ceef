"""Persons on events: the person a metric sees for each event (stamp + ``person_overrides``)
is the one the id map gives its distinct id, whatever the merges and batch splits.

That is the contract of ``analytics/source.py``: metrics used to look every event's
``distinct_id`` up in ``person_distinct_ids`` and now read the stamp written at ingest.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.events.test_identity import _events, _op
from tests.factories import ev, load
from yunying.analytics.context import ProjectContext
from yunying.analytics.source import events_sql, person_map_sql
from yunying.events.importer import import_file
from yunying.events.pipeline import write_events
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, timezone="UTC")


def resolved_by_metrics(store: EventStore) -> dict[str, str]:
    sql = events_sql(store.dialect, CTX)
    return {
        r["uuid"]: r["pid"] for r in store.query(f"SELECT uuid, pid FROM ({sql}) x").to_pylist()
    }


def resolved_by_id_map(store: EventStore) -> dict[str, str]:
    """The old definition: every event's distinct id through the newest id mapping."""
    sql = (
        "SELECT e.uuid AS uuid, coalesce(m.person_id, e.person_id) AS pid FROM events e "
        f"LEFT JOIN ({person_map_sql(store.dialect, CTX)}) m ON m.distinct_id = e.distinct_id "
        "WHERE e.project_id = 1"
    )
    return {r["uuid"]: r["pid"] for r in store.query(sql).to_pylist()}


def override_count(store: EventStore) -> int:
    return store.query("SELECT count(*) AS n FROM person_overrides").to_pylist()[0]["n"]


_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_settings
@given(
    ops=st.lists(_op, min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=5),
)
def test_stamps_and_overrides_resolve_as_the_id_map_does(ops, cuts):
    """Random identifies, aliases and events, written in random batches (merges of two
    persons with history, chains of merges, late identifies)."""
    events = _events(ops)
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    store = make_store("duckdb")
    try:
        for lo, hi in itertools.pairwise(bounds):
            write_events(store, events[lo:hi])
        assert resolved_by_metrics(store) == resolved_by_id_map(store)
    finally:
        store.close()


def _chain() -> list:
    """Three persons with history merged into one in two steps, then more events."""
    return [
        ev("a", "view", "2024-03-01 10:00"),
        ev("b", "view", "2024-03-01 11:00"),
        ev("c", "view", "2024-03-01 12:00"),
        ev("b", "$identify", "2024-03-02 10:00", **{"$anon_distinct_id": "a"}),
        ev("c", "$identify", "2024-03-03 10:00", **{"$anon_distinct_id": "b"}),
        ev("a", "view", "2024-03-04 10:00"),
    ]


def test_chained_merges_on_both_engines(store):
    for e in _chain():  # one commit each: every merge meets stored history
        write_events(store, [e])
    got = resolved_by_metrics(store)
    assert got == resolved_by_id_map(store)
    assert len(set(got.values())) == 1
    assert override_count(store) == 2  # a's and b's first persons, nothing rewritten


def test_the_import_path_records_overrides_too(store, tmp_path: Path):
    rows = [
        {
            "uuid": e.uuid,
            "event": e.event,
            "distinct_id": e.distinct_id,
            "timestamp": e.timestamp.isoformat(),
            "properties": e.properties,
        }
        for e in _chain()
    ]
    path = tmp_path / "chain.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    for size in (1, 2, 100):  # re-imports add nothing and change no one
        import_file(store, project_id=1, path=path, batch_size=size)
        got = resolved_by_metrics(store)
        assert got == resolved_by_id_map(store)
        assert len(set(got.values())) == 1


def test_a_store_from_before_the_table_gets_its_overrides_once(store):
    """Events stamped with the person of their own id, merged only in the id map (what
    a store written before persons on events holds): opening it computes the rows."""
    load(
        store,
        [ev("anon", "view", "2024-03-01 10:00"), ev("user", "view", "2024-03-02 10:00")],
        merges={"anon": "user"},
    )
    store.query("DROP TABLE person_overrides")
    store.ensure_schema()
    assert override_count(store) == 1
    got = resolved_by_metrics(store)
    assert got == resolved_by_id_map(store)
    assert len(set(got.values())) == 1
    store.ensure_schema()  # the table exists now: nothing recomputed, nothing doubled
    assert override_count(store) == 1


def test_an_anonymous_person_joined_by_a_new_user_id_needs_no_override(store):
    """The common case: the user id joins the anonymous person, whose stamp stays right."""
    write_events(store, [ev("anon", "view", "2024-03-01 10:00")])
    write_events(
        store,
        [
            ev("user", "$identify", "2024-03-01 10:05", **{"$anon_distinct_id": "anon"}),
            ev("user", "view", "2024-03-01 10:06"),
        ],
    )
    assert override_count(store) == 0
    assert len(set(resolved_by_metrics(store).values())) == 1
