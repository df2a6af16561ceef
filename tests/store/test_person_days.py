"""``person_days`` never changes an answer: a day-grained metric reads the same numbers
from person_days + events for marked days as from events alone, after any writes and
refreshes, in any zone, with merges; marks survive a refresh that runs beside a write.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ev, load
from yunying.analytics.common import Breakdown, DateRange, EventSelector
from yunying.analytics.context import ProjectContext
from yunying.analytics.retention import RetentionQuery, run_retention
from yunying.analytics.trends import TrendsQuery, run_trends
from yunying.events.model import Event
from yunying.store.day_ranges import day_ranges_utc, local_days_of
from yunying.store.duckdb import DuckDBStore
from yunying.store.person_days import refresh_person_days, rollup_view

ZONES = [
    "UTC",
    "Asia/Shanghai",
    "America/New_York",  # DST starts 2024-03-10, inside the events' days
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "America/Adak",
]
BASE = datetime(2024, 3, 7, tzinfo=UTC)
RANGE = DateRange(date_from=date(2024, 3, 6), date_to=date(2024, 3, 14))
TODAY = date(2024, 4, 1)  # every retention column complete, whatever the clock says
IDS = ["u0", "u1", "u2", "u3"]


def _store(path: Path | None = None) -> DuckDBStore:
    s = DuckDBStore(path)
    s.ensure_schema()
    return s


def _trends(math: str, interval: str, breakdown: bool, event: str = "pv") -> TrendsQuery:
    return TrendsQuery(
        series=[EventSelector(event=event), EventSelector(event="buy")],
        math=math,
        interval=interval,
        date_range=RANGE,
        breakdown=Breakdown(property="channel") if breakdown else None,
    )


def _answers(store: DuckDBStore, tz: str) -> list[dict[str, Any]]:
    """Every day-shaped question the property asks, as plain data."""
    ctx = ProjectContext(project_id=1, timezone=tz)
    out = [
        run_trends(store, ctx, _trends(m, i, b)).model_dump()
        for m, i, b in itertools.product(("total", "unique_persons"), ("day", "week"), (0, 1))
    ]
    for kind in ("recurring", "first_time"):
        q = RetentionQuery(
            start_event=EventSelector(event="pv"),
            return_event=EventSelector(event="buy"),
            retention_type=kind,
            period="day",
            periods=3,
            date_range=DateRange(date_from=date(2024, 3, 7), date_to=date(2024, 3, 12)),
        )
        out.append(run_retention(store, ctx, q, today=TODAY).model_dump())
    return out


def _rows(store: DuckDBStore) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT project_id, day, event, CAST(person_id AS VARCHAR), channel, n, first_ts "
        "FROM person_days ORDER BY ALL"
    )
    return [tuple(r.values()) for r in store.query(sql).to_pylist()]


def _day_total(store: DuckDBStore, tz: str, day: date) -> int:
    ctx = ProjectContext(project_id=1, timezone=tz)
    q = TrendsQuery(
        series=[EventSelector(event="pv")],
        date_range=DateRange(date_from=day, date_to=day),
    )
    return run_trends(store, ctx, q).series[0].values[0]


def _dirty(store: DuckDBStore) -> set[date]:
    return {r["utc_day"] for r in store.query("SELECT utc_day FROM person_days_dirty").to_pylist()}


_event = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from(["pv", "buy"]),
    st.integers(min_value=0, max_value=6 * 24 * 60 - 1),  # minutes from BASE
    st.sampled_from([None, "ads", "seo"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.lists(_event, min_size=1, max_size=40),
    tz=st.sampled_from(ZONES),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
    refreshes=st.lists(st.sampled_from(["none", "tz", "tz", "UTC"]), min_size=5, max_size=5),
    merge_at=st.none() | st.integers(min_value=0, max_value=4),
    merge=st.permutations(IDS),
)
def test_rollup_answers_as_events_do(raw, tz, cuts, refreshes, merge_at, merge):
    """Random batches (maybe with a merge from some batch on), random refreshes between
    them (mostly in the asked zone, sometimes in UTC): a store with person_days answers
    every question as a store that only ever read events."""
    events: list[Event] = []
    for d, name, minute, channel in raw:
        props = {"channel": channel} if channel else {}
        events.append(ev(d, name, BASE + timedelta(minutes=minute), **props))
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    rolled, plain = _store(), _store()
    try:
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            merges = {merge[0]: merge[1]} if merge_at is not None and i >= merge_at else None
            for s in (rolled, plain):
                load(s, events[lo:hi], merges=merges)
            if refreshes[i] != "none":
                refresh_person_days(rolled, 1, tz if refreshes[i] == "tz" else refreshes[i])
        assert rollup_view(plain, 1, tz) is None  # plain never refreshed: events only
        expected = _answers(plain, tz)
        assert _answers(rolled, tz) == expected
        # A refresh on top of any history builds what a single full build does.
        refresh_person_days(rolled, 1, tz)
        refresh_person_days(plain, 1, tz)
        assert _dirty(rolled) == set()
        assert _rows(rolled) == _rows(plain)
        assert rollup_view(rolled, 1, tz) is not None
        assert _answers(rolled, tz) == expected  # now from person_days alone
    finally:
        rolled.close()
        plain.close()


class _Paused:
    """A store whose ``run_transaction`` stops after the work's first statement until
    released: the refresh's snapshot is taken, and a write can commit meanwhile."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store, self.dialect = store, store.dialect
        self.reached, self.release = threading.Event(), threading.Event()

    def query(self, sql: str) -> Any:
        return self.store.query(sql)

    def run_transaction(self, work: Any) -> Any:
        def paused(execute: Any) -> Any:
            def first_then_wait(sql: str) -> Any:
                out = execute(sql)
                if not self.reached.is_set():
                    self.reached.set()
                    assert self.release.wait(10)
                return out

            return work(first_then_wait)

        return self.store.run_transaction(paused)


