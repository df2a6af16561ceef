"""The optimistic write: no stored-uuid look-up unless a duplicate turns up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yunying.events.model import Event
from yunying.events.pipeline import prepare_batch, write_events
from yunying.store.base import WriteBatch
from yunying.store.duckdb import DuckDBStore
from yunying.store.optimistic import OptimisticBatch, StoredDuplicate

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def ev(n: int, did: str = "u", minute: int = 0, **props: object) -> Event:
    ts = T0 + timedelta(minutes=minute)
    return Event(f"00000000-0000-4000-8000-{n:012d}", 1, "x", did, ts, ts, dict(props))


class CountingStore(DuckDBStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def existing_uuids(self, project_id, uuids):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().existing_uuids(project_id, uuids)


@pytest.fixture
def store():
    s = CountingStore()
    s.ensure_schema()
    yield s
    s.close()


def test_new_events_are_written_without_looking_up_stored_uuids(store):
    summary = write_events(store, [ev(1, **{"$set": {"plan": "free"}}), ev(2)])
    assert (summary.received, summary.inserted) == (2, 2)
    assert store.lookups == 0


def test_a_stored_event_in_the_batch_falls_back_to_the_look_up(store):
    old = ev(1, minute=1, **{"$set": {"plan": "free"}})
    write_events(store, [old])
    write_events(store, [ev(2, minute=2, **{"$set": {"plan": "pro"}})])
    summary = write_events(store, [old, ev(3, minute=3)])  # a retry plus a new event
    assert (summary.received, summary.inserted) == (2, 1)
    assert store.lookups == 1
    pid = store.distinct_id_map(1, ["u"])["u"]
    assert store.persons(1, [pid])[pid].properties == {"plan": "pro"}  # not replayed


def test_a_refused_optimistic_batch_writes_nothing(store):
    write_events(store, [ev(1)])
    batch = prepare_batch(store, [ev(1), ev(2, did="v")], optimistic=True)
    assert isinstance(batch, OptimisticBatch)
    with pytest.raises(StoredDuplicate):
        store.write(batch)
    assert store.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 1}]
    assert store.distinct_id_map(1, ["v"]) == {}
    # an ordinary batch with the same duplicate is still written, skipping it
    assert store.write(WriteBatch(events=[ev(1), ev(2, did="v")])) == 1


def _person_rows(store: DuckDBStore) -> list[tuple[str, str]]:
    sql = "SELECT id, properties FROM persons ORDER BY id"
    return [(r["id"], r["properties"]) for r in store.query(sql).to_pylist()]


def test_new_ids_and_persons_are_hinted_and_only_those(store):
    write_events(store, [ev(1, did="old", **{"$set": {"plan": "free"}})])
    batch = prepare_batch(
        store,
        [ev(2, did="old", **{"$set": {"plan": "pro"}}), ev(3, did="fresh", **{"$set": {"a": 1}})],
        optimistic=True,
    )
    stored = store.distinct_id_map(1, ["old"])["old"]
    assert batch.new_ids == {(1, "fresh")}
    (new_person,) = [p.id for p in batch.persons if p.id != stored]
    assert batch.new_persons == {(1, new_person)}
    store.write(batch)
    props = dict(_person_rows(store))
    assert props == {stored: '{"plan":"pro"}', new_person: '{"a":1}'}


def test_a_wrong_new_row_hint_still_writes_the_right_rows(store):
    """A hint naming a stored row makes the plain INSERT fail on the key; the batch is
    then written replacing, as without hints (nothing lost, nothing doubled)."""
    write_events(store, [ev(1, did="u", **{"$set": {"plan": "free"}})])
    batch = prepare_batch(store, [ev(2, did="u", **{"$set": {"plan": "pro"}})], optimistic=False)
    (pid,) = [p.id for p in batch.persons]
    batch.new_persons = {(1, pid)}  # wrong: the person is stored
    batch.new_ids = {(1, r.distinct_id) for r in batch.distinct_ids} | {(1, "u")}
    assert store.write(batch) == 1
    assert _person_rows(store) == [(pid, '{"plan":"pro"}')]
    assert store.query("SELECT count(*) AS n FROM person_distinct_ids").to_pylist() == [{"n": 1}]
