"""``event_timelines`` holds exactly the events of its clean days.

Funnels read the table for every UTC day that is not marked and the events for the rest
(``analytics/timeline_source``), so on a clean day the table must hold each event once,
as (event, UTC month, number of the stamped person, µs), however the writes and the
refreshes (incremental, and whole every ``MAX_RUNS``) interleave. Person numbers must
never change once given: the table's rows keep them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ev, load
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnel_timelines import best_from_timelines
from yunying.analytics.funnels import FunnelQuery, run_funnel
from yunying.events.model import Event
from yunying.store import event_timelines
from yunying.store.duckdb import DuckDBStore
from yunying.store.event_timelines import (
    TimelinesView,
    instant,
    micros,
    month_of,
    ts_ranges_sql,
    utc_day_ranges,
)
from yunying.store.person_days import refresh_person_days

# Ten days across a month end.
BASE = datetime(2024, 1, 27, tzinfo=UTC)
DAYS = 10
US = timedelta(microseconds=1)
IDS = ["u0", "u1", "u2", "u3"]


def _store() -> DuckDBStore:
    s = DuckDBStore()
    s.ensure_schema()
    return s


def _dirty(store: DuckDBStore, project_id: int) -> set[date]:
    got = store.query(f"SELECT utc_day FROM person_days_dirty WHERE project_id = {project_id}")
    return set(got.column("utc_day").to_pylist())


def _runs(store: DuckDBStore, project_id: int) -> int | None:
    got = store.query(f"SELECT runs FROM event_timelines_state WHERE project_id = {project_id}")
    return got.column("runs")[0].as_py() if got.num_rows else None


def _numbers(store: DuckDBStore, project_id: int) -> dict[str, int]:
    """person id → pk, checking both are unique within the project."""
    got = store.query(
        "SELECT CAST(person_id AS VARCHAR) AS person, pk FROM timeline_persons "
        f"WHERE project_id = {project_id}"
    ).to_pylist()
    numbers = {r["person"]: r["pk"] for r in got}
    assert len(numbers) == len(got), "a person numbered twice"
    assert len(set(numbers.values())) == len(got), "a number given twice"
    return numbers


def _table(store: DuckDBStore, project_id: int) -> Counter[tuple[Any, ...]]:
    """The table's rows as (event, month, person id, µs), a multiset."""
    got = store.query(
        "SELECT t.event, t.month, CAST(n.person_id AS VARCHAR) AS person, t.ts "
        "FROM event_timelines t LEFT JOIN timeline_persons n "
        "ON n.project_id = t.project_id AND n.pk = t.pk "
        f"WHERE t.project_id = {project_id}"
    ).to_pylist()
    return Counter(tuple(r.values()) for r in got)


def _expected(events: list[Event], dirty: set[date]) -> Counter[tuple[Any, ...]]:
    """What the table must hold of the events on clean days, computed in Python."""
    out: Counter[tuple[Any, ...]] = Counter()
    for e in events:
        t = e.timestamp.astimezone(UTC)
        if t.date() not in dirty:
            out[(e.event, t.year * 12 + t.month - 1, e.person_id, micros(t))] += 1
    return out


def _on_clean_days(rows: Counter[tuple[Any, ...]], dirty: set[date]) -> Counter[tuple[Any, ...]]:
    return Counter({r: n for r, n in rows.items() if instant(r[3]).date() not in dirty})


# Minutes across the ten days, and instants at (and 1 µs before) UTC midnights: the edges
# of the day ranges a refresh deletes and inserts.
_when = st.one_of(
    st.integers(0, DAYS * 24 * 60 - 1).map(lambda m: BASE + timedelta(minutes=m)),
    st.tuples(st.integers(1, DAYS - 1), st.sampled_from([-1, 0])).map(
        lambda d: BASE + timedelta(days=d[0], microseconds=d[1])
    ),
)
_event = st.tuples(st.sampled_from([1, 1, 2]), st.sampled_from(IDS), st.sampled_from("ab"), _when)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(_event, max_size=12), min_size=3, max_size=8),
    refreshes=st.lists(st.sampled_from(["none", "1", "2", "both", "both"]), min_size=8, max_size=8),
    merge_at=st.none() | st.integers(0, 7),
    max_runs=st.sampled_from([2, 3]),
)
def test_clean_days_hold_exactly_their_events(
    batches: list[list[tuple[int, str, str, datetime]]],
    refreshes: list[str],
    merge_at: int | None,
    max_runs: int,
) -> None:
    """Two projects written in batches (a merge from some batch on), refreshed one, the
    other, both or neither after each: every clean day of each project holds its events
    (stamped persons: merges are applied by readers); numbers are unique per project
    and never change; ``runs`` counts refreshes with marks and starts again at 1 once
    ``MAX_RUNS`` is reached."""
    store = _store()
    written: dict[int, list[Event]] = {1: [], 2: []}
    numbers: dict[int, dict[str, int]] = {1: {}, 2: {}}
    runs: dict[int, int | None] = {1: None, 2: None}
    try:
        with mock.patch.object(event_timelines, "MAX_RUNS", max_runs):
            for i, batch in enumerate(batches):
                merges = {"u0": "u1"} if merge_at is not None and i >= merge_at else None
                for p in (1, 2):
                    events = [ev(who, name, t, project_id=p) for q, who, name, t in batch if q == p]
                    if events or merges:
                        load(store, events, merges=merges, project_id=p)
                    written[p] += events
                for p in (1, 2):
                    if refreshes[i] not in (str(p), "both"):
                        continue
                    marked = bool(_dirty(store, p))
                    result = refresh_person_days(store, p, "UTC")
                    full = runs[p] is None or runs[p] >= max_runs  # type: ignore[operator]
                    assert result.timelines_full == full
                    runs[p] = 1 if full else runs[p] + int(marked)  # type: ignore[operator]
                    assert _dirty(store, p) == set()
                for p in (1, 2):
                    assert _runs(store, p) == runs[p]
                    now = _numbers(store, p)
                    assert now.items() >= numbers[p].items(), "a person's number changed"
                    numbers[p] = now
                    if runs[p] is None:
                        assert not _table(store, p)
                        continue
                    dirty = _dirty(store, p)
                    assert _on_clean_days(_table(store, p), dirty) == _expected(written[p], dirty)
    finally:
        store.close()


