"""The DuckDB store's in-memory identity tables answer exactly what the tables hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yunying.store.base import DistinctIdRow, PersonRow, WriteBatch
from yunying.store.duckdb import DuckDBStore
from yunying.store.identity_mirror import IdentityMirror

IDS = ["a", "b", "c", "d"]


def _from_table(store: DuckDBStore, project_id: int, ids: list[str]) -> dict[str, str]:
    rows = store.query(
        f"SELECT distinct_id, person_id FROM person_distinct_ids WHERE project_id = {project_id}"
    ).to_pylist()
    return {r["distinct_id"]: r["person_id"] for r in rows if r["distinct_id"] in ids}


_row = st.builds(
    DistinctIdRow,
    project_id=st.sampled_from([1, 2]),
    distinct_id=st.sampled_from(IDS),
    person_id=st.sampled_from(["p1", "p2", "p3"]),
    version=st.integers(0, 3),
)


T0 = datetime(2024, 5, 1, tzinfo=UTC)
_person = st.builds(
    PersonRow,
    project_id=st.sampled_from([1, 2]),
    id=st.sampled_from(["p1", "p2", "p3"]),
    properties=st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2),
    created_at=st.integers(0, 3).map(lambda h: T0 + timedelta(hours=h)),
    version=st.integers(0, 3),
)


def _persons_from_table(store: DuckDBStore, project_id: int) -> dict[str, tuple]:
    rows = store.query(
        f"SELECT id, properties, created_at, version FROM persons WHERE project_id = {project_id}"
    ).to_pylist()
    return {r["id"]: (orjson.loads(r["properties"]), r["created_at"], r["version"]) for r in rows}


def _persons_from_store(store: DuckDBStore, project_id: int) -> dict[str, tuple]:
    found = store.persons(project_id, ["p1", "p2", "p3"])
    return {pid: (p.properties, p.created_at, p.version) for pid, p in found.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(
        st.tuples(st.lists(_row, max_size=4), st.lists(_person, max_size=3)), max_size=6
    ),
    limit=st.sampled_from([2, 100]),
)
def test_mirror_matches_the_tables_after_every_write(batches, limit):
    store = DuckDBStore()
    store.ensure_schema()
    store._mirror = IdentityMirror(store, None, id_limit=limit, person_limit=limit)
    try:
        for ids, persons in batches:
            store.write(WriteBatch(distinct_ids=ids, persons=persons))
            for project_id in (1, 2):
                assert store.distinct_id_map(project_id, IDS) == _from_table(store, project_id, IDS)
                assert _persons_from_store(store, project_id) == _persons_from_table(
                    store, project_id
                )
    finally:
        store.close()


def test_persons_handed_out_are_copies():
    store = DuckDBStore()
    store.ensure_schema()
    try:
        store.write(WriteBatch(persons=[PersonRow(1, "p1", {"a": 1}, T0, 1)]))
        first = store.persons(1, ["p1"])["p1"]
        first.properties["a"] = 99  # what identity resolution does before a write
        assert store.persons(1, ["p1"])["p1"].properties == {"a": 1}
    finally:
        store.close()


def test_mirror_is_used_when_the_store_is_the_only_writer(tmp_path: Path):
    store = DuckDBStore(tmp_path / "e.duckdb")
    store.ensure_schema()
    try:
        store.write(WriteBatch(distinct_ids=[DistinctIdRow(1, "a", "p1", 1)]))
        assert store.distinct_id_map(1, ["a", "z"]) == {"a": "p1"}
        # rows changed behind the store's back are not seen: the answer came from memory
        store._con.execute("UPDATE person_distinct_ids SET person_id = 'sneaky'")
        assert store.distinct_id_map(1, ["a"]) == {"a": "p1"}
    finally:
        store.close()


def test_a_second_writer_on_the_same_file_turns_the_mirror_off(tmp_path: Path):
    path = tmp_path / "e.duckdb"
    first = DuckDBStore(path)
    first.ensure_schema()
    first.write(WriteBatch(distinct_ids=[DistinctIdRow(1, "a", "p1", 1)]))
    assert first.distinct_id_map(1, ["a"]) == {"a": "p1"}  # mirrored now
    second = DuckDBStore(path)  # DuckDB shares the database between them
    try:
        second.write(WriteBatch(distinct_ids=[DistinctIdRow(1, "a", "p2", 2)]))
        second.close()
        assert first.distinct_id_map(1, ["a"]) == {"a": "p2"}
    finally:
        first.close()
    reopened = DuckDBStore(path)  # alone again: mirrored from a fresh load
    try:
        assert reopened.distinct_id_map(1, ["a"]) == {"a": "p2"}
    finally:
        reopened.close()


def test_same_version_twice_in_a_batch_is_not_guessed():
    store = DuckDBStore()
    store.ensure_schema()
    try:
        store.write(WriteBatch(distinct_ids=[DistinctIdRow(1, "a", "p0", 0)]))
        store.distinct_id_map(1, ["a"])  # load the mirror
        rows = [DistinctIdRow(1, "a", "p1", 5), DistinctIdRow(1, "a", "p2", 5)]
        store.write(WriteBatch(distinct_ids=rows))
        assert store.distinct_id_map(1, ["a"]) == _from_table(store, 1, ["a"])
    finally:
        store.close()


def test_read_only_stores_do_not_mirror(tmp_path: Path):
    path = tmp_path / "e.duckdb"
    store = DuckDBStore(path)
    store.ensure_schema()
    store.write(WriteBatch(distinct_ids=[DistinctIdRow(1, "a", "p1", 1)]))
    store.close()
    ro = DuckDBStore(path, read_only=True)
    try:
        assert ro._mirror is None
        assert ro.distinct_id_map(1, ["a"]) == {"a": "p1"}
    finally:
        ro.close()