def test_marks_survive_a_concurrent_refresh(tmp_path: Path) -> None:
    """A batch committed while a refresh runs keeps its mark: the refresh cannot see its
    events, so deleting its mark would leave person_days short of them for good."""
    day, tz = date(2024, 3, 5), "UTC"
    noon = datetime(2024, 3, 5, 12, tzinfo=UTC)
    store = _store(tmp_path / "events.duckdb")  # sole writer of its file: marks are cached
    try:
        load(store, [ev("a", "pv", noon)])
        refresh_person_days(store, 1, tz)
        load(store, [ev("b", "pv", noon + timedelta(minutes=1))])  # marks D again
        paused = _Paused(store)
        done: list[Any] = []
        refresh = threading.Thread(target=lambda: done.append(refresh_person_days(paused, 1, tz)))
        refresh.start()
        assert paused.reached.wait(10)
        load(store, [ev("c", "pv", noon + timedelta(minutes=2))])  # during the refresh
        paused.release.set()
        refresh.join(10)
        assert _day_total(store, tz, day) == 3
        assert _dirty(store) == {day}  # the mark of the batch the refresh could not see
        assert done and done[0].days == 1  # it committed, rebuilding D from its snapshot
        refresh_person_days(store, 1, tz)
        assert _dirty(store) == set()
        total = store.query("SELECT sum(n) AS n FROM person_days").to_pylist()[0]["n"]
        assert total == 3 and _day_total(store, tz, day) == 3
    finally:
        store.close()


def test_a_zone_change_reads_events_until_rebuilt() -> None:
    store = _store()
    try:
        # Around midnight UTC: Shanghai's days differ from UTC's.
        load(
            store,
            [ev(f"u{i}", "pv", f"2024-03-05 {h}:30", tz="UTC") for i, h in enumerate([15, 17, 23])],
        )
        load(store, [ev("u0", "buy", "2024-03-06 02:00", tz="UTC")])
        refresh_person_days(store, 1, "UTC")
        assert rollup_view(store, 1, "UTC") is not None
        assert rollup_view(store, 1, "Asia/Shanghai") is None
        before = _answers(store, "Asia/Shanghai")
        assert _day_total(store, "Asia/Shanghai", date(2024, 3, 5)) == 1
        assert _day_total(store, "Asia/Shanghai", date(2024, 3, 6)) == 2
        refresh_person_days(store, 1, "Asia/Shanghai")
        assert rollup_view(store, 1, "Asia/Shanghai") is not None
        assert rollup_view(store, 1, "UTC") is None
        assert _answers(store, "Asia/Shanghai") == before
        assert _day_total(store, "Asia/Shanghai", date(2024, 3, 6)) == 2
    finally:
        store.close()


