"""Event occurrences for the funnel's fast path, read from ``event_timelines`` as keys.

The table (``store/event_timelines.py``) holds clean days in (event, person, time) order;
days written since its last refresh are read from the events, and merges are applied here
the way ``source.events_sql`` applies them, so the occurrences equal what ``events_sql``
would give for the same names and times.

The table is read a whole (event, month) at a time, as stored, and those decoded rows
are kept in the store's cache (``store/timeline_cache.py``) for the next funnel; the
rows a query wants become keys ``((pk - base) << bits) | (ts - start)`` in one compiled
pass (``analytics/timeline_keys.py``, the walk's input, see ``analytics/funnel_arrays.py``).
Persons go in blocks of numbers ``[base, base + 2**(63 - bits))`` so every key fits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yunying.analytics.context import ProjectContext
from yunying.analytics.source import events_sql
from yunying.analytics.timeline_keys import month_keys
from yunying.store.day_ranges import ranges_sql
from yunying.store.event_timelines import (
    TimelinesStore,
    TimelinesView,
    instant,
    month_bounds,
    month_of,
    ts_ranges_sql,
    utc_day_ranges,
)
from yunying.store.person_overrides import overrides_map_sql
from yunying.store.timeline_cache import MonthRows, TimelineCache


@dataclass(frozen=True, slots=True)
class KeyBlock:
    """One block of persons: each event name's keys, as a few sorted runs (one per month
    and refresh, and one of the rows the table could not give)."""

    base: int
    keys: dict[str, np.ndarray]


def _int64(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _clip(ranges: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    return [(max(a, lo), min(b, hi)) for a, b in ranges if a < hi and b > lo]


def _side_sql(
    store: TimelinesStore,
    ctx: ProjectContext,
    names: Sequence[str],
    start: int,
    end: int,
    dirty: list[tuple[int, int]],
    top: int,
) -> str:
    """The occurrences the table cannot give as they are, in one statement (so the numbers
    it gives persons without one agree between its parts; they start past ``top``, the
    largest number the table has given):

    - kind 0: events of marked days (read from ``events``, merges applied there);
    - kind 1: the table's rows of persons merged into another, renumbered;
    - kind 2: the merged persons' own numbers (``pk``), whose table rows kind 1 replaces.
    """
    d, p = store.dialect, int(ctx.project_id)
    fresh = _clip(dirty, start, end)
    if fresh:
        rows = events_sql(
            d, ctx, start=instant(fresh[0][0]), end=instant(fresh[-1][1]), event_names=names
        )
        marked = ranges_sql(d, "e.ts", [(instant(a), instant(b)) for a, b in fresh])
        x = (
            f"SELECT e.event AS event, CAST(e.pid AS UUID) AS pid, {d.epoch_micros('e.ts')} "
            f"AS ts FROM ({rows}) e WHERE {marked}"
        )
    else:
        x = "SELECT NULL::VARCHAR AS event, NULL::UUID AS pid, NULL::BIGINT AS ts WHERE FALSE"
    listed = ", ".join(d.str_lit(n) for n in names)
    clean = f"NOT {ts_ranges_sql('t.ts', dirty)}" if dirty else "TRUE"
    return (
        f"WITH x AS ({x}), "
        f"ov AS (SELECT n.pk AS old_pk, CAST(o.person_id AS UUID) AS pid FROM ("
        f"{overrides_map_sql(d, p)}) o INNER JOIN timeline_persons n ON n.project_id = {p} "
        "AND n.person_id = CAST(o.old_person_id AS UUID)), "
        "ids AS (SELECT pid FROM x UNION SELECT pid FROM ov), "
        f"num AS (SELECT i.pid AS pid, coalesce(n.pk, {int(top)} + row_number() OVER ("
        "PARTITION BY n.pk IS NULL ORDER BY i.pid)) AS pk FROM ids i LEFT JOIN "
        f"timeline_persons n ON n.project_id = {p} AND n.person_id = i.pid), "
        "moved AS (SELECT ov.old_pk AS old_pk, num.pk AS pk FROM ov INNER JOIN num "
        "ON num.pid = ov.pid) "
        "SELECT 0 AS kind, x.event AS event, num.pk AS pk, x.ts AS ts FROM x "
        "INNER JOIN num ON num.pid = x.pid "
        "UNION ALL SELECT 1, t.event, m.pk, t.ts FROM event_timelines t INNER JOIN moved m "
        f"ON m.old_pk = t.pk WHERE t.project_id = {p} AND t.event IN ({listed}) "
        f"AND t.ts >= {int(start)} AND t.ts < {int(end)} AND {clean} "
        "UNION ALL SELECT 2, NULL, old_pk, NULL FROM moved"
    )


def _months(a: int, b: int) -> range:
    """The table's months holding [a, b) µs."""
    return range(month_of(a), month_of(b - 1) + 1)