# ---- runs ----------------------------------------------------------------------------------


def test_runs_grow_per_refresh_with_marks_and_restart_after_max(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With MAX_RUNS = 3: the first refresh builds 1 run; each refresh with marks adds
    one; one without marks changes nothing; at 3 the next refresh rewrites the project
    as 1 run (and it still holds every event)."""
    monkeypatch.setattr(event_timelines, "MAX_RUNS", 3)
    store = _store()
    day = BASE

    def write() -> None:
        nonlocal day
        day += timedelta(days=1)
        load(store, [ev("u1", "a", day)])

    def refresh() -> tuple[bool, int | None]:
        full = refresh_person_days(store, 1, "UTC").timelines_full
        return full, _runs(store, 1)

    try:
        write()
        assert _runs(store, 1) is None
        assert refresh() == (True, 1)
        assert refresh() == (False, 1)  # nothing marked
        write()
        assert refresh() == (False, 2)
        assert refresh() == (False, 2)
        write()
        assert refresh() == (False, 3)
        write()
        assert refresh() == (True, 1)  # MAX_RUNS reached: rewritten whole
        assert sum(_table(store, 1).values()) == 4
        write()
        assert refresh() == (False, 2)
        write()
        assert refresh() == (False, 3)
        # At MAX_RUNS even a refresh with nothing marked rewrites the project.
        assert refresh() == (True, 1)
        assert sum(_table(store, 1).values()) == 6
    finally:
        store.close()


def test_a_refresh_without_marks_leaves_the_table_alone() -> None:
    store = _store()
    try:
        load(store, [ev("u1", "a", BASE), ev("u2", "b", BASE + timedelta(days=3))])
        refresh_person_days(store, 1, "UTC")
        load(store, [ev("u3", "a", BASE + timedelta(days=1))])
        refresh_person_days(store, 1, "UTC")
        before = store.query("SELECT * FROM event_timelines ORDER BY ALL")
        persons = _numbers(store, 1)
        assert before.num_rows == 3 and _runs(store, 1) == 2
        result = refresh_person_days(store, 1, "UTC")
        assert (result.days, result.timelines_full) == (0, False)
        assert store.query("SELECT * FROM event_timelines ORDER BY ALL").equals(before)
        assert _numbers(store, 1) == persons
        assert _runs(store, 1) == 2
    finally:
        store.close()


def test_an_incremental_refresh_rebuilds_only_the_marked_days() -> None:
    """Events on a marked day replace that day's rows (the old ones are not kept beside
    them); the other days' rows stay as they were; the view names the marked days."""
    store = _store()
    try:
        load(store, [ev("u1", "a", BASE + timedelta(hours=h)) for h in (1, 25, 49)])
        refresh_person_days(store, 1, "UTC")
        assert store.event_timelines_view(1) == TimelinesView(frozenset())
        late = [ev("u2", "b", BASE + timedelta(hours=26)), ev("u1", "b", BASE - US)]
        load(store, late)
        assert store.event_timelines_view(1) == TimelinesView(
            frozenset({date(2024, 1, 26), date(2024, 1, 28)})
        )
        refresh_person_days(store, 1, "UTC")
        assert store.event_timelines_view(1) == TimelinesView(frozenset())
        every = store.query("SELECT * FROM events").num_rows
        assert sum(_table(store, 1).values()) == every == 5
    finally:
        store.close()


# ---- projects ------------------------------------------------------------------------------


