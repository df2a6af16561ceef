"""The EventStore contract, run against every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from yunying.events.model import Event
from yunying.store.base import DistinctIdRow, EventStore, PersonRow, WriteBatch

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _ev(i: int, project_id: int = 1, **props: object) -> Event:
    return Event(
        uuid=f"00000000-0000-4000-8000-{i:012d}",
        project_id=project_id,
        event="view",
        distinct_id=f"d{i % 3}",
        timestamp=T0 + timedelta(seconds=i),
        received_at=T0,
        properties=dict(props),
    )


def test_write_dedupes_by_project_and_uuid(store: EventStore) -> None:
    assert store.write(WriteBatch(events=[_ev(1), _ev(2), _ev(1)])) == 2
    assert store.write(WriteBatch(events=[_ev(2), _ev(3)])) == 1
    # The same uuid in another project is another event.
    assert store.write(WriteBatch(events=[_ev(1, project_id=2)])) == 1
    assert store.existing_uuids(1, [_ev(1).uuid, _ev(9).uuid]) == {_ev(1).uuid}
    n = store.query("SELECT count(*) AS c FROM events").column("c").to_pylist()
    assert n == [4]


def test_promoted_columns_and_json(store: EventStore) -> None:
    store.write(WriteBatch(events=[_ev(1, **{"$current_url": "/a", "$revenue": "12.5", "x": 1})]))
    row = store.query("SELECT current_url, revenue, properties FROM events").to_pylist()[0]
    assert row["current_url"] == "/a"
    assert row["revenue"] == 12.5
    assert '"x":1' in row["properties"]


def test_timestamps_round_trip_as_naive_utc(store: EventStore) -> None:
    store.write(WriteBatch(events=[_ev(1)]))
    got = store.query("SELECT timestamp FROM events").column("timestamp").to_pylist()
    assert got == [(T0 + timedelta(seconds=1)).replace(tzinfo=None)]


def test_newest_mapping_and_person_version_win(store: EventStore) -> None:
    store.write(
        WriteBatch(
            persons=[PersonRow(1, "p1", {"a": 1}, T0, 1)],
            distinct_ids=[DistinctIdRow(1, "x", "p1", 1), DistinctIdRow(1, "y", "p2", 1)],
        )
    )
    store.write(
        WriteBatch(
            persons=[PersonRow(1, "p1", {"a": 2}, T0, 2)],
            distinct_ids=[DistinctIdRow(1, "y", "p1", 2)],
        )
    )
    assert store.distinct_id_map(1, ["x", "y", "z"]) == {"x": "p1", "y": "p1"}
    assert sorted(store.person_ids_for(1, ["p1"])["p1"]) == ["x", "y"]
    assert store.persons(1, ["p1"])["p1"].properties == {"a": 2}
    assert store.distinct_id_map(2, ["x"]) == {}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(st.integers(0, 30), max_size=20), max_size=5))
def test_dedupe_is_exact_for_any_batches(batches: list[list[int]]) -> None:
    """However events are split into batches and repeated, each uuid is stored once."""
    store = make_store("duckdb")
    total = sum(store.write(WriteBatch(events=[_ev(i) for i in b])) for b in batches)
    distinct = {i for b in batches for i in b}
    assert total == len(distinct)
    n = store.query("SELECT count(*) AS c FROM events").column("c").to_pylist()[0]
    assert n == len(distinct)
    store.close()
