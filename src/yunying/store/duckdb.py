"""DuckDB event store: the embedded default.

One process owns the file for writing (DuckDB's rule); writes go through ``write`` in one
transaction each, so an acknowledged batch is in DuckDB's WAL before the caller returns.

``events.uuid`` is DuckDB's 16-byte ``UUID`` type, not text: the primary key that dedupes
events is an index over it, and maintaining that index was most of the cost of an insert
(a bulk import of 1M events spent ~2 s in it with 36-character text keys, under 1 s
with UUID keys; an HTTP commit of 1,000 events into 10M stored ones took 24 ms instead
of 7 ms). Arrow results still carry it as text, so queries see no difference.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yunying.store.base import ArrowWriteBatch, PersonRow, WriteBatch
from yunying.store.dialect import DuckDBDialect
from yunying.store.event_timelines import DDL as _TIMELINES_DDL
from yunying.store.event_timelines import SnapshotReader, TimelinesView
from yunying.store.event_timelines import read_view as read_timelines_view
from yunying.store.identity_mirror import IdentityMirror
from yunying.store.optimistic import OptimisticBatch, StoredDuplicate
from yunying.store.person_days import DDL as _PERSON_DAYS_DDL
from yunying.store.person_days import Execute, RollupView, mark_sql, read_view
from yunying.store.person_overrides import missing_overrides_sql
from yunying.store.schema import (
    PERSON_ARROW_SCHEMA,
    events_to_arrow,
    overrides_to_arrow,
    pdi_to_arrow,
    stored_person,
)
from yunying.store.timeline_cache import DEFAULT_MB as TIMELINE_CACHE_MB
from yunying.store.timeline_cache import TimelineCache

_DDL = """
CREATE TABLE IF NOT EXISTS events (
    uuid UUID NOT NULL,
    project_id INTEGER NOT NULL,
    event VARCHAR NOT NULL,
    distinct_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    properties VARCHAR NOT NULL,
    current_url VARCHAR,
    referrer VARCHAR,
    utm_source VARCHAR,
    channel VARCHAR,
    revenue DOUBLE,
    content_id VARCHAR,
    PRIMARY KEY (project_id, uuid)
);
CREATE TABLE IF NOT EXISTS persons (
    project_id INTEGER NOT NULL,
    id VARCHAR NOT NULL,
    properties VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, id)
);
CREATE TABLE IF NOT EXISTS person_distinct_ids (
    project_id INTEGER NOT NULL,
    distinct_id VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);
