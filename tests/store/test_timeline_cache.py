"""The cache of decoded ``event_timelines`` months: bounded, generation-checked, and never
the reason a funnel answers differently (``store/timeline_cache.py``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.factories import ev, load
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnels import FunnelQuery, run_funnel
from yunying.store.duckdb import DuckDBStore
from yunying.store.person_days import refresh_person_days
from yunying.store.timeline_cache import MonthRows, TimelineCache

CTX = ProjectContext(project_id=1, timezone="UTC")
Q = FunnelQuery(
    steps=[{"event": "a"}, {"event": "b"}],
    window=1,
    window_unit="days",
    date_range={"date_from": "2024-03-01", "date_to": "2024-03-31"},
)


def rows(n: int) -> MonthRows:
    """``n`` rows: 12 bytes each."""
    return MonthRows(np.arange(n, dtype=np.int32), np.arange(n, dtype=np.int64))


def test_an_entry_serves_only_its_generation() -> None:
    cache = TimelineCache(1 << 20)
    cache.put((1, "a", 10, 0, 1), 5, rows(3))
    assert cache.get((1, "a", 10, 0, 1), 5) is not None
    assert cache.get((1, "a", 10, 0, 1), 6) is None
    assert cache.get((1, "b", 10, 0, 1), 5) is None and cache.get((2, "a", 10, 0, 1), 5) is None
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_newer_generation_drops_the_projects_older_entries_only() -> None:
    cache = TimelineCache(1 << 20)
    cache.put((1, "a", 10, 0, 1), 5, rows(3))
    cache.put((1, "b", 10, 0, 1), 5, rows(3))
    cache.put((2, "a", 10, 0, 1), 5, rows(3))
    cache.put((1, "a", 11, 0, 1), 6, rows(3))
    assert cache.get((1, "b", 10, 0, 1), 5) is None  # gone, not just unused
    assert cache.get((2, "a", 10, 0, 1), 5) is not None
    assert cache.nbytes == 2 * 36


def test_an_older_generation_is_not_stored_over_a_newer() -> None:
    """A reader of an older snapshot, finishing after a newer one, keeps nothing."""
    cache = TimelineCache(1 << 20)
    cache.put((1, "a", 10, 0, 1), 6, rows(3))
    cache.put((1, "a", 10, 0, 1), 5, rows(4))
    assert cache.get((1, "a", 10, 0, 1), 5) is None
    got = cache.get((1, "a", 10, 0, 1), 6)
    assert got is not None and len(got.pk) == 3


def test_least_recently_used_months_leave_first_and_big_ones_never_come() -> None:
    cache = TimelineCache(100 * 12)  # 100 rows
    cache.put((1, "a", 1, 0, 1), 1, rows(40))
    cache.put((1, "a", 2, 0, 1), 1, rows(40))
    assert cache.get((1, "a", 1, 0, 1), 1) is not None  # now the most recent
    cache.put((1, "a", 3, 0, 1), 1, rows(40))  # over budget: month 2 leaves
    assert cache.get((1, "a", 2, 0, 1), 1) is None
    assert (
        cache.get((1, "a", 1, 0, 1), 1) is not None and cache.get((1, "a", 3, 0, 1), 1) is not None
    )
    assert cache.nbytes == 80 * 12
    cache.put((1, "a", 4, 0, 1), 1, rows(51))  # over half the budget alone: not kept
    assert cache.get((1, "a", 4, 0, 1), 1) is None and cache.nbytes == 80 * 12
    cache.clear()
    assert cache.nbytes == 0 and cache.get((1, "a", 1, 0, 1), 1) is None


def test_kept_arrays_cannot_be_written() -> None:
    cache = TimelineCache(1 << 20)
    cache.put((1, "a", 1, 0, 1), 1, rows(3))
    got = cache.get((1, "a", 1, 0, 1), 1)
    assert got is not None
    with pytest.raises(ValueError):
        got.ts[0] = 99


def test_threads_sharing_a_cache_keep_its_count_of_bytes() -> None:
    cache = TimelineCache(50 * 12)

    def work(seed: int) -> None:
        for i in range(300):
            month = (seed * 7 + i) % 13
            cache.put((1, "a", month, 0, 1), 1, rows(1 + month % 5))
            cache.get((1, "a", (month + 3) % 13, 0, 1), 1)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = [cache.get((1, "a", m, 0, 1), 1) for m in range(13)]
    assert cache.nbytes == sum(r.nbytes for r in kept if r is not None) <= 50 * 12


# ---- through the funnel ---------------------------------------------------------------------


def _store(mb: int = 64) -> DuckDBStore:
    s = DuckDBStore(timeline_cache_mb=mb)
    s.ensure_schema()
    return s


def _day(day: int, *who: str) -> list:
    t = datetime(2024, 3, day, 10, tzinfo=UTC)
    return [e for w in who for e in (ev(w, "a", t), ev(w, "b", t + timedelta(hours=1)))]


def test_a_refresh_is_seen_through_a_warm_cache() -> None:
    """Months read once are reused; events written into those months afterwards count
    both before the refresh (read from the events) and after it (the table's new
    generation), never hidden by what the cache kept."""
    store = _store()
    try:
        load(store, _day(3, "u1", "u2"))
        refresh_person_days(store, 1, "UTC")
        assert [s.count for s in run_funnel(store, CTX, Q).steps] == [2, 2]
        filled = store.timeline_cache.nbytes
        assert filled > 0
        run_funnel(store, CTX, Q)
        assert store.timeline_cache.hits >= 2  # both events' March, the second time
        load(store, _day(5, "u3") + _day(20, "u4"))
        assert [s.count for s in run_funnel(store, CTX, Q).steps] == [4, 4]  # marked days
        refresh_person_days(store, 1, "UTC")
        assert [s.count for s in run_funnel(store, CTX, Q).steps] == [4, 4]  # the table
        assert store.timeline_cache.nbytes > filled  # the new generation's rows
    finally:
        store.close()


def test_no_cache_answers_the_same() -> None:
    cached, bare = _store(), _store(mb=0)
    try:
        for s in (cached, bare):
            load(s, _day(3, "u1", "u2") + _day(30, "u3"))
            refresh_person_days(s, 1, "UTC")
            load(s, _day(31, "u4"))  # marked, read from the events
        want = run_funnel(cached, CTX, Q).model_dump()
        assert run_funnel(bare, CTX, Q).model_dump() == want
        assert bare.timeline_cache.nbytes == 0 and cached.timeline_cache.nbytes > 0
    finally:
        cached.close()
        bare.close()


def test_the_generation_moves_on_even_if_the_clock_went_back() -> None:
    """A refresh's generation is after the last one's whatever the clock says, so rows
    cached before it can never pass for rows after it."""
    store = _store()
    try:
        load(store, _day(3, "u1"))
        refresh_person_days(store, 1, "UTC")
        store.run_transaction(
            lambda execute: execute(
                "UPDATE event_timelines_state SET refreshed_at = TIMESTAMP '2999-01-01'"
            )
        )
        before = store.event_timelines_view(1)
        assert before is not None
        load(store, _day(4, "u2"))
        refresh_person_days(store, 1, "UTC")
        after = store.event_timelines_view(1)
        assert after is not None and after.generation == before.generation + 1
    finally:
        store.close()


def test_a_month_needed_for_a_few_hours_is_read_and_kept_for_those_only() -> None:
    """March in Asia/Shanghai starts at 2024-02-29 16:00 UTC: February is needed for its
    last 8 hours (and April, for b, until the 1-day window ends), so only those rows are
    read and kept; March is kept whole. The same funnel again reads nothing."""
    store = _store()
    ctx = ProjectContext(project_id=1, timezone="Asia/Shanghai")
    try:
        load(store, _day(1, "early") + _day(3, "u1") + _day(29, "late"))
        early_feb = datetime(2024, 2, 10, 10, tzinfo=UTC)
        late_feb = datetime(2024, 2, 29, 20, tzinfo=UTC)  # Mar 1 04:00 in Shanghai
        load(store, [ev("x", "a", early_feb), ev("x", "b", early_feb)])
        load(store, [ev("y", "a", late_feb), ev("y", "b", late_feb + timedelta(hours=1))])
        refresh_person_days(store, 1, "UTC")
        assert [s.count for s in run_funnel(store, ctx, Q).steps] == [4, 4]
        kept = {(e, m, hi - lo): len(r.pk) for (_, e, m, lo, hi), (_, r) in
                store.timeline_cache._entries.items()}  # fmt: skip
        hours = 3_600_000_000
        feb, mar, apr = 2024 * 12 + 1, 2024 * 12 + 2, 2024 * 12 + 3
        assert kept[("a", feb, 8 * hours)] == 1  # y's, not x's
        assert kept[("b", feb, 8 * hours)] == 1
        assert kept[("a", mar, 31 * 24 * hours)] == 3
        assert kept[("b", apr, 16 * hours)] == 0
        hits, entries = store.timeline_cache.hits, set(store.timeline_cache._entries)
        run_funnel(store, ctx, Q)
        assert store.timeline_cache.hits == hits + len(kept)
        assert set(store.timeline_cache._entries) == entries  # nothing read again
    finally:
        store.close()
