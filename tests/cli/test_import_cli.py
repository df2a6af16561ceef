"""``yunying import``: summary, idempotent re-runs, mapping flags, clear errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.cli.conftest import Cli
from yunying.store.duckdb import DuckDBStore
from yunying.store.person_days import RollupView

CSV = """\
event,distinct_id,timestamp,plan
signup,u1,2024-01-01T10:00:00Z,free
pageview,u1,2024-01-01T10:05:00Z,free
pageview,,2024-01-01T10:06:00Z,free
pageview,u2,not-a-time,pro
"""


def test_import_summary_and_rerun(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    first = ready.json("import", str(path), "--output", "json")
    assert {k: first[k] for k in ("rows_read", "imported", "duplicates_skipped", "rejected")} == {
        "rows_read": 4,
        "imported": 2,
        "duplicates_skipped": 0,
        "rejected": 2,
    }
    assert [(r["row"], r["field"]) for r in first["rejects"]] == [
        (3, "distinct_id"),
        (4, "timestamp"),
    ]
    table = ready.ok("import", str(path)).stdout
    assert "Import summary" in table
    assert "row 4: timestamp: unparseable timestamp 'not-a-time'" in table
    again = ready.json("import", str(path), "-o", "json")
    assert (again["imported"], again["duplicates_skipped"]) == (0, 2)
    # The import leaves person_days up to date: day-grained metrics read it, no day stale.
    store = DuckDBStore(ready.data_dir / "events.duckdb", read_only=True)
    try:
        assert store.person_days_view(1, "Asia/Shanghai") == RollupView(frozenset())
        rows = store.query("SELECT event, n FROM person_days ORDER BY event").to_pylist()
        assert rows == [{"event": "pageview", "n": 1}, {"event": "signup", "n": 1}]
    finally:
        store.close()


def test_mapping_flags(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "user": ["a", "b"],
                "at": ["01.02.2024 10:00", "02.02.2024 11:00"],
                "amount": [5.0, 7.5],
                "order_id": ["o-1", "o-2"],
            }
        ),
        path,
    )
    out = ready.json(
        "import", str(path), "--distinct-id-col", "user", "--timestamp-col", "at",
        "--timestamp-format", "%d.%m.%Y %H:%M", "--default-event", "order",
        "--uuid-col", "order_id", "--map-prop", "amount=$revenue", "-o", "json",
    )  # fmt: skip
    assert (out["imported"], out["rejected"]) == (2, 0)
    trends = ready.json(
        "query", "trends", "--spec",
        '{"series": [{"event": "order"}], "math": "sum", "math_property": "$revenue"}',
        "--from", "2024-02-01", "--to", "2024-02-02", "-f", "json",
    )  # fmt: skip
    assert trends["series"][0]["values"] == [5.0, 7.5]


def test_import_errors_are_messages(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("name,user,time\nx,u,2024-01-01\n")
    ready.user_error("import", str(path), match=r"event: column 'event' not found.*--event-col")
    ready.user_error("import", str(tmp_path / "missing.csv"), match="no such file")
    ready.user_error("import", str(path), "--format", "xml", match="--format")
    ready.user_error("import", str(path), "--map-prop", "nonsense", match="--map-prop")
    ready.user_error("import", str(path), "--timestamp-format", "soon", match="timestamp_format")
    ready.user_error("import", str(path), "--project", "Nope", match="no project named 'Nope'")
    bad = tmp_path / "e.parquet"
    bad.write_text("not parquet")
    ready.user_error("import", str(bad), match="not a readable Parquet file")


def hold_event_store(path: Path) -> subprocess.Popen[str]:
    """Another process with the DuckDB file open, as a running server would have."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_event_store_held_by_another_process(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(CSV)
    proc = hold_event_store(ready.data_dir / "events.duckdb")
    try:
        result = ready.user_error("import", str(path), match="in use by another process")
        assert "HTTP API" in result.stderr
        ready.user_error("query", "trends", "-e", "pageview", match="in use by another process")
    finally:
        proc.communicate("")
