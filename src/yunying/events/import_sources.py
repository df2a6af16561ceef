"""Reading import files into columns: JSONL, CSV and Parquet, and the column mapping.

Why columnar: a Parquet export of millions of events must go in at hundreds of thousands
of rows a second, so Parquet and CSV readers hand over Arrow record batches untouched
(``ArrowChunk``) and ``events.columnar`` works on whole columns. JSON lines are parsed
row by row anyway, so their reader builds Python lists (``Chunk``). Every reader is a
generator of chunks, so a file of any size needs the memory of one batch.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator

TIMESTAMP_FORMATS = ("auto", "iso", "epoch_s", "epoch_ms")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TS_UTC = pa.timestamp("us", tz="UTC")
_MS_THRESHOLD = 100_000_000_000  # epoch numbers at or above this are milliseconds


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (format, missing column, unreadable)."""


class ColumnMapping(BaseModel):
    """Which source column holds each part of an event.

    Columns not named here become event properties under their own name (or the name in
    ``rename``); ``properties`` is a JSON object (string) or a struct/map column.
    """

    model_config = ConfigDict(extra="forbid")

    uuid: str | None = Field(default="uuid", description="Event id column (optional).")
    event: str = Field(default="event", min_length=1)
    distinct_id: str = Field(default="distinct_id", min_length=1)
    timestamp: str = Field(default="timestamp", min_length=1)
    properties: str | None = Field(default="properties", description="JSON properties column.")
    rename: dict[str, str] = Field(default_factory=dict, description="column → property name")
    timestamp_format: str = Field(
        default="auto",
        description="auto (ISO text or epoch seconds/millis), iso, epoch_s, epoch_ms, or a "
        "strptime pattern such as '%d/%m/%Y %H:%M'. Times without a zone are UTC.",
    )
    default_event: str | None = Field(
        default=None, min_length=1, description="Event name for rows without one."
    )

    @field_validator("timestamp_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in TIMESTAMP_FORMATS and "%" not in v:
            raise ValueError(f"must be one of {', '.join(TIMESTAMP_FORMATS)} or a strptime pattern")
        return v

    def explicit(self, name: str) -> bool:
        return name in self.model_fields_set


@dataclass
class Chunk:
    """JSON lines or records as parallel lists; ``ts`` is None where unparseable."""

    first_row: int
    events: list[Any]
    distinct_ids: list[Any]
    ts: list[datetime | None]
    ts_raw: list[Any]
    uuids: list[Any] | None
    props: list[dict[str, Any]]
    prop_errors: dict[int, str] = field(default_factory=dict)  # index → reason
    row_errors: dict[int, tuple[str, str]] = field(default_factory=dict)  # index → (field, why)
    rows: list[int] | None = None  # row numbers when not consecutive (blank JSONL lines)

    def __len__(self) -> int:
        return len(self.ts)


# ---- timestamps -------------------------------------------------------------------------


def parse_timestamp(value: Any, fmt: str = "auto") -> datetime | None:
    """One value as an aware UTC datetime, or None. Naive times are UTC."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, int | float):
            return _from_epoch(float(value), fmt)
        elif isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if "%" in fmt:
                dt = datetime.strptime(text, fmt)
            elif fmt in ("epoch_s", "epoch_ms") or (fmt == "auto" and _is_number(text)):
                return _from_epoch(float(text), fmt)
            else:
                dt = datetime.fromisoformat(text)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_epoch(value: float, fmt: str) -> datetime | None:
    if value != value or fmt == "iso" or "%" in fmt:  # NaN, or numbers not allowed
        return None
    if fmt == "epoch_ms" or (fmt != "epoch_s" and abs(value) >= _MS_THRESHOLD):
        value /= 1000
    return EPOCH + timedelta(microseconds=round(value * 1_000_000))


def arrow_timestamps(col: pa.Array, fmt: str) -> pa.Array:
    """A column as ``timestamp[us, UTC]``, null where missing or unparseable, vectorised.

    Values Arrow cannot parse as one column (mixed shapes) are parsed one by one.
    """
    t = col.type
    micros: pa.Array | None = None
    try:
        if pa.types.is_timestamp(t):
            micros = pc.cast(col, pa.timestamp("us", tz=t.tz or "UTC"), safe=False)
            micros = micros.cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_date(t):
            micros = col.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            if fmt in ("auto", "epoch_s", "epoch_ms"):
                micros = _epoch_micros(col.cast(pa.float64()), fmt)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            micros = _string_micros(col, fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        micros = None
    if micros is None:
        return pa.array([parse_timestamp(v, fmt) for v in col.to_pylist()], _TS_UTC)
    return micros


def _epoch_micros(values: pa.Array, fmt: str) -> pa.Array:
    if fmt == "epoch_ms":
        scale = pa.scalar(1000.0)
    elif fmt == "epoch_s":
        scale = pa.scalar(1_000_000.0)
    else:
        big = pc.greater_equal(pc.abs(values), _MS_THRESHOLD)
        scale = pc.if_else(big, 1000.0, 1_000_000.0)
    us = pc.round(pc.multiply(values, scale))
    return us.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _string_micros(col: pa.Array, fmt: str) -> pa.Array | None:
    """Strings parsed by Arrow when the whole column has one shape; else None (row path)."""
    if "%" in fmt:
        parsed = pc.strptime(col, format=fmt, unit="us", error_is_null=True)
        bad = pc.and_(pc.is_null(parsed), pc.is_valid(col))
        if pc.any(bad).as_py():
            return None  # let the row path name the bad values
        return parsed.cast(pa.timestamp("us", tz="UTC"))
    if fmt in ("epoch_s", "epoch_ms"):
        return _epoch_micros(col.cast(pa.float64()), fmt)
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            return col.cast(target).cast(pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    if fmt == "auto":  # epoch numbers written as text (CSV)
        try:
            return _epoch_micros(col.cast(pa.float64()), fmt)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return None


# ---- properties -------------------------------------------------------------------------


def props_from_value(value: Any) -> dict[str, Any] | str:
    """A properties cell as a dict, or the reason it is not one."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):  # an Arrow map column arrives as key/value pairs
        try:
            return {str(k): v for k, v in value}
        except (TypeError, ValueError):
            return "not a JSON object"
    if isinstance(value, str | bytes):
        if not value:
            return {}
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return "not valid JSON"
        return parsed if isinstance(parsed, dict) else "not a JSON object"
    return "not a JSON object"


def _struct_props(values: list[Any]) -> list[Any]:
    """Struct rows list every field; a field that is null in a row was not set there."""
    return [
        {k: v for k, v in row.items() if v is not None} if isinstance(row, dict) else row
        for row in values
    ]


# ---- Arrow sources (Parquet, CSV) ----------------------------------------------------------


def _check_columns(names: list[str], mapping: ColumnMapping) -> None:
    needed = [("event", mapping.event), ("distinct_id", mapping.distinct_id)]
    needed.append(("timestamp", mapping.timestamp))
    for part, col in needed:
        if col in names:
            continue
        if part == "event" and mapping.default_event:
            continue
        hint = {"event": "--event-col or --default-event"}.get(
            part, f"--{part.replace('_', '-')}-col"
        )
        raise ImportFileError(
            f"{part}: column {col!r} not found (columns: {', '.join(names)}); use {hint}"
        )
    for part in ("uuid", "properties"):
        col = getattr(mapping, part)
        if mapping.explicit(part) and col is not None and col not in names:
            raise ImportFileError(f"{part}: column {col!r} not found (columns: {', '.join(names)})")


@dataclass
class ArrowChunk:
    """One record batch of a Parquet or CSV file, columns untouched (see ``events.columnar``).

    ``infer``: text columns that become properties are typed first (CSV).
    """

    first_row: int
    batch: pa.RecordBatch
    infer: bool = False
    malformed: list[str] = field(default_factory=list)  # CSV lines skipped by the parser

    def __len__(self) -> int:
        return self.batch.num_rows


def text_column(batch: pa.RecordBatch, name: str | None) -> pa.Array | None:
    """A column as Arrow strings (numbers cast by Arrow), or None if it is not there."""
    if name is None or name not in batch.schema.names:
        return None
    col = batch.column(name)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string())
    return col


