"""Chunks of an import file → the store's event columns, without an ``Event`` per row.

The per-event path builds an ``Event`` for every row and the store turns them back into
columns; at a million rows that Python is most of an import. Here each rule of that path
is applied to whole Arrow columns: missing fields (rejects keep their row number and
reason), timestamps, uuids (a canonical one is kept, any other id is normalised and a
row without one gets ``content_uuid`` of its content, exactly as before, so files
imported by older versions stay deduplicated) and properties (``props_json``). Python
still looks at single rows, but only the few that need it: rejects, odd ids, rows
without a uuid and rows that change persons, which the identity step needs as dicts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yunying.events.identity import MERGE_EVENTS
from yunying.events.import_sources import (
    ArrowChunk,
    Chunk,
    ColumnMapping,
    arrow_props,
    arrow_timestamps,
    extra_columns,
    text_column,
)
from yunying.events.model import YUNYING_NS, content_uuid, normalize_uuid, utcnow
from yunying.events.props_json import PROMOTED, PropsColumns, json_text_props, python_props

_TS = pa.timestamp("us")
_TS_UTC = pa.timestamp("us", tz="UTC")
_CANONICAL = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_MERGE = pa.array(sorted(MERGE_EVENTS), pa.string())

# The columns of ``Columns.table``: the store's event columns but person and project.
TABLE_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("timestamp", _TS),
        ("received_at", _TS),
        ("properties", pa.string()),
        *[(c, pa.float64() if c == "revenue" else pa.string()) for _, c in PROMOTED],
    ]
)


@dataclass
class Columns:
    """The valid rows of one or more chunks, in file order.

    ``touches`` marks rows that may change persons (merge events, ``$set``…); their
    properties are in ``touch_props``, in row order, for the identity rules.
    """

    table: pa.Table
    touches: pa.Array
    touch_props: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.table.num_rows

    def slice(self, start: int, stop: int) -> Columns:
        before = _count(self.touches.slice(0, start))
        inside = _count(self.touches.slice(start, stop - start))
        return Columns(
            self.table.slice(start, stop - start),
            self.touches.slice(start, stop - start),
            self.touch_props[before : before + inside],
        )

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        if len(parts) == 1:
            return parts[0]
        return Columns(
            pa.concat_tables([p.table for p in parts]),
            pa.concat_arrays([p.touches for p in parts]),
            [d for p in parts for d in p.touch_props],
        )


def _count(flags: pa.Array) -> int:
    return int(pc.sum(flags).as_py() or 0)


Reject = tuple[int, str, str]  # (row number, field, reason)


class ColumnBuilder:
    """Turns chunks into ``Columns`` plus rejects, for one import (owns a DuckDB)."""

    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self._con: duckdb.DuckDBPyConnection | None = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _duckdb(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect()
        return self._con

    # ---- sources ----------------------------------------------------------------------

    def arrow(self, chunk: ArrowChunk) -> tuple[Columns, list[Reject]]:
        """A Parquet/CSV record batch (columns cast and parsed by Arrow)."""
        m = self.mapping
        b = chunk.batch
        n = b.num_rows
        ts_col = b.column(m.timestamp)
        uuids = text_column(b, m.uuid)
        events = text_column(b, m.event)
        events = pa.nulls(n, pa.string()) if events is None else events
        need = _needs_dict(events, uuids)
        pcol = b.column(m.properties) if m.properties in b.schema.names else None
        if (
            pcol is not None
            and (pa.types.is_string(pcol.type) or pa.types.is_large_string(pcol.type))
            and not extra_columns(b, m)
        ):
            props = json_text_props(pcol, self._duckdb(), need)
        else:
            dicts, errors = arrow_props(b, m, infer=chunk.infer)
            props = python_props(dicts, pc.indices_nonzero(need).to_pylist())
            props.errors.update(errors)
        return self._finish(
            first_row=chunk.first_row,
            events=events,
            distinct_ids=text_column(b, m.distinct_id),
            ts=arrow_timestamps(ts_col, m.timestamp_format),
            raw_ts=lambda i: ts_col[i].as_py(),
            uuids=uuids,
            props=props,
        )

    def records(self, chunk: Chunk) -> tuple[Columns, list[Reject]]:
        """JSON lines or records (already Python values)."""
        events = pa.array([_text(v) for v in chunk.events], pa.string())
        uuids = None if chunk.uuids is None else pa.array(chunk.uuids, pa.string())
        need = pc.indices_nonzero(_needs_dict(events, uuids)).to_pylist()
        props = python_props(chunk.props, need)
        props.errors.update(chunk.prop_errors)
        return self._finish(
            first_row=chunk.first_row,
            events=events,
            distinct_ids=pa.array([_text(v) for v in chunk.distinct_ids], pa.string()),
            ts=pa.array(chunk.ts, _TS_UTC),
            raw_ts=chunk.ts_raw.__getitem__,
            uuids=uuids,
            props=props,
            rows=chunk.rows,
            row_errors=chunk.row_errors,
        )

    # ---- the shared rules -------------------------------------------------------------

    def _finish(
        self,
        *,
        first_row: int,
        events: pa.Array,
        distinct_ids: pa.Array | None,
        ts: pa.Array,
        raw_ts: Any,
        uuids: pa.Array | None,
        props: PropsColumns,
        rows: list[int] | None = None,
        row_errors: dict[int, tuple[str, str]] | None = None,
    ) -> tuple[Columns, list[Reject]]:
        n = len(ts)
        default = self.mapping.default_event
        no_event = _blank(events)
        if default is not None:
            events = pc.if_else(no_event, default, events)
            no_event = pa.repeat(False, n)
        dids = pa.nulls(n, pa.string()) if distinct_ids is None else distinct_ids
        bad = pc.or_(pc.or_(no_event, _blank(dids)), pc.is_null(ts))
        if props.errors or row_errors:
            extra = set(props.errors) | set(row_errors or ())
            bad = pc.or_(bad, _flags(extra, n))
        rejects: list[Reject] = []
        for i in pc.indices_nonzero(bad).to_pylist():
            row = rows[i] if rows is not None else first_row + i
            rejects.append((row, *_reason(i, events, dids, ts, raw_ts, props, row_errors)))
        keep = pc.invert(bad)
        uuid_col = self._uuids(uuids, events, dids, ts, props, keep)
        touch = pc.or_(props.touches, pc.is_in(events, _MERGE))
        touch_rows = pc.indices_nonzero(pc.and_(touch, keep)).to_pylist()
        cols = {
            "uuid": uuid_col,
            "event": events,
            "distinct_id": dids,
            "timestamp": ts.cast(_TS),
            "received_at": pa.repeat(pa.scalar(_naive(utcnow()), _TS), n),
            "properties": props.text,
            **props.promoted,
        }
        table = pa.table(cols, schema=TABLE_SCHEMA)
        if rejects:
            table = table.filter(keep)
            touch = touch.filter(keep)
        return Columns(table, touch, [props.parsed[i] for i in touch_rows]), rejects

    def _uuids(
        self,
        uuids: pa.Array | None,
        events: pa.Array,
        dids: pa.Array,
        ts: pa.Array,
        props: PropsColumns,
        keep: pa.Array,
    ) -> pa.Array:
        """Canonical ids as they are; other ids normalised; none: the content's id."""
        n = len(events)
        if uuids is None:
            missing, odd = pa.repeat(True, n), pa.repeat(False, n)
            out = pa.nulls(n, pa.string())
        else:
            missing = _blank(uuids)
            canonical = pc.fill_null(pc.match_substring_regex(uuids, _CANONICAL), False)
            odd = pc.and_(pc.invert(missing), pc.invert(canonical))
            out = uuids
        todo = pc.and_(pc.or_(missing, odd), keep)
        rows = pc.indices_nonzero(todo).to_pylist()
        if not rows:
            return out
        micros = ts.cast(pa.int64())
        fixed = []
        for i in rows:
            if odd[i].as_py():
                fixed.append(normalize_uuid(uuids[i].as_py()))  # type: ignore[index]
            else:
                fixed.append(
                    content_id(
                        events[i].as_py(), dids[i].as_py(), micros[i].as_py(), props.parsed[i]
                    )
                )
        return pc.replace_with_mask(out, _flags(rows, n), pa.array(fixed, pa.string()))


