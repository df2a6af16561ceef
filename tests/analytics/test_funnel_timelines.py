"""The funnel's fast path (``event_timelines`` read as keys, walked by the compiled
``funnel_arrays``) answers exactly as the SQL does.

A property test writes random events (with deliberate ties and exact window ends) in
batches, with merges and refreshes between them, and compares random ordered funnels
against a store that only ever runs the SQL; hand-computed cases pin the definition's
edges (docs/metrics.md, "Funnels"); the rest checks which questions and stores take the
fast path, that splitting persons into blocks changes nothing, and that the compiled
walk alone equals a plain reference on keys arriving as sorted runs in any order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import at, ev, load, pid
from yunying.analytics import funnel_arrays, funnel_timelines, timeline_source
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnel_timelines import answerable, best_from_timelines
from yunying.analytics.funnels import FunnelQuery, FunnelResult, run_funnel
from yunying.analytics.timeline_source import KeyBlock, read_blocks
from yunying.events.model import Event
from yunying.store import event_timelines
from yunying.store.duckdb import DuckDBStore
from yunying.store.event_timelines import micros
from yunying.store.person_days import refresh_person_days

US = timedelta(microseconds=1)
WEEK = {"date_from": "2024-01-01", "date_to": "2024-01-07"}


def _store(cache_mb: int = 64) -> DuckDBStore:
    s = DuckDBStore(timeline_cache_mb=cache_mb)
    s.ensure_schema()
    return s


def _approx(v: Any) -> Any:
    """``v`` with every float replaced by ``pytest.approx``: numpy and DuckDB may sum the
    same seconds in another order (last-bit differences); counts stay exact."""
    if isinstance(v, float):
        return pytest.approx(v, rel=1e-9)
    if isinstance(v, dict):
        return {k: _approx(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_approx(x) for x in v]
    return v


class Pair:
    """The same writes into two stores: ``fast`` is refreshed (so funnels read
    ``event_timelines``), ``plain`` never is (so funnels run the SQL)."""

    def __init__(self, tz: str = "UTC", cache_mb: int = 64) -> None:
        self.fast, self.plain = _store(cache_mb), _store()
        self.ctx = ProjectContext(project_id=1, timezone=tz)

    def load(self, events: list[Event], merges: dict[str, str] | None = None) -> None:
        for s in (self.fast, self.plain):
            load(s, events, merges=merges)

    def refresh(self) -> None:
        refresh_person_days(self.fast, 1, self.ctx.timezone)

    def funnel(self, q: FunnelQuery) -> FunnelResult:
        """The fast path's answer, checked to be the fast path's and equal to the SQL's."""
        assert best_from_timelines(self.fast, self.ctx, q) is not None
        assert best_from_timelines(self.plain, self.ctx, q) is None
        got = run_funnel(self.fast, self.ctx, q)
        want = run_funnel(self.plain, self.ctx, q)
        assert got.model_dump() == _approx(want.model_dump())
        return got

    def close(self) -> None:
        self.fast.close()
        self.plain.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    p = Pair()
    yield p
    p.close()


def utc(local: str) -> datetime:
    """A UTC instant ('2024-01-02 10:00[:ss]')."""
    return at(local, "UTC")


def fq(*steps: str, **kw: Any) -> FunnelQuery:
    kw.setdefault("date_range", WEEK)
    return FunnelQuery(steps=[{"event": s} for s in steps], **kw)


def day_of(who: str, *steps: str, day: str = "2024-01-02") -> list[Event]:
    """``who``'s events on one UTC day: ``day_of("u1", "a 10:00", "b 10:05")``."""
    return [ev(who, s.split()[0], utc(f"{day} {s.split()[1]}")) for s in steps]


def counts(r: FunnelResult) -> list[int]:
    return [s.count for s in r.steps]


def times(r: FunnelResult) -> list[tuple[float | None, float | None]]:
    """(median, average) seconds of each step after the first."""
    return [(s.median_time_seconds, s.average_time_seconds) for s in r.steps[1:]]