def extra_columns(batch: pa.RecordBatch, mapping: ColumnMapping) -> list[str]:
    """Source columns that become properties under their own (or their renamed) name."""
    skip = {mapping.event, mapping.distinct_id, mapping.timestamp, mapping.uuid, mapping.properties}
    return [name for name in batch.schema.names if name not in skip]


def arrow_props(
    batch: pa.RecordBatch, mapping: ColumnMapping, *, infer: bool
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Each row's properties as a dict, and the rows whose properties cell is not an object.

    The general case: a JSON, struct or map properties column, plus the extra columns.
    """
    names = batch.schema.names
    n = batch.num_rows
    errors: dict[int, str] = {}
    if mapping.properties and mapping.properties in names:
        pcol = batch.column(mapping.properties)
        raw = pcol.to_pylist()
        if pa.types.is_struct(pcol.type):
            raw = _struct_props(raw)
        props: list[dict[str, Any]] = []
        for i, v in enumerate(raw):
            p = props_from_value(v)
            if isinstance(p, str):
                errors[i] = f"properties: {p}"
                p = {}
            props.append(p)
    else:
        props = [{} for _ in range(n)]
    for name in extra_columns(batch, mapping):
        col = batch.column(name)
        if infer:
            col = _infer_type(col)
        key = mapping.rename.get(name, name)
        for p, v in zip(props, col.to_pylist(), strict=True):
            if v is not None:
                p[key] = v
    return props, errors


def _infer_type(col: pa.Array) -> pa.Array:
    """CSV text → int or float when every value in the batch is one (ids keep zeros)."""
    if col.null_count == len(col):
        return col
    try:
        as_int = col.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        as_int = None
    if as_int is not None:
        same = pc.all(pc.equal(as_int.cast(pa.string()), col)).as_py()
        return as_int if same else col  # "007" stays text
    try:
        return col.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return col


ChunkIter = Iterator[tuple[Chunk, int, int | None]]
ArrowChunkIter = Iterator[tuple[ArrowChunk, int, int | None]]


def parquet_chunks(path: Path, mapping: ColumnMapping, batch_size: int) -> ArrowChunkIter:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFileError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    _check_columns(pf.schema_arrow.names, mapping)
    total = pf.metadata.num_rows
    row = 1
    for batch in pf.iter_batches(batch_size=batch_size):
        yield ArrowChunk(row, batch), row - 1 + batch.num_rows, total
        row += batch.num_rows


class _CountingReader(io.RawIOBase):
    """A file wrapper that counts compressed bytes read, for the progress bar."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n


@contextmanager
def _open_text_source(path: Path) -> Iterator[tuple[IO[bytes], _CountingReader]]:
    """The file's bytes (gunzipped for ``.gz``) and a counter of the bytes read from disk."""
    with path.open("rb") as raw:
        counter = _CountingReader(raw)
        buffered = io.BufferedReader(counter, buffer_size=1 << 20)
        if path.suffix.lower() == ".gz":
            with gzip.GzipFile(fileobj=buffered) as unzipped:
                yield unzipped, counter  # type: ignore[misc]
        else:
            yield buffered, counter


def csv_chunks(path: Path, mapping: ColumnMapping) -> ArrowChunkIter:
    import pyarrow.csv as pacsv

    total = path.stat().st_size
    with _open_text_source(path) as (head, _):
        first = head.readline().decode("utf-8-sig")
    header = next(csv.reader([first]), [])
    if not header:
        raise ImportFileError(f"{path.name}: empty CSV file (a header row is needed)")
    _check_columns(header, mapping)
    malformed: list[str] = []

    def skip(bad: pacsv.InvalidRow) -> str:
        # The streaming reader does not know the line number; the text identifies it.
        text = bad.text if len(bad.text) <= 80 else bad.text[:77] + "..."
        malformed.append(
            f"malformed line {text!r}: expected {bad.expected_columns} columns, "
            f"got {bad.actual_columns}"
        )
        return "skip"

    with _open_text_source(path) as (stream, counter):
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=8 << 20),
                parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=True,
                ),
            )
            row = 1
            for batch in reader:
                chunk = ArrowChunk(row, batch, infer=True, malformed=list(malformed))
                malformed[:] = []
                yield chunk, counter.count, total
                row += batch.num_rows
        except pa.ArrowInvalid as exc:
            raise ImportFileError(f"{path.name}: malformed CSV ({exc})") from exc