def _needs_dict(events: pa.Array, uuids: pa.Array | None) -> pa.Array:
    """Rows whose properties are needed as a dict: merge events, rows without an id."""
    merge = pc.fill_null(pc.is_in(events, _MERGE), False)
    if uuids is None:
        return pa.repeat(True, len(events))
    return pc.or_(merge, _blank(uuids))


def _reason(
    i: int,
    events: pa.Array,
    dids: pa.Array,
    ts: pa.Array,
    raw_ts: Any,
    props: PropsColumns,
    row_errors: dict[int, tuple[str, str]] | None,
) -> tuple[str, str]:
    """Why row ``i`` is no event: the first failing check, in the per-event path's order."""
    if row_errors and i in row_errors:
        return row_errors[i]
    if not events[i].as_py():
        return "event", "missing event name"
    if not dids[i].as_py():
        return "distinct_id", "missing distinct_id"
    if not ts[i].is_valid:
        raw = raw_ts(i)
        why = "missing timestamp" if raw is None else f"unparseable timestamp {raw!r}"
        return "timestamp", why[:200]
    return "properties", props.errors[i]


def _blank(col: pa.Array) -> pa.Array:
    """Null or empty text."""
    return pc.fill_null(pc.equal(col, ""), True)


def _flags(rows: Any, n: int) -> pa.Array:
    import numpy as np

    out = np.zeros(n, dtype=bool)
    out[list(rows)] = True
    return pa.array(out)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _naive(dt: datetime) -> datetime:
    return dt.replace(tzinfo=None)


_NS_BYTES = YUNYING_NS.bytes
_UUID_BITS = (1 << 128) - 1 & ~((0xF << 76) | (0x3 << 62))  # clear version and variant
_UUID5 = (0x5 << 76) | (0x2 << 62)  # version 5, RFC 4122 variant


def content_id(event: str, distinct_id: str, micros: int, props: dict[str, Any]) -> str:
    """``content_uuid(event, distinct_id, epoch micros, props_json)`` computed inline.

    The id of a row imported without one, so re-importing the file adds nothing. The
    same value as ``events.model.content_uuid`` (a test checks), without building
    ``uuid.UUID`` objects.
    """
    body = orjson.dumps(props, option=orjson.OPT_SORT_KEYS, default=str).decode()
    text = "\x1f".join((event, distinct_id, str(micros), body))
    digest = hashlib.sha256(text.encode()).hexdigest().encode()
    n = int.from_bytes(hashlib.sha1(_NS_BYTES + digest).digest()[:16], "big")
    x = "%032x" % (n & _UUID_BITS | _UUID5)
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def reference_content_id(event: str, distinct_id: str, micros: int, props: dict[str, Any]) -> str:
    """``content_id`` spelled with ``content_uuid`` (what the tests compare against)."""
    body = orjson.dumps(props, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return content_uuid(event, distinct_id, str(micros), body)