# ---- the property: fast path == SQL --------------------------------------------------------

# Ten days across a month end (Oct → Nov) and New York's DST end (2024-11-03).
BASE = datetime(2024, 10, 27, tzinfo=UTC)
DAYS = 10
IDS = ["u0", "u1", "u2", "u3"]
NAMES = ["a", "b", "c", "x"]
ZONES = ["UTC", "Asia/Shanghai", "America/New_York"]
# Gaps between a person's consecutive events: 0 and 1 µs make ties and near-ties; the
# rest are whole window lengths (or one second either side), so window ends are hit
# exactly; two days spread a person over more of the days.
GAPS = [
    timedelta(0),
    timedelta(0),
    US,
    timedelta(seconds=1),
    timedelta(seconds=59),
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2),
]
WINDOWS = [
    ("seconds", 1),
    ("seconds", 59),
    ("minutes", 1),
    ("minutes", 10),
    ("hours", 1),
    ("hours", 6),
    ("days", 1),
    ("days", 3),
    ("weeks", 1),
]

_event = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from(NAMES),
    st.sampled_from(GAPS),
    st.lists(st.sampled_from(NAMES), max_size=2),  # more events of that person, same instant
)


@st.composite
def funnels(draw: st.DrawFn) -> FunnelQuery:
    """2–4 steps (repeats allowed), a window from a second to a week, 0–2 exclusions, an
    entry range covering part of the events' days."""
    n = draw(st.integers(2, 4))
    steps = [draw(st.sampled_from(NAMES)) for _ in range(n)]
    unit, window = draw(st.sampled_from(WINDOWS))
    exclusions = []
    for _ in range(draw(st.integers(0, 2))):
        a = draw(st.integers(1, n - 1))
        b = draw(st.integers(a + 1, n))
        exclusions.append({"event": draw(st.sampled_from(NAMES)), "from_step": a, "to_step": b})
    first = BASE.date() + timedelta(days=draw(st.integers(-1, 4)))
    last = first + timedelta(days=draw(st.integers(0, DAYS)))
    return FunnelQuery(
        steps=[{"event": s} for s in steps],
        window=window,
        window_unit=unit,
        exclusions=exclusions,
        date_range={"date_from": first, "date_to": last},
    )


