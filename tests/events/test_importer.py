"""File import: formats, column mapping, timestamps, rejects, idempotent re-runs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from yunying.events.importer import (
    ColumnMapping,
    ImportFileError,
    ImportProgress,
    _content_uuid,
    import_file,
    import_records,
    parse_timestamp,
    reference_content_uuid,
)
from yunying.store.base import EventStore


def stored(store: EventStore, project_id: int = 1) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT uuid, event, distinct_id, timestamp, properties, revenue, current_url "
        f"FROM events WHERE project_id = {project_id} ORDER BY timestamp, event"
    ).to_pylist()
    for r in rows:
        r["properties"] = orjson.loads(r["properties"])
    return rows


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_parquet_import_is_idempotent_on_every_engine(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "event": ["pageview", "signup", "pageview"],
            "distinct_id": ["a", "a", "b"],
            "timestamp": pa.array(
                [datetime(2024, 1, 1, 8), datetime(2024, 1, 1, 9), datetime(2024, 1, 2, 10)],
                pa.timestamp("us"),
            ),
            "plan": ["free", None, "pro"],
            "$revenue": [None, 9.5, None],
        }
    )
    pq.write_table(table, path)

    first = import_file(store, project_id=1, path=path)
    assert (first.rows_read, first.imported, first.duplicates, first.rejected) == (3, 3, 0, 0)
    again = import_file(store, project_id=1, path=path)
    assert (again.rows_read, again.imported, again.duplicates) == (3, 0, 3)

    rows = stored(store)
    assert len(rows) == 3
    assert rows[0]["timestamp"] == datetime(2024, 1, 1, 8)  # naive Parquet time = UTC
    assert rows[0]["properties"] == {"plan": "free"}
    assert rows[1]["properties"] == {"$revenue": 9.5}
    assert rows[1]["revenue"] == 9.5  # promoted column filled through the write path


def test_content_id_is_content_uuid_of_the_row() -> None:
    ts = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    props = {"b": 2, "a": [1, "x"], "when": ts}
    assert _content_uuid("buy", "u1", ts, props) == reference_content_uuid("buy", "u1", ts, props)
    assert _content_uuid("buy", "u1", ts, props) != _content_uuid("buy", "u2", ts, props)


def test_csv_extra_columns_become_typed_properties(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "event,distinct_id,timestamp,zip,qty,price,city,$current_url\n"
        "buy,u1,2024-01-01T10:00:00+08:00,007,2,9.5,Hangzhou,https://x/1\n"
        "buy,u2,1704067200,010,3,1,,https://x/2\n"
        "buy,u3,1704067200000,123,4,2.25,Beijing,\n"
    )
    summary = import_file(
        duck, project_id=1, path=path, mapping=ColumnMapping(rename={"city": "$city"})
    )
    assert (summary.imported, summary.rejected) == (3, 0)
    rows = {r["distinct_id"]: r for r in stored(duck)}
    assert rows["u1"]["timestamp"] == datetime(2024, 1, 1, 2)  # +08:00 → UTC
    assert rows["u2"]["timestamp"] == datetime(2024, 1, 1)  # epoch seconds
    assert rows["u3"]["timestamp"] == datetime(2024, 1, 1)  # epoch milliseconds
    assert rows["u1"]["properties"] == {
        "zip": "007",  # leading zeros: kept as text
        "qty": 2,
        "price": 9.5,
        "$city": "Hangzhou",
        "$current_url": "https://x/1",
    }
    assert "$city" not in rows["u2"]["properties"]  # empty cell = not set
    assert rows["u1"]["current_url"] == "https://x/1"


def test_rejected_rows_are_reported_and_the_rest_imported(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "event,distinct_id,timestamp\n"
        "ok,u1,2024-01-01\n"
        ",u2,2024-01-01\n"
        "ok,,2024-01-01\n"
        "ok,u4,yesterday\n"
        "ok,u5,\n"
        "ok,u6,2024-01-02 03:04:05\n"
    )
    summary = import_file(duck, project_id=1, path=path)
    assert (summary.rows_read, summary.imported, summary.rejected) == (6, 2, 4)
    assert [(r.row, r.field) for r in summary.rejects] == [
        (2, "event"),
        (3, "distinct_id"),
        (4, "timestamp"),
        (5, "timestamp"),
    ]
    assert "yesterday" in summary.rejects[2].reason
    assert summary.rejects[3].reason == "missing timestamp"


def test_jsonl_nested_properties_ids_and_bad_lines(duck: EventStore, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {
                "uuid": "0b6f3a0e-6f0f-4d7a-9a53-3c1d0e6b9e11",
                "event": "$pageview",
                "distinct_id": 42,
                "timestamp": "2024-05-01T00:00:00Z",
                "properties": {"$current_url": "https://a", "n": 1},
                "extra": True,
            },
            "{not json",
            "",
            {"uuid": "msg-1", "event": "e", "distinct_id": "d", "timestamp": 1714521600.5},
            {"event": "e", "distinct_id": "d", "timestamp": "2024-05-01", "properties": "[1]"},
            ["not", "an", "object"],
        ],
    )
    summary = import_file(duck, project_id=1, path=path)
    assert (summary.rows_read, summary.imported, summary.rejected) == (5, 2, 3)
    assert [(r.row, r.field) for r in summary.rejects] == [
        (2, "json"),
        (5, "properties"),
        (6, "json"),
    ]
    rows = stored(duck)
    first = next(r for r in rows if r["event"] == "$pageview")
    assert first["uuid"] == "0b6f3a0e-6f0f-4d7a-9a53-3c1d0e6b9e11"
    assert first["distinct_id"] == "42"
    assert first["properties"] == {"$current_url": "https://a", "n": 1, "extra": True}
    second = next(r for r in rows if r["event"] == "e")
    assert second["timestamp"] == datetime(2024, 5, 1, 0, 0, 0, 500000)
    assert len(second["uuid"]) == 36  # a non-UUID id is turned into a UUID

    again = import_file(duck, project_id=1, path=path)
    assert (again.imported, again.duplicates) == (0, 2)


def test_custom_columns_default_event_and_strptime(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user,at,amount\nu1,01/02/2024 13:00,10\nu2,02/02/2024 14:30,20\n")
    mapping = ColumnMapping(
        distinct_id="user",
        timestamp="at",
        timestamp_format="%d/%m/%Y %H:%M",
        default_event="order",
        rename={"amount": "$revenue"},
    )
    summary = import_file(duck, project_id=1, path=path, mapping=mapping)
    assert summary.imported == 2
    rows = stored(duck)
    assert [r["event"] for r in rows] == ["order", "order"]
    assert rows[0]["timestamp"] == datetime(2024, 2, 1, 13)
    assert rows[1]["revenue"] == 20.0


def test_parquet_struct_and_json_properties_and_aware_times(
    duck: EventStore, tmp_path: Path
) -> None:
    path = tmp_path / "p.parquet"
    tz_times = pa.array(
        [datetime(2024, 1, 1, 8, tzinfo=UTC), datetime(2024, 1, 1, 9, tzinfo=UTC)],
        pa.timestamp("ms", tz="Asia/Shanghai"),
    )
    pq.write_table(
        pa.table(
            {
                "event": ["a", "b"],
                "distinct_id": pa.array([1, 2], pa.int64()),
                "timestamp": tz_times,
                "properties": pa.array(
                    [{"x": 1, "y": "s"}, {"x": 2, "y": None}],
                    pa.struct([("x", pa.int64()), ("y", pa.string())]),
                ),
            }
        ),
        path,
    )
    assert import_file(duck, project_id=1, path=path).imported == 2
    rows = stored(duck)
    assert rows[0]["timestamp"] == datetime(2024, 1, 1, 8)
    assert rows[0]["properties"] == {"x": 1, "y": "s"}
    assert rows[1]["properties"] == {"x": 2}

    path2 = tmp_path / "j.parquet"
    pq.write_table(
        pa.table(
            {
                "event": ["c"],
                "distinct_id": ["d"],
                "timestamp": pa.array([1_704_067_200_000], pa.int64()),
                "properties": ['{"k": [1, 2]}'],
            }
        ),
        path2,
    )
    assert import_file(duck, project_id=1, path=path2).imported == 1
    row = next(r for r in stored(duck) if r["event"] == "c")
    assert row["properties"] == {"k": [1, 2]}
    assert row["timestamp"] == datetime(2024, 1, 1)


def test_small_batches_stream_and_report_progress(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "many.parquet"
    n = 25
    pq.write_table(
        pa.table(
            {
                "event": ["e"] * n,
                "distinct_id": [f"u{i}" for i in range(n)],
                "timestamp": pa.array([1_700_000_000 + i for i in range(n)], pa.int64()),
            }
        ),
        path,
        row_group_size=10,
    )
    seen: list[ImportProgress] = []
    summary = import_file(duck, project_id=1, path=path, batch_size=4, progress=seen.append)
    assert summary.imported == n
    assert len(seen) >= 6 and seen[-1].done == seen[-1].total == n
    assert seen[-1].rows_read == n


def test_gzipped_jsonl_and_explicit_format(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "dump.data.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"event": "e", "distinct_id": "u", "timestamp": "2024-01-01T00:00:00"}\n')
    with pytest.raises(ImportFileError, match="cannot tell the format"):
        import_file(duck, project_id=1, path=path)
    assert import_file(duck, project_id=1, path=path, fmt="jsonl").imported == 1


def test_missing_column_names_the_field_and_the_flag(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("name,user,time\nx,u,2024-01-01\n")
    with pytest.raises(ImportFileError, match=r"event: column 'event' not found.*--event-col"):
        import_file(duck, project_id=1, path=path)
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(duck, project_id=1, path=tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="timestamp_format"):
        ColumnMapping(timestamp_format="whenever")


def test_import_records_uses_the_same_rules(duck: EventStore) -> None:
    records = [
        {"event": "e", "distinct_id": "u", "timestamp": "2024-01-01T00:00:00+00:00", "k": 1},
        {"event": "e", "distinct_id": "u", "timestamp": None},
    ]
    summary = import_records(duck, project_id=7, records=records)
    assert (summary.imported, summary.rejected) == (1, 1)
    assert stored(duck, 7)[0]["properties"] == {"k": 1}
    assert import_records(duck, project_id=7, records=records).duplicates == 1


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2024-01-01T00:00:00Z", "auto", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01 08:00:00+08:00", "iso", datetime(2024, 1, 1, tzinfo=UTC)),
        (1_704_067_200, "auto", datetime(2024, 1, 1, tzinfo=UTC)),
        (1_704_067_200_000, "auto", datetime(2024, 1, 1, tzinfo=UTC)),
        ("1704067200", "epoch_s", datetime(2024, 1, 1, tzinfo=UTC)),
        (1_704_067_200_000, "epoch_ms", datetime(2024, 1, 1, tzinfo=UTC)),
        (1_704_067_200, "iso", None),
        ("garbage", "auto", None),
        (True, "auto", None),
        ("", "auto", None),
    ],
)
def test_parse_timestamp(value: Any, fmt: str, expected: datetime | None) -> None:
    assert parse_timestamp(value, fmt) == expected


def test_gzipped_csv_and_malformed_lines(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("event,distinct_id,timestamp\ne,u1,2024-01-01\ne,u2\ne,u3,2024-01-02,extra\n")
        f.write("e,u4,2024-01-03\n")
    summary = import_file(duck, project_id=1, path=path)
    assert (summary.rows_read, summary.imported, summary.rejected) == (4, 2, 2)
    assert {r.field for r in summary.rejects} == {"csv"}
    assert "expected 3 columns, got 2" in summary.rejects[0].reason
    assert [r["distinct_id"] for r in stored(duck)] == ["u1", "u4"]


def test_broken_gzip_is_a_file_error(duck: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ImportFileError, match="cannot read"):
        import_file(duck, project_id=1, path=path)