# ---- JSON lines and records ----------------------------------------------------------------


def jsonl_chunks(path: Path, mapping: ColumnMapping, batch_size: int) -> ChunkIter:
    total = path.stat().st_size
    line_no = 0
    with _open_text_source(path) as (stream, counter):
        try:
            while True:
                lines = [stream.readline() for _ in range(min(batch_size, 50_000))]
                lines = [ln for ln in lines if ln]
                if not lines:
                    break
                records: list[Any] = []
                for ln in lines:
                    stripped = ln.strip()
                    if not stripped:
                        records.append(_BLANK)
                        continue
                    try:
                        records.append(orjson.loads(stripped))
                    except orjson.JSONDecodeError as exc:
                        records.append(_Bad(f"invalid JSON ({exc.msg})"))
                yield records_chunk(records, mapping, line_no + 1), counter.count, total
                line_no += len(lines)
        except (OSError, EOFError) as exc:
            raise ImportFileError(f"{path.name}: cannot read ({exc})") from exc


@dataclass(frozen=True)
class _Bad:
    reason: str


_BLANK = _Bad("")


def records_chunk(records: list[Any], mapping: ColumnMapping, first_row: int) -> Chunk:
    m = mapping
    fmt = m.timestamp_format
    canonical = {m.event, m.distinct_id, m.timestamp, m.uuid, m.properties}
    rename = m.rename
    chunk = Chunk(first_row, [], [], [], [], [] if m.uuid else None, [], rows=[])
    for src, rec in enumerate(records):
        if rec is _BLANK:  # a blank line is not a row
            continue
        i = len(chunk.rows)  # type: ignore[arg-type]
        chunk.rows.append(first_row + src)  # type: ignore[union-attr]
        if not isinstance(rec, Mapping):
            reason = rec.reason if isinstance(rec, _Bad) else "not a JSON object"
            chunk.row_errors[i] = ("json", reason)
            rec = {}
        raw_ts = rec.get(m.timestamp)
        chunk.events.append(rec.get(m.event))
        chunk.distinct_ids.append(rec.get(m.distinct_id))
        chunk.ts_raw.append(raw_ts)
        chunk.ts.append(parse_timestamp(raw_ts, fmt))
        if chunk.uuids is not None:
            u = rec.get(m.uuid)  # type: ignore[arg-type]
            chunk.uuids.append(None if u is None else str(u))
        props = props_from_value(rec.get(m.properties)) if m.properties else {}
        if isinstance(props, str):
            chunk.prop_errors[i] = f"properties: {props}"
            props = {}
        else:
            props = dict(props)
        for k, v in rec.items():
            if k not in canonical and v is not None:
                props[rename.get(k, k)] = v
        chunk.props.append(props)
    return chunk
