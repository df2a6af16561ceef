"""``event_timelines``: every event as (project, event name, UTC month, person number,
time), kept sorted in that order next to ``events`` on the DuckDB store.

Why: an ordered funnel asks, for each entry, "the person's first step-k event after this
moment". Answered from ``events`` that is a join that sorts millions of rows by person
and time on every query (ASOF joins; pandas' ``merge_asof`` sorts the same way): ~0.8 s
on the demo's 10M events. Kept sorted, one event name's rows of one month are one
contiguous stretch already in (person, time) order, so a funnel reads each step's
stretches and walks them with one cursor each (``analytics/funnel_arrays.py``): ~0.05 s
(``bench/bench_queries.py``, docs/benchmarks.md). The month keeps a query's reading to
the months its range touches however long the history grows, and is the unit the store
keeps decoded in memory between funnels (``store/timeline_cache.py``; ``refreshed_at``
below is that cache's generation).

Persons are numbered (``timeline_persons``: person UUID → ``pk``, stable once given) so a
(person, time) pair packs into one sortable 64-bit key.

Exact, like ``person_days``, and kept by the same marks and the same refresh: a write
marks its UTC days in ``person_days_dirty``; ``refresh_person_days`` rebuilds the marked
days of both tables in one transaction (``refresh_timelines``) before it deletes the
marks. A query reads this table for unmarked days and the events for marked ones
(``analytics/timeline_source.py``) and applies merges through ``person_overrides`` the
way ``events_sql`` does: rows keep the person stamped when the event was written, and a
merged person's rows are moved to the person it went to at query time. A refresh appends
the rebuilt days as new sorted runs, which the walk reads side by side; after
``MAX_RUNS`` refreshes the project is rewritten in one order.

ClickHouse keeps no such table (its funnels run the SQL in ``analytics/funnel_sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
import pyarrow as pa

from yunying.store.day_ranges import day_ranges_utc, ranges_sql
from yunying.store.dialect import Dialect
from yunying.store.timeline_cache import TimelineCache

DDL = """
CREATE TABLE IF NOT EXISTS event_timelines (
    project_id INTEGER NOT NULL,
    event VARCHAR NOT NULL,
    month INTEGER NOT NULL,
    pk INTEGER NOT NULL,
    ts BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline_persons (
    project_id INTEGER NOT NULL,
    person_id UUID NOT NULL,
    pk INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event_timelines_state (
    project_id INTEGER PRIMARY KEY,
    runs INTEGER NOT NULL,
    refreshed_at TIMESTAMP NOT NULL
);
"""

# A refresh adds one sorted run; past this many the project is rewritten as one run.
MAX_RUNS = 8

Execute = Callable[[str], pa.Table]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(dt: datetime) -> int:
    """Microseconds since the epoch, exactly (``ts`` of the table)."""
    return (dt - _EPOCH) // timedelta(microseconds=1)


def instant(us: int) -> datetime:
    """The UTC instant of ``micros``."""
    return _EPOCH + timedelta(microseconds=us)


def month_of(us: int) -> int:
    """The table's ``month`` of an instant: UTC year * 12 + month - 1."""
    t = instant(us)
    return t.year * 12 + t.month - 1


def month_bounds(month: int) -> tuple[int, int]:
    """[start, end) µs of a ``month``."""
    year, m = divmod(month, 12)
    nxt_year, nxt = divmod(month + 1, 12)
    return (
        micros(datetime(year, m + 1, 1, tzinfo=UTC)),
        micros(datetime(nxt_year, nxt + 1, 1, tzinfo=UTC)),
    )


# ---- refreshing (inside refresh_person_days' transaction) ---------------------------------


def _number_persons_sql(p: int, where: str) -> str:
    """Give every stamped person of the matching events that has no number one."""
    return (
        "INSERT INTO timeline_persons SELECT "
        f"{p}, n.person_id, (SELECT coalesce(max(pk), 0) FROM timeline_persons WHERE "
        f"project_id = {p}) + row_number() OVER (ORDER BY n.person_id) FROM (SELECT DISTINCT "
        f"CAST(person_id AS UUID) AS person_id FROM events WHERE project_id = {p} AND {where}"
        f") n WHERE n.person_id NOT IN (SELECT person_id FROM timeline_persons WHERE "
        f"project_id = {p})"
    )


def _rows_sql(dialect: Dialect, p: int, where: str) -> str:
    """The matching events as rows of the table, in its order."""
    return (
        f"INSERT INTO event_timelines SELECT {p}, e.event, CAST(year(e.timestamp) * 12 + "
        "month(e.timestamp) - 1 AS INTEGER) AS month, n.pk, "
        f"{dialect.epoch_micros('e.timestamp')} AS ts FROM events e INNER JOIN timeline_persons "
        f"n ON n.project_id = {p} AND n.person_id = CAST(e.person_id AS UUID) "
        f"WHERE e.project_id = {p} AND {where} ORDER BY e.event, month, n.pk, ts"
    )


def refresh_timelines(
    execute: Execute, dialect: Dialect, project_id: int, utc_days: set[date]
) -> bool:
    """Rebuild the project's rows of the marked UTC days, in the caller's transaction
    (the one that then deletes those marks). Returns True when it rewrote the project
    whole (never built, or ``MAX_RUNS`` reached)."""
    p = int(project_id)
    state = execute(
        f"SELECT runs, epoch_us(refreshed_at) AS at FROM event_timelines_state "
        f"WHERE project_id = {p}"
    )
    runs = int(state.column("runs")[0].as_py()) if state.num_rows else None
    if runs is not None and runs < MAX_RUNS and not utc_days:
        return False
    # Strictly later than the last refresh, whatever the clock does: it is the generation
    # that tells cached rows of the project from current ones (store/timeline_cache.py).
    last = int(state.column("at")[0].as_py()) if state.num_rows else -1
    now = dialect.ts_lit(instant(max(micros(datetime.now(UTC)), last + 1)))
    if runs is None or runs >= MAX_RUNS:
        execute(f"DELETE FROM event_timelines WHERE project_id = {p}")
        execute(_number_persons_sql(p, "TRUE"))
        execute(_rows_sql(dialect, p, "TRUE"))
        execute(f"INSERT OR REPLACE INTO event_timelines_state VALUES ({p}, 1, {now})")
        return True
    where = ranges_sql(dialect, "timestamp", day_ranges_utc(utc_days, "UTC"))
    ts_where = ts_ranges_sql("ts", utc_day_ranges(utc_days))
    execute(f"DELETE FROM event_timelines WHERE project_id = {p} AND {ts_where}")
    execute(_number_persons_sql(p, where))
    execute(_rows_sql(dialect, p, where))
    execute(f"INSERT OR REPLACE INTO event_timelines_state VALUES ({p}, {runs + 1}, {now})")
    return False


# ---- what a query may read -------------------------------------------------------------


def utc_day_ranges(days: Iterable[date]) -> list[tuple[int, int]]:
    """[start, end) microseconds of the UTC days, consecutive days merged."""
    return [(micros(a), micros(b)) for a, b in day_ranges_utc(days, "UTC")]


def ts_ranges_sql(column: str, ranges: Sequence[tuple[int, int]]) -> str:
    if not ranges:
        return "FALSE"
    return "(" + " OR ".join(f"({column} >= {a} AND {column} < {b})" for a, b in ranges) + ")"


@dataclass(frozen=True, slots=True)
class TimelinesView:
    """``event_timelines`` holds the project's events except on the ``dirty`` UTC days.

    ``top`` (the largest person number given) and ``merged`` (the project has merged
    persons to move) come with it so a funnel need not ask again; ``generation`` (the
    last refresh's time in µs, strictly increasing) changes with every change of the
    project's rows, which is what cached rows are checked against."""

    dirty: frozenset[date]
    top: int = field(default=0, compare=False)
    merged: bool = field(default=True, compare=False)
    generation: int = field(default=0, compare=False)


class TimelinesStore(Protocol):
    dialect: Dialect

    def query(self, sql: str) -> pa.Table: ...


@dataclass(frozen=True, slots=True)
class SnapshotReader:
    """A store's dialect and the statements of one snapshot (a ``TimelinesStore``), the
    store's cache of decoded months if it keeps one, and a way to read columns straight
    into numpy (DuckDB's ``fetchnumpy``: ~30% quicker than through Arrow for a month's
    millions of rows)."""

    dialect: Dialect
    query: Execute
    cache: TimelineCache | None = None
    fetch_numpy: Callable[[str], dict[str, np.ndarray]] | None = None


def read_view(store: TimelinesStore, project_id: int) -> TimelinesView | None:
    """The table's state for one project (one statement), or None when funnels must
    read events (a project never refreshed)."""
    p = int(project_id)
    got = store.query(
        "SELECT (SELECT list(DISTINCT utc_day) FROM person_days_dirty WHERE project_id = "
        f"{p}) AS marks, (SELECT coalesce(max(pk), 0) FROM timeline_persons WHERE "
        f"project_id = {p}) AS top, EXISTS (SELECT 1 FROM person_overrides WHERE "
        f"project_id = {p}) AS merged, epoch_us(refreshed_at) AS generation "
        f"FROM event_timelines_state WHERE project_id = {p}"
    ).to_pylist()
    if not got:
        return None
    row = got[0]
    return TimelinesView(
        frozenset(row["marks"] or ()), int(row["top"]), bool(row["merged"]), int(row["generation"])
    )
