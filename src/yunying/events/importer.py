"""Import events from files (JSONL, CSV, Parquet) through the one write path.

Reading and column mapping live in ``import_sources``; this module turns the columns into
``Event``s, writes them in batches through ``write_events`` and keeps the summary.

Re-importing a file adds nothing: a row's ``uuid`` column is its id, and a row without
one gets ``content_uuid`` of its content (event, distinct id, timestamp, properties), so
the store's dedupe on ``(project_id, uuid)`` skips it the second time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from yunying.events.import_sources import (
    EPOCH,
    Chunk,
    ColumnMapping,
    ImportFileError,
    csv_chunks,
    jsonl_chunks,
    parquet_chunks,
    parse_timestamp,
    records_chunk,
)
from yunying.events.model import YUNYING_NS, Event, content_uuid, normalize_uuid, utcnow
from yunying.events.pipeline import write_events
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
    batch_size: int = 100_000,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one file; rows that cannot be events are counted in ``rejected``, not raised."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    mapping = mapping or ColumnMapping()
    sink = _Sink(store, project_id, mapping, batch_size)
    if fmt == "parquet":
        chunks = parquet_chunks(path, mapping, batch_size)
    elif fmt == "csv":
        chunks = csv_chunks(path, mapping)
    elif fmt == "jsonl":
        chunks = jsonl_chunks(path, mapping, batch_size)
    else:
        raise ImportFileError(f"unknown format {fmt!r}: use jsonl, csv or parquet")
    for chunk, done, total in chunks:
        sink.add(chunk)
        if progress is not None:
            progress(ImportProgress(sink.summary.rows_read, done, total))
    return sink.finish()


def import_records(
    store: EventStore,
    *,
    project_id: int,
    records: Iterable[Mapping[str, Any]],
    mapping: ColumnMapping | None = None,
    batch_size: int = 100_000,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import already-parsed records (dicts), with the same rules as a JSONL file."""
    mapping = mapping or ColumnMapping()
    sink = _Sink(store, project_id, mapping, batch_size)
    buf: list[Mapping[str, Any]] = []
    row = 0
    for rec in records:
        buf.append(rec)
        if len(buf) >= batch_size:
            sink.add(records_chunk(buf, mapping, row + 1))
            row += len(buf)
            buf = []
            if progress is not None:
                progress(ImportProgress(row, row, None))
    if buf:
        sink.add(records_chunk(buf, mapping, row + 1))
    return sink.finish()


def count_events(store: EventStore, project_id: int | None = None) -> int:
    """Events stored (for one project): how ``yunying up`` decides the store is empty."""
    where = "" if project_id is None else f" WHERE project_id = {int(project_id)}"
    return int(store.query(f"SELECT count(*) AS n FROM events{where}").column("n")[0].as_py())


class _Sink:
    """Turns chunks into events and writes them through ``write_events`` in batches."""

    def __init__(
        self, store: EventStore, project_id: int, mapping: ColumnMapping, batch_size: int
    ) -> None:
        self.store = store
        self.project_id = project_id
        self.mapping = mapping
        self.batch_size = max(1, batch_size)
        self.summary = ImportSummary()
        self._buf: list[Event] = []

    def add(self, chunk: Chunk) -> None:
        self.summary.rows_read += len(chunk.ts) + len(chunk.malformed)
        for reason in chunk.malformed:
            self.summary.reject(0, "csv", reason)
        self._buf.extend(self._events(chunk))
        while len(self._buf) >= self.batch_size:
            batch, self._buf = self._buf[: self.batch_size], self._buf[self.batch_size :]
            self._write(batch)

    def finish(self) -> ImportSummary:
        if self._buf:
            self._write(self._buf)
            self._buf = []
        return self.summary

    def _write(self, batch: list[Event]) -> None:
        result = write_events(self.store, batch)
        self.summary.imported += result.inserted
        self.summary.duplicates += result.duplicates

    def _events(self, c: Chunk) -> list[Event]:
        out: list[Event] = []
        received = utcnow()
        pid = self.project_id
        default_event = self.mapping.default_event
        summary = self.summary
        uuids = c.uuids
        rows = c.rows
        for i, (name, did, ts, props) in enumerate(
            zip(c.events, c.distinct_ids, c.ts, c.props, strict=True)
        ):
            row = rows[i] if rows is not None else c.first_row + i
            if i in c.row_errors:
                summary.reject(row, *c.row_errors[i])
                continue
            if name is None or name == "":
                if default_event is None:
                    summary.reject(row, "event", "missing event name")
                    continue
                name = default_event
            elif not isinstance(name, str):
                name = str(name)
            if did is None or did == "":
                summary.reject(row, "distinct_id", "missing distinct_id")
                continue
            if not isinstance(did, str):
                did = str(did)
            if ts is None:
                raw = c.ts_raw[i]
                why = "missing timestamp" if raw is None else f"unparseable timestamp {raw!r}"
                summary.reject(row, "timestamp", why[:200])
                continue
            if i in c.prop_errors:
                summary.reject(row, "properties", c.prop_errors[i])
                continue
            uid = normalize_uuid(uuids[i]) if uuids is not None else None
            if uid is None:
                uid = _content_uuid(name, did, ts, props)
            out.append(Event(uid, pid, name, did, ts, received, props))
        return out


_NS_BYTES = YUNYING_NS.bytes
_ONE_US = timedelta(microseconds=1)
_UUID_BITS = (1 << 128) - 1 & ~((0xF << 76) | (0x3 << 62))  # clear version and variant
_UUID5 = (0x5 << 76) | (0x2 << 62)  # version 5, RFC 4122 variant


def _content_uuid(event: str, distinct_id: str, ts: datetime, props: dict[str, Any]) -> str:
    """``content_uuid(event, distinct_id, epoch micros, props_json)`` computed inline.

    The same value as ``events.model.content_uuid`` (a test checks), without building
    ``uuid.UUID`` objects: this runs once per imported row and is most of the importer's
    own time.
    """
    body = orjson.dumps(props, option=orjson.OPT_SORT_KEYS, default=str).decode()
    text = "\x1f".join((event, distinct_id, str((ts - EPOCH) // _ONE_US), body))
    digest = hashlib.sha256(text.encode()).hexdigest().encode()
    n = int.from_bytes(hashlib.sha1(_NS_BYTES + digest).digest()[:16], "big")
    x = "%032x" % (n & _UUID_BITS | _UUID5)
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def reference_content_uuid(
    event: str, distinct_id: str, ts: datetime, props: dict[str, Any]
) -> str:
    """The id a row without one gets, spelled with ``content_uuid`` (used by tests)."""
    body = orjson.dumps(props, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return content_uuid(event, distinct_id, str((ts - EPOCH) // _ONE_US), body)
