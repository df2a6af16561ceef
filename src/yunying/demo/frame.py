"""Columnar event collection and the Parquet file it becomes.

The simulation adds events in blocks (one event name, arrays of actors, times and
properties). At the end the blocks are put in time order, given deterministic UUIDs and
written as the canonical import file ``uuid, event, distinct_id, timestamp, properties``
(properties as JSON text, built by DuckDB so millions of rows are serialised in C++).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from yunying.demo.calendar import Calendar
from yunying.demo.ids import to_arrow, uuid4s

PropValue = np.ndarray | pa.Array | str | float | int | dict[str, Any]


@dataclass
class _Block:
    event: str
    distinct_id: np.ndarray
    t: np.ndarray
    props: dict[str, PropValue]


def categorical(codes: np.ndarray, values: tuple[str, ...] | list[str]) -> pa.Array:
    """Low-cardinality text property from integer codes (stored as a dictionary array)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(values), pa.string())
    )


def take(value: PropValue, mask: np.ndarray) -> PropValue:
    """The rows of a property array selected by boolean ``mask`` (constants pass through)."""
    if isinstance(value, pa.Array):
        return value.filter(pa.array(mask))
    if isinstance(value, np.ndarray):
        return value[mask]
    return value


def _arrow(value: PropValue, mask: np.ndarray, n: int) -> pa.Array:
    if isinstance(value, dict):
        children = [_arrow(v, mask, n) for v in value.values()]
        return pa.StructArray.from_arrays(children, names=list(value))
    if isinstance(value, str | float | int):
        return pa.repeat(value, n)
    if isinstance(value, pa.Array):
        return value.filter(pa.array(mask))
    arr = np.asarray(value)[mask]
    if arr.dtype.kind == "S":
        return to_arrow(arr)
    if arr.dtype.kind == "f":
        return pa.array(arr, pa.float64())
    if arr.dtype.kind in "iu":
        return pa.array(arr.astype(np.int64), pa.int64())
    if arr.dtype.kind == "b":
        return pa.array(arr, pa.bool_())
    raise TypeError(f"unsupported property array of dtype {arr.dtype}")


@dataclass
class EventLog:
    calendar: Calendar
    blocks: list[_Block] = field(default_factory=list)

    def add(self, event: str, distinct_id: np.ndarray, t: np.ndarray, **props: PropValue) -> None:
        """Queue events; properties are arrays aligned with ``t`` or constants.

        A property name that is not a Python identifier (``$content_id``) is passed with
        ``**{"$content_id": ...}``.
        """
        if len(t) == 0:
            return
        if len(distinct_id) != len(t):
            raise ValueError(f"{event}: distinct_id and t differ in length")
        self.blocks.append(_Block(event, distinct_id, np.asarray(t, dtype=np.int64), props))

    def _masks(self, until: int | None = None) -> list[np.ndarray]:
        """Per block, the events inside the window (and before ``until``, default cutoff)."""
        limit = self.calendar.cutoff if until is None else until
        return [(b.t >= 0) & (b.t < limit) for b in self.blocks]

    def counts(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for b, m in zip(self.blocks, self._masks(), strict=True):
            out[b.event] += int(m.sum())
        return out

    def write_parquet(self, path: Path, rng: np.random.Generator) -> int:
        """Write every event inside the window to ``path``; returns the number of rows.

        Ids are assigned over the whole simulated window (to the end of the last day) and
        only then are events after the cutoff dropped, so an event's id does not depend on
        the time of day the demo ran.
        """
        whole = self._masks(self.calendar.end)
        times = np.concatenate([b.t[m] for b, m in zip(self.blocks, whole, strict=True)])
        total = len(times)
        order = np.argsort(times, kind="stable")
        rank = np.empty(total, dtype=np.int64)
        rank[order] = np.arange(total)
        ids = uuid4s(rng, total)  # one UUID per position in time order: deterministic
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        # A global option: refused while another DuckDB is open in this process.
        with contextlib.suppress(duckdb.Error):
            con.execute("SET enable_progress_bar = false")
        selects = []
        at = 0
        written = 0
        for i, (b, w) in enumerate(zip(self.blocks, whole, strict=True)):
            seq_all = rank[at : at + int(w.sum())]
            at += int(w.sum())
            keep = b.t[w] < self.calendar.cutoff
            m = w.copy()
            m[w] = keep
            n = int(m.sum())
            if n == 0:
                continue
            written += n
            seq = seq_all[keep]
            micros = self.calendar.utc_micros(b.t[m])
            props = {k: _arrow(v, m, n) for k, v in b.props.items()}
            table = pa.table(
                {
                    "seq": pa.array(seq),
                    "uuid": to_arrow(ids[seq]),
                    "distinct_id": to_arrow(np.asarray(b.distinct_id)[m]),
                    "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
                    "p": pa.StructArray.from_arrays(list(props.values()), names=list(props))
                    if props
                    else pa.repeat(None, n),
                }
            )
            con.register(f"b{i}", table)
            json = "to_json(p)::VARCHAR" if props else "'{}'"
            event = b.event.replace("'", "''")
            selects.append(
                f"SELECT seq, uuid, '{event}' AS event, distinct_id, timestamp, "
                f"{json} AS properties FROM b{i}"
            )
        if not selects:  # nothing has happened yet (a window that starts now)
            selects.append(
                "SELECT 0 AS seq, NULL::VARCHAR AS uuid, NULL::VARCHAR AS event, "
                "NULL::VARCHAR AS distinct_id, NULL::TIMESTAMPTZ AS timestamp, "
                "NULL::VARCHAR AS properties WHERE false"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT uuid, event, distinct_id, timestamp, properties FROM "
            f"({' UNION ALL '.join(selects)}) ORDER BY seq) "
            f"TO '{target}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"
        )
        con.close()
        return written