def test_read_only_file_without_person_days(tmp_path: Path) -> None:
    """A file from before person_days, opened read-only (no ensure_schema can add it)."""
    path = tmp_path / "old.duckdb"
    store = _store(path)
    load(store, [ev("a", "pv", "2024-03-05 10:00"), ev("b", "pv", "2024-03-05 11:00")])
    store.close()
    con = duckdb.connect(str(path))
    for table in ("person_days", "person_days_dirty", "person_days_state"):
        con.execute(f"DROP TABLE {table}")
    con.close()
    ro = DuckDBStore(path, read_only=True)
    try:
        assert ro.person_days_view(1, "Asia/Shanghai") is None
        assert _day_total(ro, "Asia/Shanghai", date(2024, 3, 5)) == 2
    finally:
        ro.close()


def test_a_person_id_that_is_no_uuid_fails_the_refresh_not_the_metrics() -> None:
    store = _store()
    try:
        load(store, [ev("a", "pv", "2024-03-05 10:00"), ev("b", "pv", "2024-03-05 11:00")])
        store.query(
            "INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, "
            "received_at, properties) VALUES ('00000000-0000-4000-8000-ffffffffffff', 1, 'pv', "
            "'x', 'not-a-uuid', TIMESTAMP '2024-03-05 04:00', TIMESTAMP '2024-03-05 04:00', '{}')"
        )
        with pytest.raises(duckdb.Error):
            refresh_person_days(store, 1, "Asia/Shanghai")
        assert rollup_view(store, 1, "Asia/Shanghai") is None  # rolled back, state unset
        assert _day_total(store, "Asia/Shanghai", date(2024, 3, 5)) == 3
        ctx = ProjectContext(project_id=1, timezone="Asia/Shanghai")
        q = _trends("unique_persons", "day", False).model_copy(
            update={"date_range": DateRange(date_from=date(2024, 3, 5), date_to=date(2024, 3, 5))}
        )
        assert run_trends(store, ctx, q).series[0].values == [3]
    finally:
        store.close()


def test_local_days_of() -> None:
    d = date(2024, 3, 5)
    assert local_days_of([d], "UTC") == {d}
    assert local_days_of([d], "Asia/Shanghai") == {d, date(2024, 3, 6)}
    assert local_days_of([d], "America/New_York") == {date(2024, 3, 4), d}
    assert local_days_of([d], "Pacific/Kiritimati") == {d, date(2024, 3, 6)}
    assert local_days_of([d, date(2024, 3, 6)], "Asia/Kolkata") == {
        d,
        date(2024, 3, 6),
        date(2024, 3, 7),
    }
    assert local_days_of([], "UTC") == set()


def test_day_ranges_utc() -> None:
    def utc(*a: int) -> datetime:
        return datetime(*a, tzinfo=UTC)

    days = [date(2024, 3, 6), date(2024, 3, 5), date(2024, 3, 8)]
    assert day_ranges_utc(days, "Asia/Shanghai") == [
        (utc(2024, 3, 4, 16), utc(2024, 3, 6, 16)),  # the 5th and 6th merged
        (utc(2024, 3, 7, 16), utc(2024, 3, 8, 16)),
    ]
    ((a, b),) = day_ranges_utc([date(2024, 3, 10)], "America/New_York")  # spring forward
    assert (a, b - a) == (utc(2024, 3, 10, 5), timedelta(hours=23))
    ((a, b),) = day_ranges_utc([date(2024, 11, 3)], "America/New_York")  # fall back
    assert (a, b - a) == (utc(2024, 11, 3, 4), timedelta(hours=25))
    spanning = [date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 11)]
    assert day_ranges_utc(spanning, "America/New_York") == [
        (utc(2024, 3, 9, 5), utc(2024, 3, 12, 4))
    ]
    assert day_ranges_utc([], "UTC") == []