def _events(
    raw: Sequence[tuple[str, str, timedelta, list[str]]], starts: Sequence[int]
) -> list[Event]:
    """Each person's events in time order, each ``gap`` after that person's previous one
    (plus its ties); persons start at one of a few hours, so after a merge two persons'
    events may share instants too."""
    clock = {who: BASE + timedelta(hours=h) for who, h in zip(IDS, starts, strict=True)}
    out: list[Event] = []
    for who, name, gap, same_instant in raw:
        clock[who] += gap
        out += [ev(who, n, clock[who]) for n in [name, *same_instant]]
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.lists(_event, min_size=10, max_size=45),
    starts=st.lists(st.sampled_from([0, 0, 17, 47]), min_size=len(IDS), max_size=len(IDS)),
    shuffle=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(1, 99), min_size=1, max_size=4),  # percent of the events
    refreshes=st.lists(st.booleans(), min_size=5, max_size=5),
    first_refresh=st.integers(0, 4),
    merge_at=st.none() | st.integers(0, 4),
    merge=st.permutations(IDS),
    two_merges=st.booleans(),
    max_runs=st.sampled_from([2, 3, event_timelines.MAX_RUNS]),
    tz=st.sampled_from(ZONES),
    cache_mb=st.sampled_from([0, 64]),  # months read each time, or kept between funnels
    queries=st.lists(funnels(), min_size=3, max_size=3),
)
def test_fast_path_answers_as_the_sql(
    raw: list[tuple[str, str, timedelta, list[str]]],
    starts: list[int],
    shuffle: random.Random,
    cuts: list[int],
    refreshes: list[bool],
    first_refresh: int,
    merge_at: int | None,
    merge: list[str],
    two_merges: bool,
    max_runs: int,
    tz: str,
    cache_mb: int,
    queries: list[FunnelQuery],
) -> None:
    """Random batches arriving out of time order (maybe with one or two merges from some
    batch on) and refreshes between some of them: some days are in the table, some only
    marked, some rebuilt as extra runs, some rewritten whole; every funnel equals the
    SQL's. A final refresh (table only) changes nothing either."""
    events = _events(raw, starts)
    refreshes = list(refreshes)
    shuffle.shuffle(events)
    bounds = sorted({0, len(events), *(c * len(events) // 100 for c in cuts)})
    batches = list(itertools.pairwise(bounds))
    if not any(refreshes[: len(batches)]):  # at least one, for the fast path; not the last
        refreshes[first_refresh % max(1, len(batches) - 1)] = True
    p = Pair(tz, cache_mb)
    try:
        with mock.patch.object(event_timelines, "MAX_RUNS", max_runs):
            for i, (lo, hi) in enumerate(batches):
                merges = None
                if merge_at is not None and i >= merge_at:
                    merges = {merge[0]: merge[1], **({merge[2]: merge[1]} if two_merges else {})}
                p.load(events[lo:hi], merges=merges)
                if refreshes[i]:
                    p.refresh()
            view = p.fast.event_timelines_view(1)
            assert view is not None
            event(f"marked days at query time: {bool(view.dirty)}")
            runs = p.fast.query("SELECT runs FROM event_timelines_state").column("runs")
            event(f"sorted runs: {min(runs[0].as_py(), 3)}+")
            for q in queries:
                r = p.funnel(q)
                event(f"someone reached the last step: {r.steps[-1].count > 0}")
                event(f"someone converted partly: {r.steps[0].count > r.steps[-1].count > 0}")
            p.refresh()
            assert p.fast.event_timelines_view(1) == event_timelines.TimelinesView(frozenset())
            for q in queries:
                p.funnel(q)
    finally:
        p.close()


# ---- hand-computed edges -------------------------------------------------------------------


def test_same_microsecond_never_chains(pair: Pair) -> None:
    """u1's a and b share an instant: no chain. u2's b is one µs later: a chain of 1 µs."""
    t = utc("2024-01-02 10:00")
    pair.load([ev("u1", "a", t), ev("u1", "b", t), ev("u2", "a", t), ev("u2", "b", t + US)])
    pair.refresh()
    r = pair.funnel(fq("a", "b"))
    assert counts(r) == [2, 1]
    assert times(r) == [(1e-6, 1e-6)]


def test_window_end_is_inside_one_microsecond_later_is_not(pair: Pair) -> None:
    """Window 1 hour from a at 10:00: u1's b at exactly 11:00 counts, u2's at 11:00 + 1 µs
    does not (``entry < t <= entry + window``)."""
    a, end = utc("2024-01-02 10:00"), utc("2024-01-02 11:00")
    pair.load([ev("u1", "a", a), ev("u1", "b", end), ev("u2", "a", a), ev("u2", "b", end + US)])
    pair.refresh()
    r = pair.funnel(fq("a", "b", window=1, window_unit="hours"))
    assert counts(r) == [2, 1]
    assert times(r) == [(3600.0, 3600.0)]


def test_window_end_on_the_day_after_the_range(pair: Pair) -> None:
    """Entry on the range's last day, step on the next day exactly at the window end: the
    step is read past the range (and past the month) and counts."""
    a = utc("2024-01-31 23:00")
    pair.load([ev("u1", "a", a), ev("u1", "b", a + timedelta(days=1))])
    pair.refresh()
    q = fq("a", "b", window=1, date_range={"date_from": "2024-01-31", "date_to": "2024-01-31"})
    assert counts(pair.funnel(q)) == [1, 1]


def test_repeated_step_needs_a_second_event(pair: Pair) -> None:
    """a → b → a: u1 has no second a (reaches 2); u2 has one after b (3); u3's second a is
    before b, so it cannot be step 3 (reaches 2)."""
    pair.load(
        [
            *day_of("u1", "a 10:00", "b 10:01"),
            *day_of("u2", "a 10:00", "b 10:01", "a 10:03"),
            *day_of("u3", "a 10:00", "a 10:01", "b 10:02"),
        ]
    )
    pair.refresh()
    r = pair.funnel(fq("a", "b", "a"))
    assert counts(r) == [3, 3, 1]
    # u2's attempt from 10:00: b after 60 s, a after 120 s more. (u3's best attempt is the
    # one from 10:00: b after 120 s; u1's 60 s.) Step 2: 60, 60, 120.
    assert times(r) == [(60.0, 80.0), (120.0, 120.0)]


def test_best_attempt_is_the_earliest_of_the_furthest(pair: Pair) -> None:
    """Window 1 hour, a → b → c.

    u1: the attempt from 10:00 reaches b (10:30) but c (11:10) is past 11:00; the one from
    11:00 reaches c: the furthest wins, so its times count (b 300 s, c 300 s).
    u2: attempts from 10:00 and 10:20 both reach b at 10:40; the earliest entry is the
    best, so b took 2400 s (not 1200 s).
    """
    pair.load(
        [
            ev("u1", "a", utc("2024-01-02 10:00")),
            ev("u1", "b", utc("2024-01-02 10:30")),
            ev("u1", "a", utc("2024-01-02 11:00")),
            ev("u1", "b", utc("2024-01-02 11:05")),
            ev("u1", "c", utc("2024-01-02 11:10")),
            ev("u2", "a", utc("2024-01-02 10:00")),
            ev("u2", "a", utc("2024-01-02 10:20")),
            ev("u2", "b", utc("2024-01-02 10:40")),
        ]
    )
    pair.refresh()
    r = pair.funnel(fq("a", "b", "c", window=1, window_unit="hours"))
    assert counts(r) == [2, 2, 1]
    # Step 2: u1 300 s, u2 2400 s → median = mean = 1350; step 3: u1 300 s.
    assert times(r) == [(1350.0, 1350.0), (300.0, 300.0)]


def test_exclusions(pair: Pair) -> None:
    """a → b → c, x excluded between steps 1 and 2.

    u1: x strictly between a and b → out of every step.
    u2: x at the very instant of a and of b → not "between": reaches 3.
    u3: x after b (between 2 and 3, not excluded there) → reaches 3.
    u4: a, x, a, b: the first attempt has x between a and b → out, although the second
    attempt is clean ("any attempt").
    u5: x between a and b but b is past the window: that attempt never reached step 2,
    so it is not checked → counted at step 1.
    """
    pair.load(
        [
            *day_of("u1", "a 10:00", "x 10:10", "b 10:20", "c 10:30"),
            *day_of("u2", "a 10:00", "x 10:00", "b 10:20", "x 10:20", "c 10:30"),
            *day_of("u3", "a 10:00", "b 10:10", "x 10:20", "c 10:30"),
            *day_of("u4", "a 10:00", "x 10:05", "a 10:10", "b 10:20"),
            *day_of("u5", "a 10:00", "x 10:10", "b 11:30"),
        ]
    )
    pair.refresh()
    hour = {"window": 1, "window_unit": "hours"}
    r = pair.funnel(
        fq("a", "b", "c", **hour, exclusions=[{"event": "x", "from_step": 1, "to_step": 2}])
    )
    assert counts(r) == [3, 2, 2]  # u2, u3, u5 | u2, u3 | u2, u3
    # Between steps 2 and 3 instead: u3's x (10:20, between b 10:10 and c 10:30) removes
    # it; u1's x is before b, u4 never reaches c (not checked).
    q23 = fq("a", "b", "c", **hour, exclusions=[{"event": "x", "from_step": 2, "to_step": 3}])
    assert counts(pair.funnel(q23)) == [4, 3, 2]  # u1 u2 u4 u5 | u1 u2 u4 | u1 u2


def test_merge_after_the_refresh_moves_the_tables_rows(pair: Pair) -> None:
    """An anonymous id does a, a user id b; both are in the table as two persons. Then
    the ids merge (no event, no mark): the anonymous person's rows must count as the
    user's, and no longer as its own → one person, converted."""
    pair.load([ev("anon", "a", utc("2024-01-02 10:00"))])
    pair.load([ev("user", "b", utc("2024-01-03 10:00"))])
    pair.refresh()
    numbered = pair.fast.query("SELECT count(*) AS n FROM timeline_persons").column("n")
    assert numbered[0].as_py() == 2
    pair.load([], merges={"anon": "user"})
    assert pair.fast.event_timelines_view(1) == event_timelines.TimelinesView(frozenset())
    r = pair.funnel(fq("a", "b"))
    assert counts(r) == [1, 1]
    assert times(r) == [(86400.0, 86400.0)]


def test_merge_into_a_person_first_seen_on_a_marked_day(pair: Pair) -> None:
    """The anonymous person's a is in the table (a clean day); the user's first event
    (and the merge) come after the refresh, on the next day: the person the table's rows
    move to has no number yet."""
    pair.load([ev("anon", "a", utc("2024-01-01 23:50"))])
    pair.refresh()
    pair.load([ev("user", "b", utc("2024-01-02 00:20"))], merges={"anon": "user"})
    assert pair.fast.event_timelines_view(1) == event_timelines.TimelinesView(
        frozenset({date(2024, 1, 2)})
    )
    r = pair.funnel(fq("a", "b"))
    assert counts(r) == [1, 1]
    assert times(r) == [(1800.0, 1800.0)]


def test_chained_merges_across_refreshes(pair: Pair) -> None:
    """A, B and C each do one step and are numbered as three persons; A merges into B
    (refresh), then B's person (with A) into C: the table's rows of both absorbed numbers
    go to C, one person through all three steps. A quote in an event name is data."""
    pair.load(
        [
            *day_of("A", "a 10:00", day="2024-01-02"),
            *day_of("B", "b 10:00", day="2024-01-03"),
            *day_of("C", "c 10:00", day="2024-01-04"),
            *day_of("C", "it's 10:00", day="2024-01-05"),
        ]
    )
    pair.refresh()
    pair.load([], merges={"A": "B"})
    assert counts(pair.funnel(fq("a", "b", "c"))) == [1, 1, 0]  # A+B, and C apart
    pair.refresh()
    pair.load([], merges={"A": "C", "B": "C"})
    assert counts(pair.funnel(fq("a", "b", "c", "it's"))) == [1, 1, 1, 1]


def test_events_after_the_refresh_are_counted(pair: Pair) -> None:
    """After the refresh: u1's b on a new day, u2's b on a day the table holds (that day
    is read from events, whole: not once from each), u3 (no number yet) does a and b."""
    pair.load([ev("u1", "a", utc("2024-01-02 10:00")), ev("u2", "a", utc("2024-01-03 10:00"))])
    pair.refresh()
    pair.load(
        [
            ev("u1", "b", utc("2024-01-04 10:00")),
            ev("u2", "b", utc("2024-01-03 11:00")),
            ev("u3", "a", utc("2024-01-05 10:00")),
            ev("u3", "b", utc("2024-01-05 10:01")),
        ]
    )
    view = pair.fast.event_timelines_view(1)
    assert view is not None and view.dirty == {date(2024, 1, d) for d in (3, 4, 5)}
    known = pair.fast.query("SELECT CAST(person_id AS VARCHAR) AS p FROM timeline_persons")
    assert pid("u3") not in known.column("p").to_pylist()
    r = pair.funnel(fq("a", "b"))
    assert counts(r) == [3, 3]
    assert times(r) == [(3600.0, (172800.0 + 3600.0 + 60.0) / 3)]


def test_step_one_after_the_range_is_no_entry(pair: Pair) -> None:
    """Step-1 events past the entry range (but inside the window) are read for nobody's
    entry, whether they come from the table, from a marked day, or as a merged person's
    rows: only u1, who entered on the range's last day, counts."""
    pair.load(
        [
            *day_of("u1", "a 23:00", day="2024-01-07"),
            *day_of("u1", "b 01:00", day="2024-01-08"),
            *day_of("u2", "a 10:00", "b 11:00", day="2024-01-09"),  # clean day
            *day_of("anon", "a 10:00", day="2024-01-09"),
        ]
    )
    pair.refresh()
    pair.load(
        [
            *day_of("u3", "a 10:00", "b 11:00", day="2024-01-08"),  # marked day
            *day_of("user", "b 11:00", day="2024-01-09"),
        ],
        merges={"anon": "user"},  # anon's clean-day a moves to user
    )
    assert counts(pair.funnel(fq("a", "b"))) == [1, 1]
    # Step 1's name as a later step too: read up to the window end, still no entries.
    assert counts(pair.funnel(fq("a", "b", "a"))) == [1, 1, 0]


# ---- which questions and stores take the fast path -----------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"breakdown": {"property": "plan"}},
        {"filters": [{"key": "plan", "value": "pro"}]},
        {"steps": [{"event": "a", "filters": [{"key": "plan", "value": "pro"}]}, {"event": "b"}]},
        {
            "exclusions": [
                {
                    "event": "x",
                    "from_step": 1,
                    "to_step": 2,
                    "filters": [{"key": "plan", "value": "pro"}],
                }
            ]
        },
        {"mode": "strict"},
        {"mode": "unordered"},
    ],
    ids=["breakdown", "filters", "step-filters", "exclusion-filters", "strict", "unordered"],
)
def test_other_shapes_run_the_sql(pair: Pair, change: dict[str, Any]) -> None:
    """Whatever the fast path cannot express goes to the SQL, on a refreshed store too."""
    pair.load(
        [ev("u1", "a", utc("2024-01-02 10:00"), plan="pro"), ev("u1", "b", utc("2024-01-02 10:01"))]
    )
    pair.refresh()
    plain = fq("a", "b")
    assert answerable(plain) and best_from_timelines(pair.fast, pair.ctx, plain) is not None
    q = FunnelQuery(**{**plain.model_dump(), **change})
    assert not answerable(q)
    assert best_from_timelines(pair.fast, pair.ctx, q) is None
    assert run_funnel(pair.fast, pair.ctx, q) == run_funnel(pair.plain, pair.ctx, q)


def test_a_store_never_refreshed_runs_the_sql() -> None:
    store = _store()
    try:
        ctx = ProjectContext(project_id=1, timezone="UTC")
        load(
            store, [ev("u1", "a", utc("2024-01-02 10:00")), ev("u1", "b", utc("2024-01-02 10:01"))]
        )
        assert store.event_timelines_view(1) is None
        assert best_from_timelines(store, ctx, fq("a", "b")) is None
        assert counts(run_funnel(store, ctx, fq("a", "b"))) == [1, 1]
    finally:
        store.close()


def test_clickhouse_runs_the_sql() -> None:
    store = make_store("clickhouse")
    try:
        ctx = ProjectContext(project_id=1, timezone="UTC")
        load(
            store, [ev("u1", "a", utc("2024-01-02 10:00")), ev("u1", "b", utc("2024-01-02 10:01"))]
        )
        assert best_from_timelines(store, ctx, fq("a", "b")) is None
        assert counts(run_funnel(store, ctx, fq("a", "b"))) == [1, 1]
    finally:
        store.close()


# ---- persons in several blocks -------------------------------------------------------------

# read_blocks reads persons in blocks of 2 ** (63 - bits) numbers, ``bits`` covering the
# range plus the window: more than one block needs a range of thousands of years. There
# is no module-level size to lower, so the test asks read_blocks for keys of 61 bits
# (blocks of 4 persons) and repacks them to the bits the walk expects.
BIG = 61


def _decoded(blocks: list[KeyBlock], bits: int) -> list[tuple[str, int, int]]:
    """(event name, person number, µs from start) of every key of every block, sorted."""
    out = []
    for b in blocks:
        for name, keys in b.keys.items():
            out += [(name, b.base + (k >> bits), k & ((1 << bits) - 1)) for k in keys.tolist()]
    return sorted(out)


def test_persons_split_into_blocks(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve persons (blocks of 4), a merge across blocks after the refresh, marked-day
    events and a person numbered at query time: the keys read block by block are the
    keys read at once, and the funnel is the SQL's."""
    rnd = random.Random(7)
    day = datetime(2024, 1, 2, tzinfo=UTC)
    history = [
        ev(f"u{i}", rnd.choice("abc"), day + timedelta(minutes=rnd.randrange(3 * 24 * 60)))
        for i in range(12)
        for _ in range(6)
    ]
    pair.load(history)
    pair.refresh()
    later = [ev(f"u{i}", rnd.choice("abc"), day + timedelta(hours=20 + i)) for i in (1, 9, 12)]
    pair.load(later, merges={"u1": "u10"})  # u12 first seen now: no number yet
    view = pair.fast.event_timelines_view(1)
    assert view is not None and view.dirty
    q = fq("a", "b", "c", window=1, window_unit="days")
    start, end = pair.ctx.day_range_utc(date(2024, 1, 1), date(2024, 1, 7))
    lo, hi = micros(start), micros(end) + q.window_seconds * 1_000_000
    bits = (hi - lo).bit_length()
    ranges = {n: (lo, hi) for n in "abc"}
    whole = list(read_blocks(pair.fast, pair.ctx, view, ranges, bits))
    split = list(read_blocks(pair.fast, pair.ctx, view, ranges, BIG))
    assert len(whole) == 1 and [b.base for b in split] == [0, 4, 8, 12]
    assert _decoded(split, BIG) == _decoded(whole, bits)
    unsplit = pair.funnel(q)

    seen: list[int] = []

    def small_blocks(*args: Any) -> Iterator[KeyBlock]:
        *rest, bits = args
        for b in timeline_source.read_blocks(*rest, BIG):
            seen.append(b.base)
            repacked = {n: ((k >> BIG) << bits) | (k & ((1 << BIG) - 1)) for n, k in b.keys.items()}
            yield KeyBlock(b.base, repacked)

    monkeypatch.setattr(funnel_timelines, "read_blocks", small_blocks)
    assert pair.funnel(q).model_dump() == _approx(unsplit.model_dump())
    assert sorted(set(seen)) == [0, 4, 8, 12]
    assert np.all(counts(unsplit))  # the funnel is not trivially empty


# ---- the walk alone, against a plain reference ---------------------------------------------

# Keys as the table and the reader give them: (person << BITS) | µs from the start.
BITS = 10
MASK = (1 << BITS) - 1
ENTRY_END = 300  # entries are the step-1 keys before this; later steps lie up to 399


def _reference(
    keys: dict[str, list[int]],
    steps: list[str],
    exclusions: list[tuple[str, int, int]],
    window: int,
) -> list[tuple[int, int, list[int]]]:
    """docs/metrics.md's ordered funnel, written plainly: (person, reached, matched
    times) of each counted person's best attempt."""

    def of(name: str, person: int) -> list[int]:
        return sorted(k & MASK for k in keys[name] if k >> BITS == person)

    out = []
    for person in sorted({k >> BITS for k in keys[steps[0]] if k & MASK < ENTRY_END}):
        best: list[int] = []
        excluded = False
        for entry in (t for t in of(steps[0], person) if t < ENTRY_END):
            matched = [entry]
            for step in steps[1:]:
                later = [t for t in of(step, person) if t > matched[-1]]
                if not later or later[0] > entry + window:
                    break
                matched.append(later[0])
            for name, a, b in exclusions:
                between = (
                    [t for t in of(name, person) if matched[a - 1] < t] if len(matched) >= b else []
                )
                excluded |= any(t < matched[b - 1] for t in between)
            if len(matched) > len(best):  # entries in time order: the earliest wins ties
                best = matched
        if not excluded:
            out.append((person, len(best), best))
    return out


def _in_runs(keys: list[int], rnd: random.Random, cuts: list[int]) -> np.ndarray:
    """The keys cut into runs (each sorted, each across persons, like the table's month
    and refresh runs and the extra rows), the runs in a random order."""
    rnd.shuffle(keys)
    bounds = sorted({0, len(keys), *(c for c in cuts if c < len(keys))})
    runs = [sorted(keys[a:b]) for a, b in itertools.pairwise(bounds)]
    rnd.shuffle(runs)
    return np.array([k for r in runs for k in r], dtype=np.int64)


# Four persons, times up to 400 µs (window at most 300: every key fits in BITS).
_keys = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 399)), min_size=4, max_size=40).map(
    lambda pairs: [(p << BITS) | t for p, t in pairs]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.fixed_dictionaries({n: _keys for n in NAMES}),
    steps=st.lists(st.sampled_from(NAMES), min_size=2, max_size=4),
    raw_exclusions=st.lists(
        st.tuples(st.sampled_from(NAMES), st.integers(1, 3), st.integers(1, 3)), max_size=2
    ),
    window=st.sampled_from([1, 5, 30, 100, 300]),
    rnd=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    split=st.booleans(),
)
def test_walk_equals_the_reference(
    keys: dict[str, list[int]],
    steps: list[str],
    raw_exclusions: list[tuple[str, int, int]],
    window: int,
    rnd: random.Random,
    cuts: list[int],
    split: bool,
) -> None:
    """``best_of_block`` on keys arriving as several sorted runs in any order (and, with
    ``split``, persons walked in several threads) equals the plain definition."""
    n = len(steps)
    exclusions = [(x, a, b) for x, a, b in raw_exclusions if a < b <= n]
    arrays = {name: _in_runs(list(k), rnd, cuts) for name, k in keys.items()}
    entries = arrays[steps[0]][(arrays[steps[0]] & MASK) < ENTRY_END]
    with (
        mock.patch.object(funnel_arrays, "_SPLIT_FROM", 1 if split else funnel_arrays._SPLIT_FROM),
        mock.patch.object(funnel_arrays, "_THREADS", 3 if split else funnel_arrays._THREADS),
    ):
        got = funnel_arrays.best_of_block(
            entries,
            [arrays[s] for s in steps[1:]],
            [funnel_arrays.Exclusion(arrays[x], a, b) for x, a, b in exclusions],
            window,
            BITS,
        )
    rows = [
        (int(p), int(r), [int(t) & MASK for t in times[:r]])
        for p, r, times in zip(got.pk, got.reached, got.times, strict=True)
    ]
    assert rows == _reference(keys, steps, exclusions, window)


@pytest.mark.parametrize("split", [False, True])
def test_walk_reaches_the_top_of_the_key_space(split: bool) -> None:
    """The largest person numbers of a block give keys at and above 2**62; they are
    walked like any other (a cut at 2**62 once dropped them)."""
    first = (1 << (63 - BITS)) - 4  # the block's last four person numbers
    persons = range(first, first + 4)
    a = np.array([(p << BITS) | 1 for p in persons], dtype=np.int64)
    b = np.array([(p << BITS) | (5 + i) for i, p in enumerate(persons)], dtype=np.int64)
    assert int(a[-1]) >= 1 << 62
    with (
        mock.patch.object(funnel_arrays, "_SPLIT_FROM", 1 if split else funnel_arrays._SPLIT_FROM),
        mock.patch.object(funnel_arrays, "_THREADS", 2 if split else funnel_arrays._THREADS),
    ):
        got = funnel_arrays.best_of_block(a, [b], [], 100, BITS)
    assert got.pk.tolist() == list(persons)
    assert got.reached.tolist() == [2, 2, 2, 2]
    assert [int(t) & MASK for t in got.times[:, 1]] == [5, 6, 7, 8]
