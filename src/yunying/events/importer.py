"""Import events from files (JSONL, CSV, Parquet): the entry points and the summary.

Reading and column mapping live in ``import_sources``; ``columnar`` turns each chunk into
the store's columns (rejects counted here), and ``bulk_write`` resolves identities and
writes them in batches. That is the per-event write path (``pipeline.write_events``)
applied to whole columns: the same rows, persons and id map, without an ``Event`` per row.

Re-importing a file adds nothing: a row's ``uuid`` column is its id, and a row without
one gets ``content_uuid`` of its content (event, distinct id, timestamp, properties), so
the store's dedupe on ``(project_id, uuid)`` skips it the second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from yunying.events.bulk_write import BulkWriter
from yunying.events.columnar import ColumnBuilder, Reject, content_id
from yunying.events.columnar import reference_content_id as _reference_content_id
from yunying.events.import_sources import (
    EPOCH,
    ArrowChunk,
    Chunk,
    ColumnMapping,
    ImportFileError,
    csv_chunks,
    jsonl_chunks,
    parquet_chunks,
    parse_timestamp,
    records_chunk,
)
from yunying.store.base import EventStore

__all__ = [
    "ColumnMapping",
    "ImportFileError",
    "ImportProgress",
    "ImportSummary",
    "RejectedRow",
    "count_events",
    "detect_format",
    "import_file",
    "import_records",
    "parse_timestamp",
]

Format = Literal["jsonl", "csv", "parquet"]
MAX_REJECTS_KEPT = 100
# Rows per write batch (one transaction; identities resolve in time order within it).
# DuckDB writes a transaction's full row groups (122,880 rows) straight to the database
# file and the rest through its log, so a batch of 100,000 rows went entirely through the
# log: its insert took ~30% more CPU than at 250,000. Larger batches save a little more
# CPU but overlap less with reading the next chunks. Columns hold a batch in ~60 MB.
DEFAULT_BATCH_SIZE = 250_000
# Rows per chunk read and converted.
READ_SIZE = 100_000
_SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class RejectedRow:
    # 1-based record number (JSONL: line number; CSV: data row after the header, counting
    # well-formed rows only); 0 when unknown (a CSV line with the wrong number of fields)
    row: int
    field: str
    reason: str


@dataclass
class ImportSummary:
    rows_read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[RejectedRow] = field(default_factory=list)  # the first MAX_REJECTS_KEPT

    def reject(self, row: int, field_: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejects) < MAX_REJECTS_KEPT:
            self.rejects.append(RejectedRow(row, field_, reason))


@dataclass(frozen=True)
class ImportProgress:
    rows_read: int
    done: int  # in units of ``total``: bytes for text files, rows for Parquet
    total: int | None


Progress = Callable[[ImportProgress], None]


# ---- entry points ---------------------------------------------------------------------


def detect_format(path: Path) -> Format:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name!r} from its name; pass jsonl, csv or parquet"
        )
    return fmt


def import_file(
    store: EventStore,
    *,
    project_id: int,
    path: Path | str,
    fmt: Format | None = None,
    mapping: ColumnMapping | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one file; rows that cannot be events are counted in ``rejected``, not raised."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    mapping = mapping or ColumnMapping()
    sink = _Sink(store, project_id, mapping, batch_size)
    read_size = min(batch_size, READ_SIZE)
    chunks: Iterable[tuple[Chunk | ArrowChunk, int, int | None]]
    if fmt == "parquet":
        chunks = parquet_chunks(path, mapping, read_size)
    elif fmt == "csv":
        chunks = csv_chunks(path, mapping)
    elif fmt == "jsonl":
        chunks = jsonl_chunks(path, mapping, read_size)
    else:
        raise ImportFileError(f"unknown format {fmt!r}: use jsonl, csv or parquet")
    try:
        for chunk, done, total in chunks:
            sink.add(chunk)
            if progress is not None:
                progress(ImportProgress(sink.summary.rows_read, done, total))
    except BaseException:
        sink.close()
        raise
    return sink.finish()


def import_records(
    store: EventStore,
    *,
    project_id: int,
    records: Iterable[Mapping[str, Any]],
    mapping: ColumnMapping | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import already-parsed records (dicts), with the same rules as a JSONL file."""
    mapping = mapping or ColumnMapping()
    sink = _Sink(store, project_id, mapping, batch_size)
    buf: list[Mapping[str, Any]] = []
    row = 0
    read_size = min(batch_size, READ_SIZE)
    try:
        for rec in records:
            buf.append(rec)
            if len(buf) >= read_size:
                sink.add(records_chunk(buf, mapping, row + 1))
                row += len(buf)
                buf = []
                if progress is not None:
                    progress(ImportProgress(row, row, None))
        if buf:
            sink.add(records_chunk(buf, mapping, row + 1))
    except BaseException:
        sink.close()
        raise
    return sink.finish()


def count_events(store: EventStore, project_id: int | None = None) -> int:
    """Events stored (for one project): how ``yunying up`` decides the store is empty."""
    where = "" if project_id is None else f" WHERE project_id = {int(project_id)}"
    return int(store.query(f"SELECT count(*) AS n FROM events{where}").column("n")[0].as_py())


class _Sink:
    """Chunks in, summary out: converts each chunk and hands its rows to the writer."""

    def __init__(
        self,
        store: EventStore,
        project_id: int,
        mapping: ColumnMapping,
        batch_size: int,
        *,
        threaded: bool = True,
    ) -> None:
        self.summary = ImportSummary()
        self._builder = ColumnBuilder(mapping)
        self._writer = BulkWriter(store, project_id, batch_size, self._written, threaded=threaded)

    def add(self, chunk: Chunk | ArrowChunk) -> None:
        if isinstance(chunk, ArrowChunk):
            self.summary.rows_read += len(chunk) + len(chunk.malformed)
            for reason in chunk.malformed:
                self.summary.reject(0, "csv", reason)
            cols, rejects = self._builder.arrow(chunk)
        else:
            self.summary.rows_read += len(chunk)
            cols, rejects = self._builder.records(chunk)
        self._rejects(rejects)
        self._writer.add(cols)

    def finish(self) -> ImportSummary:
        try:
            self._writer.finish()
        finally:
            self.close()
        return self.summary

    def close(self) -> None:
        """Stop the writer (batches already handed over are still written)."""
        self._writer.close()
        self._builder.close()

    def _rejects(self, rejects: list[Reject]) -> None:
        for row, field_, reason in rejects:
            self.summary.reject(row, field_, reason)

    def _written(self, received: int, inserted: int) -> None:
        self.summary.imported += inserted
        self.summary.duplicates += received - inserted


def _content_uuid(event: str, distinct_id: str, ts: datetime, props: dict[str, Any]) -> str:
    """The id a row without one gets (``columnar.content_id`` at ``ts``'s micros)."""
    return content_id(event, distinct_id, _micros(ts), props)


def reference_content_uuid(
    event: str, distinct_id: str, ts: datetime, props: dict[str, Any]
) -> str:
    """The id a row without one gets, spelled with ``content_uuid`` (used by tests)."""
    return _reference_content_id(event, distinct_id, _micros(ts), props)


def _micros(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)
