"""The columnar import equals the per-event path, and re-imports and duplicates add nothing.

Random files mix merges, aliases, ``$set``/``$set_once``/``$unset``, placeholder ids,
promoted properties of every JSON type, rows without (or with odd) uuids, time ties and
broken rows. Each is imported with ``import_file`` (Parquet with JSON text properties,
the fast path; JSON lines, the general one) and, as a reference, one ``Event`` at a time
through ``write_events`` (``import_reference``); the stores must hold the same events,
persons and id map, and the summaries must agree row for row.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.events.import_reference import import_per_event
from yunying.events.importer import ImportSummary, import_file
from yunying.store.base import EventStore

T0 = datetime(2024, 3, 1, tzinfo=UTC)
IDS = ["anon-1", "anon-2", "user-1", "user-2", "null", "0"]
UUIDS = [f"0b6f3a0e-6f0f-4d7a-9a53-3c1d0e6b9e{i:02d}" for i in range(6)]

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(['a"b', "back\\slash", "é中", "9.5", " 12 ", "nan", "1_0", "x"]),
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
_props = st.fixed_dictionaries(
    {},
    optional={
        "$anon_distinct_id": st.sampled_from(IDS),
        "alias": st.one_of(st.sampled_from(IDS), st.integers(0, 3)),
        "$set": st.dictionaries(st.sampled_from(["plan", "n"]), _scalar, max_size=2),
        "$set_once": st.dictionaries(st.sampled_from(["plan", "first"]), _scalar, max_size=2),
        "$unset": st.lists(st.sampled_from(["plan", "n", "first"]), max_size=2),
        "$current_url": _json,
        "$revenue": _json,
        "channel": _scalar,
        "$content_id": _scalar,
        "other": _json,
    },
)
# Properties cells that are not a JSON object, or not one orjson reads, or oddly spelled.
_odd_text = st.sampled_from(
    [
        "not json",
        "[1, 2]",
        '"text"',
        "",
        '{"a": NaN}',
        '{"a": 1,}',
        '{"big": 1E400}',
        ' {"k": 1.50, "e": 1e2, "u": "\\u00e9", "$set": {"plan": "x"}} ',
        '{"\\u0024set": {"plan": "escaped"}}',
    ]
)
_row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(
            ["pageview", "$identify", "$identify", "$create_alias", "buy", None, ""]
        ),
        "distinct_id": st.one_of(st.sampled_from(IDS), st.sampled_from([None, ""])),
        "timestamp": st.one_of(
            st.integers(0, 5).map(lambda m: (T0 + timedelta(minutes=m)).isoformat()),
            st.sampled_from([None, "yesterday"]),
        ),
        "uuid": st.one_of(
            st.none(),
            st.just(""),
            st.sampled_from(UUIDS),
            st.sampled_from(UUIDS).map(str.upper),
            st.sampled_from(["msg-1", "{0B6F3A0E-6F0F-4D7A-9A53-3C1D0E6B9E01}"]),
        ),
        "properties": st.one_of(_props, _props, _props, st.none(), _odd_text),
    }
)
_rows = st.lists(_row, min_size=1, max_size=25)


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Properties as JSON text (the import's fast path); the other columns as text."""
    cells = [
        p if p is None or isinstance(p, str) else orjson.dumps(p).decode()
        for p in (r["properties"] for r in rows)
    ]
    table = pa.table(
        {
            "uuid": pa.array([r["uuid"] for r in rows], pa.string()),
            "event": pa.array([r["event"] for r in rows], pa.string()),
            "distinct_id": pa.array([r["distinct_id"] for r in rows], pa.string()),
            "timestamp": pa.array([r["timestamp"] for r in rows], pa.string()),
            "properties": pa.array(cells, pa.string()),
        }
    )
    pq.write_table(table, path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def as_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the reference reads them: a text properties cell stays text."""
    return [dict(r) for r in rows]


def _float(v: float | None) -> Any:
    return "nan" if v is not None and math.isnan(v) else v


def snapshot(store: EventStore) -> dict[str, Any]:
    """What an import leaves behind, minus write times and versions."""
    events = store.query(
        "SELECT uuid, event, distinct_id, person_id, timestamp, properties, current_url, "
        "referrer, utm_source, channel, revenue, content_id FROM events ORDER BY uuid"
    ).to_pylist()
    for e in events:
        e["properties"] = orjson.loads(e["properties"])
        e["revenue"] = _float(e["revenue"])
    ids = {e["distinct_id"] for e in events} | set(IDS)
    id_map = store.distinct_id_map(1, ids)
    persons = store.persons(1, set(id_map.values()))
    return {
        "events": events,
        "id_map": id_map,
        "persons": {
            pid: (p.properties, p.created_at.replace(tzinfo=None)) for pid, p in persons.items()
        },
    }


def counts(s: ImportSummary) -> tuple[Any, ...]:
    return (s.rows_read, s.imported, s.duplicates, s.rejected, s.rejects)


_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_settings
@given(rows=_rows, batch_size=st.integers(1, 8), fmt=st.sampled_from(["parquet", "jsonl"]))
def test_columnar_import_equals_the_per_event_path(
    tmp_path: Path, rows: list[dict[str, Any]], batch_size: int, fmt: str
) -> None:
    path = tmp_path / f"e.{fmt}"
    (write_parquet if fmt == "parquet" else write_jsonl)(path, rows)
    new, old = make_store("duckdb"), make_store("duckdb")
    try:
        got = import_file(new, project_id=1, path=path, batch_size=batch_size)
        want = import_per_event(old, as_records(rows), batch_size=batch_size)
        assert counts(got) == counts(want)
        assert snapshot(new) == snapshot(old)
        again = import_file(new, project_id=1, path=path, batch_size=batch_size)
        assert (again.imported, again.duplicates) == (0, got.imported + got.duplicates)
        assert snapshot(new) == snapshot(old)
        # A file imported by the per-event path is already there for the columnar one.
        assert import_file(old, project_id=1, path=path, batch_size=batch_size).imported == 0
    finally:
        new.close()
        old.close()


@_settings
@given(
    rows=st.lists(_row, min_size=1, max_size=20),
    copies=st.lists(st.integers(0, 19), max_size=10),
    batch_size=st.integers(1, 6),
)
def test_reimports_and_duplicates_inside_a_file_add_nothing(
    tmp_path: Path, rows: list[dict[str, Any]], copies: list[int], batch_size: int
) -> None:
    # Rows in time order: then where batches are cut does not change who is who.
    rows = sorted(rows, key=lambda r: r["timestamp"] or "")
    with_copies = list(rows)
    for c in copies:
        if c < len(rows):
            with_copies.insert(c + 1, dict(rows[c]))
    once = make_store("duckdb")
    twice = make_store("duckdb")
    try:
        import_file(
            once,
            project_id=1,
            path=write_parquet(tmp_path / "once.parquet", rows),
            batch_size=batch_size,
        )
        dup_path = write_parquet(tmp_path / "dups.parquet", with_copies)
        first = import_file(twice, project_id=1, path=dup_path, batch_size=batch_size)
        second = import_file(twice, project_id=1, path=dup_path, batch_size=batch_size)
        assert second.imported == 0
        assert first.imported == len(once.query("SELECT uuid FROM events"))
        assert snapshot(twice) == snapshot(once)
    finally:
        once.close()
        twice.close()


def _sample_rows() -> list[dict[str, Any]]:
    """A fixed file touching every rule (for the slower ClickHouse comparison)."""
    ts = [(T0 + timedelta(minutes=m)).isoformat() for m in range(8)]
    return [
        {"event": "pageview", "distinct_id": "anon-1", "timestamp": ts[0], "uuid": UUIDS[0],
         "properties": {"$current_url": "https://a/1", "channel": "douyin"}},
        {"event": "$identify", "distinct_id": "user-1", "timestamp": ts[1], "uuid": UUIDS[1],
         "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "free"}}},
        {"event": "buy", "distinct_id": "user-1", "timestamp": ts[2], "uuid": None,
         "properties": {"$revenue": "9.5", "$content_id": 7}},
        {"event": "pageview", "distinct_id": "anon-2", "timestamp": ts[3], "uuid": "msg-1",
         "properties": {"$set_once": {"first": "x"}}},
        {"event": "$create_alias", "distinct_id": "user-1", "timestamp": ts[4], "uuid": UUIDS[2],
         "properties": {"alias": "anon-2"}},
        {"event": "pageview", "distinct_id": "anon-2", "timestamp": ts[5], "uuid": UUIDS[0],
         "properties": {"dup": True}},
        {"event": "", "distinct_id": "anon-2", "timestamp": ts[6], "uuid": None,
         "properties": None},
        {"event": "buy", "distinct_id": "user-2", "timestamp": "soon", "uuid": None,
         "properties": "[1]"},
        {"event": "buy", "distinct_id": "user-2", "timestamp": ts[7], "uuid": None,
         "properties": '{"$unset": ["plan"], "$revenue": 3}'},
    ]  # fmt: skip


@pytest.mark.clickhouse
@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_both_engines_import_the_same(tmp_path: Path, fmt: str) -> None:
    rows = _sample_rows()
    path = tmp_path / f"e.{fmt}"
    (write_parquet if fmt == "parquet" else write_jsonl)(path, rows)
    results = []
    for engine in ("duckdb", "clickhouse"):
        store, ref = make_store(engine), make_store(engine)
        try:
            got = import_file(store, project_id=1, path=path, batch_size=3)
            want = import_per_event(ref, as_records(rows), batch_size=3)
            assert counts(got) == counts(want)
            assert snapshot(store) == snapshot(ref)
            again = import_file(store, project_id=1, path=path, batch_size=3)
            assert (again.imported, again.duplicates) == (0, got.imported + got.duplicates)
            results.append(snapshot(store))
        finally:
            store.close()
            ref.close()
    assert results[0] == results[1]
    assert len(results[0]["events"]) == 6  # two rejected, one uuid twice
    assert len(set(results[0]["id_map"].values())) == 2  # anon-1/anon-2/user-1, user-2
