"""ClickHouse event store: a server through clickhouse-connect, or in-process via chdb.

ClickHouse has no unique constraints, so dedupe is a look-up of the batch's uuids before
the insert (skip index on uuid); persons and id mappings are ReplacingMergeTree tables
read with ``argMax`` by version, the same query shape DuckDB answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yunying.store.base import (
    ArrowWriteBatch,
    DistinctIdRow,
    PersonOverrideRow,
    PersonRow,
    WriteBatch,
)
from yunying.store.dialect import ClickHouseDialect
from yunying.store.person_overrides import missing_overrides_sql
from yunying.store.schema import (
    events_to_arrow,
    overrides_to_arrow,
    pdi_to_arrow,
    persons_to_arrow,
)

_DDL = [
    """
    CREATE TABLE IF NOT EXISTS {db}.events (
        uuid String,
        project_id Int32,
        event LowCardinality(String),
        distinct_id String,
        person_id String,
        timestamp DateTime64(6, 'UTC'),
        received_at DateTime64(6, 'UTC'),
        properties String,
        current_url Nullable(String),
        referrer Nullable(String),
        utm_source Nullable(String),
        channel Nullable(String),
        revenue Nullable(Float64),
        content_id Nullable(String),
        INDEX uuid_idx uuid TYPE bloom_filter GRANULARITY 4
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (project_id, toDate(timestamp), event, distinct_id, uuid)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.persons (
        project_id Int32,
        id String,
        properties String,
        created_at DateTime64(6, 'UTC'),
        version Int64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.person_distinct_ids (
        project_id Int32,
        distinct_id String,
        person_id String,
        version Int64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, distinct_id)
    """,
]

# Created apart: a store from before persons on events gets its rows computed once.
_OVERRIDES_DDL = """
    CREATE TABLE {db}.person_overrides (
        project_id Int32,
        old_person_id String,
        distinct_id String
    ) ENGINE = MergeTree ORDER BY (project_id, old_person_id)
"""


class _Chdb:
    """In-process ClickHouse (tests, single machine)."""

    def __init__(self, path: str | None, database: str) -> None:
        from chdb import session

        self._s = session.Session(path) if path else session.Session()
        self._s.query(f"CREATE DATABASE IF NOT EXISTS {database}")
        self._s.query(f"USE {database}")  # metric SQL names tables without a database

    def command(self, sql: str) -> None:
        self._s.query(sql)

    def query_arrow(self, sql: str) -> pa.Table:
        return self._s.query(sql, "ArrowTable")

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        # chdb reads the local Arrow table through its Python() table function.
        _yy_data = data
        cols = ", ".join(data.column_names)
        self._s.query(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(_yy_data)")

    def close(self) -> None:
        self._s.close()


class _Server:
    """A ClickHouse server over HTTP (clickhouse-connect).

    One client serves every thread, so it opens no session: a session takes one query at
    a time (the client and the server both refuse a second). The database, from the URL's
    path or else ``database``, is created when missing, as ``_Chdb`` does, and is every
    request's current database: metric SQL names its tables without one.
    """

    def __init__(self, url: str, database: str = "yunying") -> None:
        from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

        import clickhouse_connect

        parts = urlsplit(url)
        self.database = unquote(parts.path.strip("/").split("/")[0]) or database
        options: dict[str, Any] = {"autogenerate_session_id": False}
        options.update(parse_qsl(parts.query))  # client options, else ClickHouse settings
        self._c = clickhouse_connect.get_client(
            dsn=urlunsplit((parts.scheme, parts.netloc, "", "", "")),
            # The client takes no scheme from a DSN: without this, https:// is plain http.
            interface=parts.scheme if parts.scheme in ("http", "https") else None,
            generic_args=options,
        )
        d = ClickHouseDialect()
        found = self._c.command(
            f"SELECT count() FROM system.databases WHERE name = {d.str_lit(self.database)}"
        )
        if not found:  # checked first: a user may lack the right to CREATE an existing one
            self._c.command(f"CREATE DATABASE IF NOT EXISTS {d.ident(self.database)}")
        self._c.database = self.database

    def command(self, sql: str) -> None:
        self._c.command(sql)

    def query_arrow(self, sql: str) -> pa.Table:
        return self._c.query_arrow(sql)

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        self._c.insert_arrow(table, data)

    def close(self) -> None:
        self._c.close()


class ClickHouseStore:
    dialect = ClickHouseDialect()

    def __init__(self, backend: Any, database: str = "yunying") -> None:
        self._b = backend
        self.db = database
        self._lock = threading.Lock()

    @classmethod
    def in_process(cls, path: str | None = None, database: str = "yunying") -> ClickHouseStore:
        return cls(_Chdb(path, database), database)

    @classmethod
    def from_settings(cls, settings: Any) -> ClickHouseStore:
        if settings.clickhouse_url:
            server = _Server(settings.clickhouse_url)
            return cls(server, server.database)  # the URL's database, not a fixed name
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls.in_process(str(settings.chdb_path))

    def ensure_schema(self) -> None:
        with self._lock:
            for ddl in _DDL:
                self._b.command(ddl.format(db=self.db))
            exists = self._q(
                f"SELECT count() AS n FROM system.tables WHERE database = "
                f"{self.dialect.str_lit(self.db)} AND name = 'person_overrides'"
            )
            if not exists.column("n")[0].as_py():
                self._b.command(_OVERRIDES_DDL.format(db=self.db))
                self._b.command(
                    f"INSERT INTO {self.db}.person_overrides "
                    f"{missing_overrides_sql(self.dialect)}{self.dialect.settings_suffix()}"
                )

    def _q(self, sql: str) -> pa.Table:
        return self._b.query_arrow(sql)

    def _in_list(self, values: Iterable[str]) -> str:
        lit = self.dialect.str_lit
        return ", ".join(lit(v) for v in values)

    def write(self, batch: WriteBatch) -> int:
        by_key = {}
        for e in batch.events:
            by_key.setdefault((e.project_id, e.uuid), e)
        events = events_to_arrow(list(by_key.values())) if by_key else None
        return self._write(events, batch.persons, batch.distinct_ids, batch.overrides)

    def write_arrow(self, batch: ArrowWriteBatch) -> int:
        """``write`` for events already in columns (the bulk import's path)."""
        events = batch.events if batch.events.num_rows else None
        return self._write(events, batch.persons, batch.distinct_ids, batch.overrides)

    def _write(
        self,
        events: pa.Table | None,
        persons: list[PersonRow],
        distinct_ids: list[DistinctIdRow],
        overrides: list[PersonOverrideRow],
    ) -> int:
        """Insert the events not stored yet (no uuid twice in ``events``), then identities."""
        inserted = 0
        with self._lock:
            if events is not None:
                fresh = events
                for pid in pc.unique(events.column("project_id")).to_pylist():
                    mine = pc.equal(fresh.column("project_id"), pid)
                    ids = fresh.column("uuid").filter(mine).to_pylist()
                    seen = self.existing_uuids(pid, ids)
                    if seen:
                        stored = pc.is_in(fresh.column("uuid"), pa.array(list(seen), pa.string()))
                        fresh = fresh.filter(pc.invert(pc.and_(mine, stored)))
                if fresh.num_rows:
                    self._b.insert_arrow(f"{self.db}.events", fresh)
                inserted = fresh.num_rows
            if persons:
                self._b.insert_arrow(f"{self.db}.persons", persons_to_arrow(persons))
            if distinct_ids:
                self._b.insert_arrow(f"{self.db}.person_distinct_ids", pdi_to_arrow(distinct_ids))
            if overrides:
                self._b.insert_arrow(f"{self.db}.person_overrides", overrides_to_arrow(overrides))
        return inserted

    def existing_uuids(self, project_id: int, uuids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(uuids))
        out: set[str] = set()
        for i in range(0, len(ids), 5000):
            part = ids[i : i + 5000]
            t = self._q(
                f"SELECT uuid FROM {self.db}.events WHERE project_id = {int(project_id)} "
                f"AND uuid IN ({self._in_list(part)})"
            )
            out.update(t.column("uuid").to_pylist())
        return out

    def distinct_id_map(self, project_id: int, distinct_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(distinct_ids))
        if not ids:
            return {}
        t = self._q(
            f"SELECT distinct_id, argMax(person_id, version) AS person_id "
            f"FROM {self.db}.person_distinct_ids WHERE project_id = {int(project_id)} "
            f"AND distinct_id IN ({self._in_list(ids)}) GROUP BY distinct_id"
        )
        return dict(
            zip(t.column("distinct_id").to_pylist(), t.column("person_id").to_pylist(), strict=True)
        )

    def person_ids_for(self, project_id: int, person_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(dict.fromkeys(person_ids))
        if not ids:
            return {}
        t = self._q(
            f"SELECT distinct_id, person_id FROM (SELECT distinct_id, "
            f"argMax(person_id, version) AS person_id FROM {self.db}.person_distinct_ids "
            f"WHERE project_id = {int(project_id)} GROUP BY distinct_id) "
            f"WHERE person_id IN ({self._in_list(ids)})"
        )
        out: dict[str, list[str]] = {}
        for d, p in zip(
            t.column("distinct_id").to_pylist(), t.column("person_id").to_pylist(), strict=True
        ):
            out.setdefault(p, []).append(d)
        return out

    def persons(self, project_id: int, ids: Iterable[str]) -> dict[str, PersonRow]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        t = self._q(
            f"SELECT id, argMax(properties, version) AS properties, min(created_at) AS created, "
            f"max(version) AS v FROM {self.db}.persons WHERE project_id = {int(project_id)} "
            f"AND id IN ({self._in_list(wanted)}) GROUP BY id"
        )
        return {
            r["id"]: PersonRow(
                project_id, r["id"], orjson.loads(r["properties"]), r["created"], r["v"]
            )
            for r in t.to_pylist()
        }

    def query(self, sql: str) -> pa.Table:
        return _naive_timestamps(self._q(sql + self.dialect.settings_suffix()))

    def close(self) -> None:
        self._b.close()


def _naive_timestamps(table: pa.Table) -> pa.Table:
    """Return UTC timestamps without a zone, as DuckDB does, so results compare equal."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            col = (
                table.column(i)
                .cast(pa.timestamp(f.type.unit, tz="UTC"))
                .cast(pa.timestamp(f.type.unit))
            )
            table = table.set_column(i, f.name, col)
    return table
