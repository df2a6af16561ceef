"""Writing an import's columns: fixed-size batches, identity, one transaction each.

Batches are cut exactly where the per-event path cut them (every ``batch_size`` valid
rows), because identity resolves a batch in time order and the cut decides what "earlier"
means. Each batch is written by a background thread while the next chunk is read and
converted: DuckDB inserts without holding the GIL, so on two cores reading and writing
overlap instead of taking turns. Batches still commit one after another, in file order,
each seeing the identities the previous one wrote.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yunying.events.bulk_identity import Resolved, resolve_batch
from yunying.events.columnar import Columns
from yunying.events.model import Event
from yunying.store.base import ArrowWriteBatch, EventStore, WriteBatch, writes_arrow
from yunying.store.schema import EVENT_ARROW_SCHEMA

# (received, inserted) of one written batch
OnWritten = Callable[[int, int], None]


@dataclass(frozen=True)
class _Stop:
    pass


class BulkWriter:
    """Collects ``Columns`` and writes them in batches of ``batch_size`` rows.

    ``threaded=False`` writes in the caller's thread (same results, no overlap).
    """

    def __init__(
        self,
        store: EventStore,
        project_id: int,
        batch_size: int,
        on_written: OnWritten,
        *,
        threaded: bool = True,
    ) -> None:
        self.store = store
        self.project_id = project_id
        self.batch_size = max(1, batch_size)
        self._on_written = on_written
        self._parts: list[Columns] = []
        self._buffered = 0
        self._error: BaseException | None = None
        self._con = duckdb.connect()  # the caller's thread's (``unique_rows``)
        self._queue: queue.Queue[tuple[Columns, int] | _Stop] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._run, name="yunying-import", daemon=True)
            self._thread.start()

    def add(self, cols: Columns) -> None:
        self._raise_if_failed()
        if len(cols):
            self._parts.append(cols)
            self._buffered += len(cols)
        while self._buffered >= self.batch_size:
            whole = Columns.concat(self._parts)
            self._submit(whole.slice(0, self.batch_size))
            rest = whole.slice(self.batch_size, len(whole))
            self._parts = [rest] if len(rest) else []
            self._buffered = len(rest)

    def finish(self) -> None:
        """Write what is left and wait for every batch to be committed."""
        try:
            if self._buffered:
                self._submit(Columns.concat(self._parts))
                self._parts, self._buffered = [], 0
        finally:
            self.close()
        self._raise_if_failed()

    def close(self) -> None:
        """Stop the writer thread (after the batches already handed to it)."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(_Stop())
            self._thread.join()
            self._thread = None
        self._con.close()

    def _submit(self, batch: Columns) -> None:
        # Deduplicated here, so the writing thread (the longer path) only resolves and writes.
        item = (unique_rows(batch, self._con), len(batch))
        if self._queue is None:
            self._write(*item)
            return
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            if self._error is not None:
                continue  # drain: the caller raises the first error
            try:
                self._write(*item)
            except BaseException as exc:
                self._error = exc

    def _write(self, batch: Columns, received: int) -> None:
        """Resolve and write one deduplicated batch of ``received`` rows."""
        resolved = resolve_batch(self.store, self.project_id, batch)
        inserted = write_resolved(self.store, self.project_id, resolved)
        self._on_written(received, inserted)


def unique_rows(batch: Columns, con: duckdb.DuckDBPyConnection) -> Columns:
    """The first row of each uuid: a uuid twice in one batch counts once.

    DuckDB finds the repeated uuids (usually none) in about half the time Arrow's
    ``unique`` takes to hash a million distinct strings.
    """
    _yy_uuids = pa.table({"u": batch.table.column("uuid")})
    con.register("_yy_uuids", _yy_uuids)
    try:
        twice = con.sql("SELECT u FROM _yy_uuids GROUP BY u HAVING count(*) > 1").fetchall()
    finally:
        con.unregister("_yy_uuids")
    if not twice:
        return batch
    uuids = batch.table.column("uuid")
    repeated = pa.array([r[0] for r in twice], pa.string())
    keep = np.ones(len(batch), dtype=bool)
    seen: set[str] = set()
    rows = pc.indices_nonzero(pc.is_in(uuids, repeated)).to_pylist()
    for i, u in zip(rows, uuids.take(pa.array(rows, pa.int64())).to_pylist(), strict=True):
        if u in seen:
            keep[i] = False
        seen.add(u)
    touching = pc.indices_nonzero(batch.touches).to_numpy()
    props = [p for i, p in zip(touching, batch.touch_props, strict=True) if keep[i]]
    mask = pa.array(keep)
    return Columns(batch.table.filter(mask), batch.touches.filter(mask), props)


def event_table(project_id: int, resolved: Resolved) -> pa.Table:
    """The batch in the store's column order (``EVENT_ARROW_SCHEMA``)."""
    t = resolved.columns.table
    n = t.num_rows
    cols = {
        "uuid": t.column("uuid"),
        "project_id": pa.repeat(pa.scalar(project_id, pa.int32()), n),
        "event": t.column("event"),
        "distinct_id": t.column("distinct_id"),
        "person_id": resolved.person_id,
        **{name: t.column(name) for name in EVENT_ARROW_SCHEMA.names[5:]},
    }
    return pa.table(cols, schema=EVENT_ARROW_SCHEMA)


def write_resolved(store: EventStore, project_id: int, resolved: Resolved) -> int:
    """One transaction: the batch's events (stored uuids skipped), persons and ids."""
    table = event_table(project_id, resolved)
    if writes_arrow(store):
        batch = ArrowWriteBatch(table, resolved.persons, resolved.distinct_ids, resolved.overrides)
        return store.write_arrow(batch)  # type: ignore[attr-defined,no-any-return]
    events = [
        Event(
            r["uuid"],
            project_id,
            r["event"],
            r["distinct_id"],
            r["timestamp"],
            r["received_at"],
            orjson.loads(r["properties"]),
            r["person_id"],
        )
        for r in table.to_pylist()
    ]
    return store.write(
        WriteBatch(events, resolved.persons, resolved.distinct_ids, resolved.overrides)
    )
