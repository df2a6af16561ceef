"""Derived per-person values: runs are published whole and read back the same on both engines."""

from __future__ import annotations

import pyarrow as pa

from yunying.store import derived
from yunying.store.base import EventStore


def _values(store: EventStore, project_id: int, name: str, run_id: int | None = None) -> dict:
    sql = derived.values_sql(store.dialect, project_id, name, run_id)
    rows = store.query(sql + " ORDER BY person_id").to_pylist()
    return {r["person_id"]: (r["value_num"], r["value_str"]) for r in rows}


def test_newest_run_wins_and_previous_stays_readable(store: EventStore) -> None:
    first = derived.write_values(
        store, 1, "layer:activity", pa.table({"person_id": ["a", "b"], "value_str": ["x", "y"]})
    )
    second = derived.write_values(
        store, 1, "layer:activity", pa.table({"person_id": ["b", "c"], "value_str": ["z", "w"]})
    )
    assert second.run_id > first.run_id
    assert _values(store, 1, "layer:activity") == {"b": (None, "z"), "c": (None, "w")}
    assert _values(store, 1, "layer:activity", first.run_id) == {
        "a": (None, "x"),
        "b": (None, "y"),
    }
    assert [r.run_id for r in derived.runs(store, 1, "layer:activity")] == [
        second.run_id,
        first.run_id,
    ]


def test_projects_and_names_are_isolated(store: EventStore) -> None:
    derived.write_values(
        store, 1, "score:churn", pa.table({"person_id": ["a"], "value_num": [0.5]})
    )
    derived.write_values(
        store, 2, "score:churn", pa.table({"person_id": ["b"], "value_num": [0.9]})
    )
    assert _values(store, 1, "score:churn") == {"a": (0.5, None)}
    assert _values(store, 2, "score:churn") == {"b": (0.9, None)}
    assert _values(store, 1, "score:other") == {}
    assert derived.latest_run(store, 1, "score:other") is None


def test_empty_run_publishes_an_empty_set(store: EventStore) -> None:
    derived.write_values(store, 1, "segment:1", pa.table({"person_id": ["a"]}))
    run = derived.write_values(
        store, 1, "segment:1", pa.table({"person_id": pa.array([], pa.string())})
    )
    assert run.row_count == 0
    assert _values(store, 1, "segment:1") == {}


def test_prune_keeps_newest_runs(store: EventStore) -> None:
    ids = [
        derived.write_values(store, 1, "n", pa.table({"person_id": [f"p{i}"]})).run_id
        for i in range(4)
    ]
    derived.prune(store, 1, "n", keep=2)
    assert [r.run_id for r in derived.runs(store, 1, "n", limit=10)] == ids[:1:-1]
    assert _values(store, 1, "n", ids[0]) == {}
    assert _values(store, 1, "n") == {"p3": (None, None)}


def test_hostile_names_are_quoted(store: EventStore) -> None:
    name = "segment:'; DROP TABLE events; --"
    derived.write_values(store, 1, name, pa.table({"person_id": ["a"]}))
    assert _values(store, 1, name) == {"a": (None, None)}
    assert store.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 0}]