def _month(
    store: TimelinesStore, p: int, name: str, month: int, a: int, b: int, generation: int
) -> tuple[MonthRows, int, int]:
    """The table's rows of one (event, month) that [a, b) µs needs, as stored, with the
    [start, end) µs they cover: the whole month when the query needs at least half of
    it (and the store keeps a cache, where later queries will want the rest), else just
    the part it needs (the hours of a month before a range that begins at a local
    midnight, the tail a window reaches into: reading the whole month for those cost a
    cold funnel ~15 ms). Taken from the store's cache of decoded months when it holds this
    generation's (``store/timeline_cache.py``), else read and offered to it."""
    cache: TimelineCache | None = getattr(store, "cache", None)
    if cache is not None and not cache.max_bytes:
        cache = None
    lo, hi = month_bounds(month)
    if cache is None or 2 * (min(b, hi) - max(a, lo)) < hi - lo:
        if cache is not None and (rows := cache.get((p, name, month, lo, hi), generation)):
            return rows, lo, hi  # the whole month is there already
        lo, hi = max(a, lo), min(b, hi)
    key = (p, name, month, lo, hi)
    rows = cache.get(key, generation) if cache is not None else None
    if rows is None:
        rows = _read_rows(store, p, name, month, lo, hi)
        if cache is not None:
            cache.put(key, generation, rows)
    return rows, lo, hi


def _read_rows(store: TimelinesStore, p: int, name: str, month: int, lo: int, hi: int) -> MonthRows:
    """The table's rows of (``name``, ``month``) with ``lo <= ts < hi``, in its order."""
    m_lo, m_hi = month_bounds(month)
    part = "" if (lo, hi) == (m_lo, m_hi) else f" AND ts >= {lo} AND ts < {hi}"
    sql = (
        f"SELECT pk, ts FROM event_timelines WHERE project_id = {p} "
        f"AND event = {store.dialect.str_lit(name)} AND month = {month}{part}"
    )
    fetch_numpy = getattr(store, "fetch_numpy", None)
    if fetch_numpy is not None:
        got = fetch_numpy(sql)
        pk, ts = got["pk"], got["ts"]
    else:
        table = store.query(sql)
        pk, ts = table.column("pk").to_numpy(), table.column("ts").to_numpy()
    return MonthRows(
        np.ascontiguousarray(pk, dtype=np.int32), np.ascontiguousarray(ts, dtype=np.int64)
    )


def read_blocks(
    store: TimelinesStore,
    ctx: ProjectContext,
    view: TimelinesView,
    ranges: dict[str, tuple[int, int]],
    bits: int,
) -> Iterator[KeyBlock]:
    """Each event name's occurrences in its [start, end) µs, persons resolved through
    merges, as keys relative to the earliest start, one block of persons at a time: the
    table for clean days, the events for marked days. A person the table has not numbered
    yet (first seen on a marked day) gets a number past the largest.

    ``store`` should read one snapshot (``DuckDBStore.read_timelines``) and ``view`` come
    from it: otherwise a refresh in between could number a person with a number given
    here to another."""
    p = int(ctx.project_id)
    names = sorted(ranges)
    start = min(a for a, _ in ranges.values())
    end = max(b for _, b in ranges.values())
    dirty = utc_day_ranges(view.dirty)
    extra_pk = extra_ts = gone = np.zeros(0, dtype=np.int64)
    extra_event: pa.Array | pa.ChunkedArray = pa.array([], pa.string())
    if _clip(dirty, start, end) or view.merged:  # else (usual once refreshed): ~10 ms less
        side = store.query(_side_sql(store, ctx, names, start, end, dirty, view.top))
        kind = side.column("kind")
        extra = side.filter(pc.less_equal(kind, 1))
        extra_pk, extra_ts = _int64(extra.column("pk")), _int64(extra.column("ts"))
        extra_event = extra.column("event")
        gone = np.sort(_int64(side.filter(pc.equal(kind, 2)).column("pk")))
    extra_of = {
        n: pc.equal(extra_event, n).to_numpy(zero_copy_only=False)
        & (extra_ts >= ranges[n][0])
        & (extra_ts < ranges[n][1])
        for n in names
    }
    # Numbers given here to persons without one appear on their extra rows.
    top = max(view.top, int(extra_pk.max(initial=0)))
    size = 1 << (63 - bits)
    months = {
        n: [_month(store, p, n, m, *ranges[n], view.generation) for m in _months(*ranges[n])]
        for n in names
    }
    for base in range(0, top + 1, size):
        persons = (base, base + size) if top >= size else None
        keys: dict[str, np.ndarray] = {}
        for name in names:
            a, b = ranges[name]
            k = month_keys(months[name], a, b, persons, start, bits, dirty)
            if len(gone):
                k = k[~np.isin((k >> bits) + base, gone)]
            mine = extra_of[name] & (extra_pk >= base) & (extra_pk < base + size)
            if mine.any():
                more = np.sort(((extra_pk[mine] - base) << bits) | (extra_ts[mine] - start))
                k = np.concatenate([k, more])
            keys[name] = k  # sorted runs: the table's, then the extra rows'
        yield KeyBlock(base, keys)