"""

_OVERRIDES_DDL = """
CREATE TABLE person_overrides (
    project_id INTEGER NOT NULL,
    old_person_id VARCHAR NOT NULL,
    distinct_id VARCHAR NOT NULL
);
"""


CHECKPOINT_THRESHOLD = "64MB"
T = TypeVar("T")
R = TypeVar("R")


class DuckDBStore:
    dialect = DuckDBDialect()
    optimistic_writes = True  # see store/optimistic.py

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        read_only: bool = False,
        timeline_cache_mb: int = TIMELINE_CACHE_MB,
    ) -> None:
        """``path=None`` (or ``":memory:"``) gives an in-memory store for tests;
        ``timeline_cache_mb`` bounds the decoded ``event_timelines`` months kept for
        funnels (``store/timeline_cache.py``; 0 keeps none)."""
        target = ":memory:" if path in (None, ":memory:") else str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.path = target
        self.read_only = read_only
        self._con = duckdb.connect(target, read_only=read_only)
        self._lock = threading.Lock()
        # Identity look-ups from memory while this store is the database's one writer.
        self._mirror: IdentityMirror | None = None
        # (project, UTC day) this store marked in person_days_dirty since its last refresh
        # began: a write whose days are all here need not mark them again.
        self._marked: set[tuple[int, date]] = set()
        self.timeline_cache = TimelineCache(timeline_cache_mb << 20)
        if not read_only:
            key = None if target == ":memory:" else os.path.realpath(target)
            self._mirror = IdentityMirror(self, key)
            # Fewer, larger checkpoints: sustained ingest spent ~15% less CPU at 64 MB than
            # at DuckDB's default 16 MB; the WAL replayed after a crash stays small.
            self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")

    # DuckDB connections are not thread-safe; each thread gets its own cursor.
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def ensure_schema(self) -> None:
        with self._lock:
            con = self._con
            con.execute(_DDL).fetchall()
            con.execute(_PERSON_DAYS_DDL).fetchall()
            con.execute(_TIMELINES_DDL).fetchall()
            # New, or a store from before persons on events.
            if not self._has_table("person_overrides"):
                con.execute("BEGIN TRANSACTION").fetchall()
                con.execute(_OVERRIDES_DDL).fetchall()
                con.execute(
                    f"INSERT INTO person_overrides {missing_overrides_sql(self.dialect)}"
                ).fetchall()
                con.execute("COMMIT").fetchall()

    def _has_table(self, name: str) -> bool:
        return bool(
            self._cursor()
            .execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ?",
                [name],
            )
            .fetchall()[0][0]
        )

    def person_days_view(self, project_id: int, tz: str) -> RollupView | None:
        """What metrics may read from ``person_days`` (see ``store/person_days.py``)."""
        try:
            return read_view(self, project_id, tz)
        except duckdb.CatalogException:  # a file from before person_days, opened read-only
            return None

    def event_timelines_view(self, project_id: int) -> TimelinesView | None:
        """What funnels may read from ``event_timelines`` (see ``store/event_timelines.py``)."""
        return self.read_timelines(project_id, lambda _reader, view: view)

    def read_snapshot(self, work: Callable[[SnapshotReader], T]) -> T:
        """``work(reader)`` reading one snapshot of the database (a read-only transaction
        of its own cursor), so several statements see the same state."""
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            return work(
                SnapshotReader(
                    self.dialect,
                    lambda sql: _arrow(cur.sql(sql)),
                    self.timeline_cache,
                    lambda sql: cur.sql(sql).fetchnumpy(),
                )
            )
        finally:
            cur.execute("ROLLBACK")  # nothing to keep
            cur.close()

    def read_timelines(
        self, project_id: int, work: Callable[[SnapshotReader, TimelinesView], T]
    ) -> T | None:
        """``work(reader, view)`` on one snapshot in which ``event_timelines`` is kept for
        the project, so the view and every read agree; None when it is not kept (never
        refreshed, or a file from before the table opened read-only)."""

        def inside(reader: SnapshotReader) -> T | None:
            try:
                view = read_timelines_view(reader, project_id)
            except duckdb.CatalogException:
                return None
            return None if view is None else work(reader, view)

        return self.read_snapshot(inside)

    def run_transaction(self, work: Callable[[Execute], T]) -> T:
        """``work(execute)`` in a transaction of its own cursor, beside the writes (DuckDB's
        MVCC isolates the two); committed if ``work`` returns, rolled back if it raises.

        Its snapshot is taken between two writes, and the days this store remembers as
        marked are forgotten at that moment: every write after it marks its days again,
        so a refresh (the one user) never deletes a mark without seeing its events.
        """
        cur = self._cursor()
        with self._lock:
            cur.execute("BEGIN TRANSACTION")
            # DuckDB fixes the snapshot at the first read of the database, not at BEGIN.
            cur.execute("SELECT count(*) FROM person_days_dirty WHERE FALSE").fetchall()
            self._marked.clear()
        try:
            out = work(lambda sql: _arrow(cur.sql(sql)))
        except BaseException:
            cur.execute("ROLLBACK")
            cur.close()
            raise
        try:
            cur.execute("COMMIT")  # a failed commit rolls back by itself
        finally:
            cur.close()
        return out

    def write(self, batch: WriteBatch) -> int:
        if not (batch.events or batch.persons or batch.distinct_ids or batch.overrides):
            return 0
        events = events_to_arrow(batch.events) if batch.events else None
        return self._write_atomic(batch, events, optimistic=isinstance(batch, OptimisticBatch))

    def write_arrow(self, batch: ArrowWriteBatch) -> int:
        """``write`` for events already in columns (the bulk import's path)."""
        events = batch.events if batch.events.num_rows else None
        if events is None and not (batch.persons or batch.distinct_ids or batch.overrides):
            return 0
        return self._write_atomic(batch, events, optimistic=False)

    def _write_atomic(
        self, batch: WriteBatch | ArrowWriteBatch, events: pa.Table | None, *, optimistic: bool
    ) -> int:
        with self._lock:
            # Optimistic: a plain INSERT is several times cheaper than INSERT OR IGNORE
            # on the primary-key index, and duplicates are rare (SDK retries). If one is
            # there the transaction fails as a whole and is redone skipping known uuids,
            # unless the batch's persons were resolved assuming no event is stored.
            try:
                return self._write(batch, events, skip_duplicates=False)
            except duckdb.ConstraintException:
                if optimistic:
                    raise StoredDuplicate("a stored event is in the batch") from None
                return self._write(batch, events, skip_duplicates=True)

    def _write(
        self,
        batch: WriteBatch | ArrowWriteBatch,
        events: pa.Table | None,
        *,
        skip_duplicates: bool,
    ) -> int:
        """One transaction; returns the number of new events."""
        con = self._con
        # Each person's stored form once: the table and the mirror must hold the same.
        stored = [stored_person(p) for p in batch.persons]
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            inserted = 0
            marks: set[tuple[int, date]] = set()
            if events is not None:
                con.register("_yy_events_in", events)
                verb = "INSERT OR IGNORE" if skip_duplicates else "INSERT"
                # The statement's row count is the number of new events (no count(*)).
                inserted = con.execute(
                    f"{verb} INTO events SELECT * FROM _yy_events_in"
                ).fetchall()[0][0]
                marks = self._unmarked_days(events)
                if marks:  # person_days of these days are stale
                    con.execute(mark_sql(self.dialect, marks)).fetchall()
                con.unregister("_yy_events_in")
            # Rows the batch says are new are added with a plain INSERT: DuckDB's INSERT OR
            # REPLACE looks each key up without the primary-key index (~8 ms for 100 rows
            # vs ~2.5 ms). A wrong hint fails the transaction on the key, and the retry
            # (skip_duplicates) replaces everything.
            hinted = not skip_duplicates
            new_p = getattr(batch, "new_persons", set()) if hinted else set()
            new_d = getattr(batch, "new_ids", set()) if hinted else set()
            if batch.persons:
                pairs = list(zip(batch.persons, stored, strict=True))
                for fresh, part in _split(pairs, lambda r: (r[0].project_id, r[0].id) in new_p):
                    rows = _persons_arrow([r[0] for r in part], [r[1] for r in part])
                    _put_newest(con, "persons", "project_id, id", rows, fresh=fresh)
            if batch.distinct_ids:
                for fresh, part in _split(
                    batch.distinct_ids, lambda r: (r.project_id, r.distinct_id) in new_d
                ):
                    keys = "project_id, distinct_id"
                    _put_newest(con, "person_distinct_ids", keys, pdi_to_arrow(part), fresh=fresh)
            if batch.overrides:
                con.register("_yy_overrides_in", overrides_to_arrow(batch.overrides))
                con.execute("INSERT INTO person_overrides SELECT * FROM _yy_overrides_in")
                con.unregister("_yy_overrides_in")
            try:
                con.execute("COMMIT").fetchall()
            except BaseException:
                if self._mirror is not None:
                    self._mirror.forget()  # committed or not: the mirror cannot tell
                raise
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
        if marks:
            self._marked.update(marks)
        if self._mirror is not None and (batch.distinct_ids or batch.persons):
            try:
                persons = list(zip(batch.persons, stored, strict=True))
                self._mirror.apply(batch.distinct_ids, persons)
            except BaseException:
                self._mirror.forget()  # half applied is worse than not at all
                raise
        return int(inserted)

    def _unmarked_days(self, events: pa.Table) -> set[tuple[int, date]]:
        """The batch's (project, UTC day) pairs, or none if this store marked them all
        already; only while it is the file's one writer (else it cannot know)."""
        projects = pc.min_max(events.column("project_id")).as_py()
        days = pc.cast(
            pc.min_max(events.column("timestamp")),
            pa.struct([("min", pa.date32()), ("max", pa.date32())]),
        ).as_py()
        if projects["min"] == projects["max"] and days["min"] == days["max"]:
            out = {(int(projects["min"]), days["min"])}  # the usual batch, cheaply
        else:
            pairs = pa.table(
                {
                    "p": events.column("project_id"),
                    "d": pc.cast(events.column("timestamp"), pa.date32()),
                }
            )
            found = pairs.group_by(["p", "d"]).aggregate([]).to_pylist()
            out = {(int(r["p"]), r["d"]) for r in found}
        exclusive = self._mirror is not None and self._mirror.usable()
        return out if not exclusive or not out <= self._marked else set()

    def existing_uuids(self, project_id: int, uuids: Iterable[str]) -> set[str]:
        ids = list(uuids)
        if not ids:
            return set()
        cur = self._cursor()
        cur.register("_yy_ids", pa.table({"uuid": pa.array(ids, pa.string())}))
        out = cur.execute(
            "SELECT e.uuid::VARCHAR FROM events e JOIN _yy_ids i "
            "ON e.uuid = TRY_CAST(i.uuid AS UUID) WHERE e.project_id = ?",
            [project_id],
        ).fetchall()
        return {r[0] for r in out}

    def distinct_id_map(self, project_id: int, distinct_ids: Iterable[str]) -> dict[str, str]:
        ids = list(distinct_ids)
        if not ids:
            return {}
        if self._mirror is not None:
            with self._lock:
                mirrored = self._mirror.distinct_ids(
                    project_id, ids, lambda n: self._all_ids(project_id, n)
                )
            if mirrored is not None:
                return mirrored
        cur = self._cursor()
        cur.register("_yy_ids", pa.table({"d": pa.array(ids, pa.string())}))
        out = cur.execute(
            "SELECT p.distinct_id, p.person_id FROM person_distinct_ids p "
            "JOIN _yy_ids i ON p.distinct_id = i.d WHERE p.project_id = ?",
            [project_id],
        ).fetchall()
        return dict(out)

    def _all_ids(self, project_id: int, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` rows of a project's id map (to fill the mirror)."""
        sql = "SELECT distinct_id, person_id FROM person_distinct_ids WHERE project_id = ? LIMIT ?"
        return self._cursor().execute(sql, [project_id, limit]).fetchall()

    def person_ids_for(self, project_id: int, person_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(person_ids)
        if not ids:
            return {}
        cur = self._cursor()
        cur.register("_yy_ids", pa.table({"p": pa.array(ids, pa.string())}))
        out: dict[str, list[str]] = {}
        for d, p in cur.execute(
            "SELECT m.distinct_id, m.person_id FROM person_distinct_ids m "
            "JOIN _yy_ids i ON m.person_id = i.p WHERE m.project_id = ?",
            [project_id],
        ).fetchall():
            out.setdefault(p, []).append(d)
        return out

    def persons(self, project_id: int, ids: Iterable[str]) -> dict[str, PersonRow]:
        wanted = list(ids)
        if not wanted:
            return {}
        if self._mirror is None:
            rows = self._read_persons(project_id, wanted)
            return {pid: PersonRow(project_id, pid, orjson.loads(p), c, v) for pid, p, c, v in rows}
        # Read and remembered under the write lock, so no commit falls in between.
        with self._lock:
            out, missing = self._mirror.persons(project_id, wanted)
            if missing:
                rows = self._read_persons(project_id, missing)
                self._mirror.remember_persons(project_id, [(r[0], r[1:]) for r in rows])
                for pid, props, created, version in rows:
                    out[pid] = PersonRow(project_id, pid, orjson.loads(props), created, version)
        return out

    def _read_persons(self, project_id: int, ids: list[str]) -> list[tuple]:  # type: ignore[type-arg]
        cur = self._cursor()
        cur.register("_yy_ids", pa.table({"p": pa.array(ids, pa.string())}))
        return cur.execute(
            "SELECT id, properties, created_at, version FROM persons p "
            "JOIN _yy_ids i ON p.id = i.p WHERE p.project_id = ?",
            [project_id],
        ).fetchall()

    def query(self, sql: str) -> pa.Table:
        return self._cursor().sql(sql).to_arrow_table()

    def close(self) -> None:
        if self._mirror is not None:
            self._mirror.release()
        self._con.close()


def _put_newest(
    con: duckdb.DuckDBPyConnection, table: str, keys: str, rows: pa.Table, *, fresh: bool
) -> None:
    """The newest version per key of ``rows`` into ``table``: a plain INSERT for rows
    known to be new, else INSERT OR REPLACE."""
    con.register("_yy_rows_in", rows)
    con.execute(
        f"{'INSERT' if fresh else 'INSERT OR REPLACE'} INTO {table} "
        f"SELECT DISTINCT ON ({keys}) * FROM _yy_rows_in ORDER BY {keys}, version DESC"
    ).fetchall()
    con.unregister("_yy_rows_in")


def _split(rows: list[R], is_new: Callable[[R], bool]) -> list[tuple[bool, list[R]]]:
    """(True, new rows), (False, the others), leaving out an empty part."""
    new = [r for r in rows if is_new(r)]
    old = [r for r in rows if not is_new(r)] if len(new) < len(rows) else []
    return [(flag, part) for flag, part in ((True, new), (False, old)) if part]


def _arrow(relation: duckdb.DuckDBPyRelation | None) -> pa.Table:
    """A statement's rows (``sql()`` runs DML at once and returns no relation)."""
    return pa.table({}) if relation is None else relation.to_arrow_table()


def _persons_arrow(persons: list[PersonRow], stored: list[tuple[str, datetime, int]]) -> pa.Table:
    """``persons_to_arrow`` from rows already in their stored form (``stored_person``)."""
    return pa.table(
        {
            "project_id": [p.project_id for p in persons],
            "id": [p.id for p in persons],
            "properties": [s[0] for s in stored],
            "created_at": [s[1] for s in stored],
            "version": [s[2] for s in stored],
        },
        schema=PERSON_ARROW_SCHEMA,
    )