def test_two_projects_stay_apart() -> None:
    """The same distinct id in two projects: each project numbers its persons from 1, so
    a reader that forgot the project would mix project 1's b into project 2's funnel."""
    store = _store()
    t = BASE + timedelta(hours=10)
    try:
        load(store, [ev("u1", "a", t), ev("u1", "b", t + timedelta(minutes=5))])
        load(store, [ev("u1", "a", t, project_id=2)], project_id=2)
        refresh_person_days(store, 1, "UTC")
        assert _runs(store, 2) is None and _dirty(store, 2) == {t.date()}  # untouched
        refresh_person_days(store, 2, "UTC")
        assert list(_numbers(store, 1).values()) == list(_numbers(store, 2).values()) == [1]
        q = FunnelQuery(
            steps=[{"event": "a"}, {"event": "b"}],
            date_range={"date_from": BASE.date(), "date_to": BASE.date()},
        )
        for p, want in ((1, [1, 1]), (2, [1, 0])):
            ctx = ProjectContext(project_id=p, timezone="UTC")
            assert best_from_timelines(store, ctx, q) is not None
            assert [s.count for s in run_funnel(store, ctx, q).steps] == want
        # A write to project 1 marks project 1 only.
        load(store, [ev("u1", "b", t + timedelta(days=1))])
        assert store.event_timelines_view(2) == TimelinesView(frozenset())
        assert store.event_timelines_view(1) == TimelinesView(frozenset({date(2024, 1, 28)}))
    finally:
        store.close()


# ---- helpers -------------------------------------------------------------------------------


def test_micros_and_instant() -> None:
    """Exact integers both ways (no float rounding even far from 1970), any zone in."""
    assert micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    t = datetime(2024, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert micros(t) == 1_706_745_599_999_999
    assert instant(micros(t)) == t
    shanghai = datetime(2024, 2, 1, 7, 59, 59, 999_999, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert micros(shanghai) == micros(t)
    far = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert instant(micros(far)) == far
    assert micros(far) - micros(far - US) == 1
    assert instant(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def test_month_of() -> None:
    """UTC year * 12 + month - 1: the last µs of January and the first of February."""
    feb = micros(datetime(2024, 2, 1, tzinfo=UTC))
    assert month_of(feb) == 2024 * 12 + 1
    assert month_of(feb - 1) == 2024 * 12
    assert month_of(0) == 1970 * 12
    assert month_of(-1) == 1969 * 12 + 11
    # Shanghai's February starts 8 hours earlier; the table's month is UTC's.
    assert month_of(micros(datetime(2024, 2, 1, 7, tzinfo=ZoneInfo("Asia/Shanghai")))) == (
        2024 * 12
    )


def test_utc_day_ranges() -> None:
    day = 86_400_000_000

    def at(d: date) -> int:
        return micros(datetime(d.year, d.month, d.day, tzinfo=UTC))

    jan31, feb1, feb3 = date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 3)
    assert utc_day_ranges([]) == []
    assert utc_day_ranges([feb1]) == [(at(feb1), at(feb1) + day)]
    # Unsorted, repeated, consecutive across the month end: merged; a gap: split.
    assert utc_day_ranges([feb3, feb1, jan31, feb1]) == [
        (at(jan31), at(feb1) + day),
        (at(feb3), at(feb3) + day),
    ]
    # Around New York's DST change a UTC day is still 24 hours.
    ((a, b),) = utc_day_ranges([date(2024, 3, 10)])
    assert b - a == day


def test_ts_ranges_sql() -> None:
    assert ts_ranges_sql("ts", []) == "FALSE"
    assert ts_ranges_sql("t.ts", [(1, 2), (5, 9)]) == (
        "((t.ts >= 1 AND t.ts < 2) OR (t.ts >= 5 AND t.ts < 9))"
    )
    store = _store()
    try:  # the SQL means [a, b): a is in, b is not
        sql = ts_ranges_sql("x", [(1, 2), (5, 9)])
        got = store.query(f"SELECT x FROM range(0, 11) r(x) WHERE {sql} ORDER BY x")
        assert got.column("x").to_pylist() == [1, 5, 6, 7, 8]
    finally:
        store.close()


def test_every_batch_marks_its_utc_days() -> None:
    """The marks funnels trust: a batch over several days marks each of its UTC days
    (UTC dates, whatever zone person_days was refreshed in)."""
    store = _store()
    try:
        load(store, [ev("u1", "a", BASE)])
        refresh_person_days(store, 1, "Asia/Shanghai")
        times = [BASE + timedelta(hours=h) for h in (1, 23, 24, 47, 24 * 5)]
        load(store, [ev(f"u{i}", "a", t) for i, t in enumerate(times)])
        assert _dirty(store, 1) == {t.date() for t in times}
        view = store.event_timelines_view(1)
        assert view == TimelinesView(frozenset(t.date() for t in times))
    finally:
        store.close()
