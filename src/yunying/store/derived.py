"""Per-person values that jobs derive from events: segment membership, layers, scores.

A job recomputes one value for every person of a project at once (a segment refresh, RFM
groups, churn scoring). Each run is written under a new ``run_id`` into ``person_values``
and becomes visible only when its row in ``derived_runs`` is written afterwards, so a
reader never sees half a run on either engine (ClickHouse has no transactions), and the
previous run stays readable for diffs (who entered or left a segment, who moved layer).

Names are namespaced strings chosen by the writer, e.g. ``segment:12``, ``layer:activity``,
``rfm:group``, ``score:churn_risk``. Values are a number, a string, or both.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from yunying.store.base import EventStore
from yunying.store.dialect import Dialect

VALUES_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("name", pa.string()),
        ("run_id", pa.int64()),
        ("person_id", pa.string()),
        ("value_num", pa.float64()),
        ("value_str", pa.string()),
    ]
)
RUNS_SCHEMA = pa.schema(
    [
        ("project_id", pa.int32()),
        ("name", pa.string()),
        ("run_id", pa.int64()),
        ("computed_at", pa.timestamp("us")),
        ("row_count", pa.int64()),
    ]
)

_DUCKDB_DDL = [
    """CREATE TABLE IF NOT EXISTS person_values (
        project_id INTEGER NOT NULL, name VARCHAR NOT NULL, run_id BIGINT NOT NULL,
        person_id VARCHAR NOT NULL, value_num DOUBLE, value_str VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS derived_runs (
        project_id INTEGER NOT NULL, name VARCHAR NOT NULL, run_id BIGINT NOT NULL,
        computed_at TIMESTAMP NOT NULL, row_count BIGINT NOT NULL)""",
]
_CLICKHOUSE_DDL = [
    """CREATE TABLE IF NOT EXISTS {db}.person_values (
        project_id Int32, name LowCardinality(String), run_id Int64, person_id String,
        value_num Nullable(Float64), value_str Nullable(String)
    ) ENGINE = MergeTree ORDER BY (project_id, name, run_id, person_id)""",
    """CREATE TABLE IF NOT EXISTS {db}.derived_runs (
        project_id Int32, name String, run_id Int64,
        computed_at DateTime64(6, 'UTC'), row_count Int64
    ) ENGINE = MergeTree ORDER BY (project_id, name, run_id)""",
]

_ready: weakref.WeakSet[Any] = weakref.WeakSet()
_ready_lock = threading.Lock()


@dataclass(frozen=True)
class Run:
    name: str
    run_id: int
    row_count: int


def _is_clickhouse(store: EventStore) -> bool:
    return store.dialect.name == "clickhouse"


def execute(store: EventStore, sql: str) -> None:
    """Run a statement that returns nothing (DDL, DELETE) on either engine."""
    if _is_clickhouse(store):
        store._b.command(sql)  # type: ignore[attr-defined]
    else:
        store._cursor().execute(sql).fetchall()  # type: ignore[attr-defined]


def insert_arrow(store: EventStore, table: str, data: pa.Table) -> None:
    """Append an Arrow table to ``table`` (columns in table order)."""
    if _is_clickhouse(store):
        store._b.insert_arrow(f"{store.db}.{table}", data)  # type: ignore[attr-defined]
        return
    cur = store._cursor()  # type: ignore[attr-defined]
    cur.register("_yy_derived_in", data)
    try:
        cur.execute(f"INSERT INTO {table} SELECT * FROM _yy_derived_in").fetchall()
    finally:
        cur.unregister("_yy_derived_in")


def ensure_tables(store: EventStore) -> None:
    """Create the derived tables once per store object (cheap to call before every use)."""
    with _ready_lock:
        if store in _ready:
            return
        if _is_clickhouse(store):
            for ddl in _CLICKHOUSE_DDL:
                execute(store, ddl.format(db=store.db))  # type: ignore[attr-defined]
        else:
            for ddl in _DUCKDB_DDL:
                execute(store, ddl)
        _ready.add(store)


def runs(store: EventStore, project_id: int, name: str, limit: int = 2) -> list[Run]:
    """The newest published runs of ``name``, newest first."""
    ensure_tables(store)
    lit = store.dialect.str_lit
    rows = store.query(
        "SELECT run_id, row_count FROM derived_runs "
        f"WHERE project_id = {int(project_id)} AND name = {lit(name)} "
        f"ORDER BY run_id DESC LIMIT {int(limit)}"
    ).to_pylist()
    return [Run(name, int(r["run_id"]), int(r["row_count"])) for r in rows]


def latest_run(store: EventStore, project_id: int, name: str) -> Run | None:
    found = runs(store, project_id, name, limit=1)
    return found[0] if found else None


def write_values(store: EventStore, project_id: int, name: str, data: pa.Table) -> Run:
    """Publish a new run of ``name``: ``data`` has ``person_id`` and optionally
    ``value_num`` / ``value_str``; one row per person."""
    ensure_tables(store)
    n = data.num_rows
    previous = latest_run(store, project_id, name)
    run_id = time.time_ns() // 1000
    if previous is not None and run_id <= previous.run_id:
        run_id = previous.run_id + 1

    def column(col: str, typ: pa.DataType) -> pa.Array:
        if col in data.column_names:
            return data.column(col).cast(typ)
        return pa.nulls(n, typ)

    rows = pa.table(
        {
            "project_id": pa.array([project_id] * n, pa.int32()),
            "name": pa.array([name] * n, pa.string()),
            "run_id": pa.array([run_id] * n, pa.int64()),
            "person_id": column("person_id", pa.string()),
            "value_num": column("value_num", pa.float64()),
            "value_str": column("value_str", pa.string()),
        },
        schema=VALUES_SCHEMA,
    )
    if n:
        insert_arrow(store, "person_values", rows)
    published = pa.table(
        {
            "project_id": pa.array([project_id], pa.int32()),
            "name": pa.array([name], pa.string()),
            "run_id": pa.array([run_id], pa.int64()),
            "computed_at": pa.array([time.time_ns() // 1000], pa.int64()).cast(pa.timestamp("us")),
            "row_count": pa.array([n], pa.int64()),
        },
        schema=RUNS_SCHEMA,
    )
    insert_arrow(store, "derived_runs", published)
    return Run(name, run_id, n)


def values_sql(dialect: Dialect, project_id: int, name: str, run_id: int | None = None) -> str:
    """SELECT person_id, value_num, value_str of one run (default: the newest published).

    Safe to embed in larger queries: the name is a quoted literal, ids are integers.
    """
    lit = dialect.str_lit(name)
    where = f"project_id = {int(project_id)} AND name = {lit}"
    if run_id is None:
        run = f"(SELECT max(run_id) FROM derived_runs WHERE {where})"
    else:
        run = str(int(run_id))
    return (
        "SELECT person_id, value_num, value_str FROM person_values "
        f"WHERE {where} AND run_id = {run}"
    )


def prune(store: EventStore, project_id: int, name: str, keep: int = 2) -> None:
    """Drop all but the newest ``keep`` runs of ``name`` (history lives elsewhere)."""
    kept = runs(store, project_id, name, limit=keep)
    if len(kept) < keep:
        return
    oldest = min(r.run_id for r in kept)
    lit = store.dialect.str_lit(name)
    where = f"project_id = {int(project_id)} AND name = {lit} AND run_id < {oldest}"
    if _is_clickhouse(store):
        execute(store, f"DELETE FROM person_values WHERE {where}")
        execute(store, f"DELETE FROM derived_runs WHERE {where}")
    else:
        execute(store, f"DELETE FROM derived_runs WHERE {where}")
        execute(store, f"DELETE FROM person_values WHERE {where}")
