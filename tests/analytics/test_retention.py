"""Retention on hand-computed cases (both engines), a cross-engine random check and a
property test against a tiny Python reference implementation."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import at, ev, load
from yunying.analytics import retention, retention_masks
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.retention import (
    RetentionQuery,
    dn_cells,
    period_floor,
    retention_counts,
    retention_rate,
    retention_rates,
    run_retention,
)

CTX = ProjectContext(project_id=1)


@pytest.fixture(autouse=True, params=["person_masks", "masks", "join"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case three ways (see analytics/retention_masks.py): cohorts read off the
    persons' return masks (the default when the return event is the start event, without
    a breakdown), cohort rows joined to a 64-bit return mask per person (other spans that
    fit), and the self-join that longer spans use."""
    if request.param != "person_masks":
        monkeypatch.setattr(retention, "cohorts_are_returns", lambda q: False)
    if request.param == "join":
        monkeypatch.setattr(retention_masks, "MASK_BITS", 0)
    return str(request.param)


LATER = date(2030, 1, 1)  # "today" far after the data: every column complete


def q(**kw) -> RetentionQuery:
    kw.setdefault("start_event", {"event": "signup"})
    kw.setdefault("date_range", {"date_from": "2024-01-01", "date_to": "2024-01-03"})
    kw.setdefault("periods", 3)
    return RetentionQuery(**kw)


def table(result) -> list[tuple[str, list[int]]]:
    return [(c.period_start.isoformat(), c.counts) for c in result.cohorts]


MIXED = [
    ev("a", "signup", "2024-01-01 10:00"),
    ev("a", "signup", "2024-01-02 10:00"),
    ev("b", "signup", "2024-01-01 23:30"),
    ev("b", "signup", "2024-01-03 00:10"),
    ev("c", "signup", "2023-12-30 10:00"),  # active before the range
    ev("c", "signup", "2024-01-02 10:00"),
]


def test_recurring_vs_first_time(store):
    load(store, MIXED)
    rec = run_retention(store, CTX, q(retention_type="recurring"), today=LATER)
    assert table(rec) == [
        ("2024-01-01", [2, 1, 1, 0]),
        ("2024-01-02", [2, 0, 0, 0]),
        ("2024-01-03", [1, 0, 0, 0]),
    ]
    first = run_retention(store, CTX, q(retention_type="first_time"), today=LATER)
    # c's first ever signup is 2023-12-30: no cohort in range; a counts only on 01-01.
    assert table(first) == [
        ("2024-01-01", [2, 1, 1, 0]),
        ("2024-01-02", [0, 0, 0, 0]),
        ("2024-01-03", [0, 0, 0, 0]),
    ]
    assert first.average.percentages == [100.0, 50.0, 50.0, 0.0]
    assert rec.average.sizes == [5, 5, 5, 5]
    assert rec.average.percentages == pytest.approx([100.0, 20.0, 20.0, 0.0])
    assert rec.cohorts[0].percentages == [100.0, 50.0, 50.0, 0.0]


def test_return_event_differs_from_start(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-01 10:00"),
            ev("a", "signup", "2024-01-02 10:00"),  # a start event is not a return
            ev("a", "buy", "2024-01-03 10:00"),
            ev("b", "signup", "2024-01-01 10:00"),
            ev("b", "buy", "2024-01-01 12:00"),  # same period: not column 1
        ],
    )
    r = run_retention(store, CTX, q(return_event={"event": "buy"}), today=LATER)
    assert table(r)[0] == ("2024-01-01", [2, 0, 1, 0])


def test_time_zone_decides_day_boundaries(store):
    # 23:30 and 00:30 Shanghai time are two days there but one UTC day (15:30, 16:30 UTC).
    load(store, [ev("a", "signup", "2024-01-01 23:30"), ev("a", "signup", "2024-01-02 00:30")])
    sh = run_retention(store, CTX, q(periods=1), today=LATER)
    assert table(sh)[:2] == [("2024-01-01", [1, 1]), ("2024-01-02", [1, 0])]
    utc = ProjectContext(project_id=1, timezone="UTC")
    r = run_retention(store, utc, q(periods=1), today=LATER)
    assert table(r)[:2] == [("2024-01-01", [1, 0]), ("2024-01-02", [0, 0])]


def test_week_start_monday_vs_sunday(store):
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday.
    load(store, [ev("a", "signup", "2024-01-07 12:00"), ev("a", "signup", "2024-01-08 12:00")])
    week = {"period": "week", "periods": 1}
    rng = {"date_from": "2024-01-07", "date_to": "2024-01-07"}
    mon = run_retention(store, CTX, q(date_range=rng, **week), today=LATER)
    assert table(mon) == [("2024-01-01", [1, 1])]
    sun_ctx = ProjectContext(project_id=1, week_start=7)
    sun = run_retention(store, sun_ctx, q(date_range=rng, **week), today=LATER)
    assert table(sun) == [("2024-01-07", [1, 0])]


def test_month_periods(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-31 23:00"),
            ev("a", "signup", "2024-03-01 00:30"),
            ev("b", "signup", "2024-02-01 00:10"),  # 2024-01-31 16:10 UTC: still February here
        ],
    )
    rng = {"date_from": "2024-01-15", "date_to": "2024-02-15"}
    r = run_retention(store, CTX, q(period="month", periods=2, date_range=rng), today=LATER)
    assert table(r) == [("2024-01-01", [1, 0, 1]), ("2024-02-01", [1, 0, 0])]


def test_identity_merge_counts_one_person(store):
    load(
        store,
        [
            ev("anon-1", "signup", "2024-01-01 09:00"),
            ev("user-1", "signup", "2024-01-01 10:00"),
            ev("user-1", "signup", "2024-01-02 10:00"),
        ],
        merges={"anon-1": "user-1"},
    )
    r = run_retention(store, CTX, q(retention_type="first_time"), today=LATER)
    assert table(r)[0] == ("2024-01-01", [1, 1, 0, 0])


def test_on_versus_within(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-01 10:00"),
            ev("a", "signup", "2024-01-02 10:00"),
            ev("a", "signup", "2024-01-04 10:00"),
            ev("b", "signup", "2024-01-01 10:00"),
            ev("b", "signup", "2024-01-03 10:00"),
        ],
    )
    one_day = {"date_from": "2024-01-01", "date_to": "2024-01-01"}
    on = run_retention(store, CTX, q(date_range=one_day, mode="on"), today=LATER)
    within = run_retention(store, CTX, q(date_range=one_day, mode="within"), today=LATER)
    assert table(on) == [("2024-01-01", [2, 1, 1, 1])]
    assert table(within) == [("2024-01-01", [2, 1, 2, 2])]


def test_breakdown_by_event_property_uses_first_start_event(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-01 10:00", plan="free"),
            ev("a", "signup", "2024-01-01 11:00", plan="pro"),
            ev("a", "signup", "2024-01-02 11:00", plan="pro"),
            ev("b", "signup", "2024-01-01 12:00", plan="pro"),
            ev("c", "signup", "2024-01-01 12:00"),
        ],
    )
    r = run_retention(
        store, CTX, q(periods=1, breakdown={"property": "plan"}), today=date(2024, 1, 3)
    )
    got = {(c.breakdown_value, c.period_start.isoformat()): c.counts for c in r.cohorts}
    assert got == {
        ("free", "2024-01-01"): [1, 1],
        ("free", "2024-01-02"): [0, 0],
        ("free", "2024-01-03"): [0, 0],
        ("pro", "2024-01-01"): [1, 0],
        ("pro", "2024-01-02"): [1, 0],
        ("pro", "2024-01-03"): [0, 0],
        ("$none", "2024-01-01"): [1, 0],
        ("$none", "2024-01-02"): [0, 0],
        ("$none", "2024-01-03"): [0, 0],
    }
    # Ordered by total cohort size; the overall average pools every value.
    assert [a.breakdown_value for a in r.breakdown_averages] == ["pro", "$none", "free"]
    assert r.average.sizes[:2] == [4, 3]  # column 1 complete only for the 01-01 cohorts
    assert r.average.counts[:2] == [4, 1]


def test_breakdown_by_person_property_with_limit(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-01 10:00"),
            ev("a", "signup", "2024-01-02 10:00"),
            ev("b", "signup", "2024-01-01 10:00"),
            ev("c", "signup", "2024-01-01 10:00"),
            ev("d", "signup", "2024-01-01 10:00"),
        ],
        person_props={"a": {"city": "Beijing"}, "b": {"city": "Beijing"}, "c": {"city": "Xi'an"}},
    )
    bd = {"property": "city", "type": "person", "limit": 2}
    rng = {"date_from": "2024-01-01", "date_to": "2024-01-01"}
    r = run_retention(store, CTX, q(periods=1, date_range=rng, breakdown=bd), today=LATER)
    got = {c.breakdown_value: c.counts for c in r.cohorts}
    # Top 2 by size: Beijing (2), then a tie at 1 broken by name ("$none" < "Xi'an").
    assert got == {"Beijing": [2, 1], "$none": [1, 0], "$other": [1, 0]}


def test_incomplete_periods_left_out_of_average(store):
    load(
        store,
        [
            ev("a", "signup", "2024-01-01 10:00"),
            ev("a", "signup", "2024-01-02 10:00"),
            ev("b", "signup", "2024-01-02 10:00"),
            ev("b", "signup", "2024-01-03 10:00"),
        ],
    )
    r = run_retention(store, CTX, q(periods=2), today=date(2024, 1, 4))
    assert [c.complete for c in r.cohorts] == [
        [True, True, True],
        [True, True, False],  # column 2 is 2024-01-04: today, not over
        [True, False, False],
    ]
    assert r.average.sizes == [4, 3, 1]
    assert r.average.counts == [4, 2, 0]
    assert r.average.percentages == pytest.approx([100.0, 200 / 3, 0.0])


def test_empty_range_is_zero_filled(store):
    r = run_retention(store, CTX, q(period="week", periods=2), today=LATER)
    assert table(r) == [("2024-01-01", [0, 0, 0])]
    assert r.average.percentages == [None, None, None]


def test_retention_rate_d1_of_new_persons(store):
    load(
        store,
        [
            ev("a", "pageview", "2024-01-01 10:00"),
            ev("a", "click", "2024-01-02 23:59"),
            ev("b", "pageview", "2024-01-01 23:30"),
            ev("b", "pageview", "2024-01-03 00:10"),  # day 2, not day 1
            ev("c", "pageview", "2023-12-31 10:00"),  # not new in the range
            ev("c", "pageview", "2024-01-01 10:00"),
            ev("d", "pageview", "2024-01-03 10:00"),  # day 1 is 2024-01-04: not over yet
        ],
    )
    rng = DateRange(date_from=date(2024, 1, 1), date_to=date(2024, 1, 3))
    today = date(2024, 1, 4)
    assert retention_counts(store, CTX, start_event=None, days=1, date_range=rng, today=today) == (
        2,
        1,
    )
    assert retention_rate(store, CTX, start_event=None, days=1, date_range=rng, today=today) == 0.5
    d2 = retention_rate(store, CTX, start_event=None, days=2, date_range=rng, today=LATER)
    assert d2 == pytest.approx(1 / 3)
    only_click = retention_rate(
        store, CTX, start_event="pageview", return_event="click", days=1, date_range=rng,
        today=LATER,
    )  # fmt: skip
    assert only_click == pytest.approx(1 / 3)
    assert (
        retention_rate(store, CTX, start_event=None, days=30, date_range=rng, today=today) is None
    )


def _dn_reference(events, merges, start, ret, n, today) -> tuple[int, int]:
    """(eligible, retained) for first days 2024-01-03 … 01-20, counted in Python."""
    tz = ZoneInfo(CTX.timezone)
    firsts, back = {}, set()
    for e in sorted(events, key=lambda e: e.timestamp):
        person = merges.get(e.distinct_id, e.distinct_id)
        day = e.timestamp.astimezone(tz).date()
        if start in (None, e.event):
            firsts.setdefault(person, day)
        if ret in (None, e.event):
            back.add((person, day))
    last = min(date(2024, 1, 20), today - timedelta(days=n + 1))
    eligible = [p for p, d in firsts.items() if date(2024, 1, 3) <= d <= last]
    return len(eligible), sum((p, firsts[p] + timedelta(days=n)) in back for p in eligible)


def test_retention_rates_batch_equals_one_query_per_day(store):
    """``retention_rates`` answers several N in one query, as one N at a time and as a direct
    count over the events would."""
    events, merges = _random_events(3)
    load(store, events, merges=merges)
    rng = DateRange(date_from=date(2024, 1, 3), date_to=date(2024, 1, 20))
    today = date(2024, 1, 25)  # D7 is cut to first days up to 01-17, D30 has nobody
    for start, ret in ((None, None), ("signup", "buy")):
        batch = retention_rates(
            store,
            CTX,
            start_event=start,
            return_event=ret,
            days=[1, 7, 30],
            date_range=rng,
            today=today,
        )
        assert batch == {
            n: retention_counts(
                store,
                CTX,
                start_event=start,
                return_event=ret,
                days=n,
                date_range=rng,
                today=today,
            )
            for n in (1, 7, 30)
        }
        assert batch == {n: _dn_reference(events, merges, start, ret, n, today) for n in batch}
        assert batch[1][1] > 0 and batch[30] == (0, 0)
    with pytest.raises(ValueError, match="days"):
        retention_rates(store, CTX, start_event=None, days=[1, -1], date_range=rng)


def test_dn_cells_only_count_finished_days():
    cells = dn_cells({"c": (date(2024, 1, 1), date(2024, 1, 10))}, [1, 7], date(2024, 1, 9))
    assert [(c.days, c.date_to, c.empty) for c in cells] == [
        (1, date(2024, 1, 7), False),  # day 1 of 01-07 is 01-08, over by 01-09
        (7, date(2024, 1, 1), False),
    ]
    assert dn_cells({"c": (date(2024, 1, 5), date(2024, 1, 6))}, [7], date(2024, 1, 9))[0].empty


# ---- cross-engine random check -----------------------------------------------------------


def _random_events(seed: int) -> tuple[list, dict[str, str]]:
    rnd = random.Random(seed)
    people = [f"u{i}" for i in range(25)]
    base = datetime(2024, 1, 1, 0, 0)
    events, used = [], set()
    while len(events) < 300:
        second = rnd.randrange(0, 40 * 86400)
        if second in used:  # unique timestamps: "first event" is never a tie
            continue
        used.add(second)
        when = base + timedelta(seconds=second)
        name = rnd.choice(["signup", "signup", "login", "buy"])
        # A missing key, not JSON null: ClickHouseDialect.json_str reads null as 'null'.
        plan = rnd.choice(["free", "pro", None])
        props = {"plan": plan} if plan else {}
        events.append(ev(rnd.choice(people), name, when.strftime("%Y-%m-%d %H:%M:%S"), **props))
    merges = {f"u{i}": f"u{i + 1}" for i in range(0, 10, 2)}
    return events, merges


def test_engines_agree_on_random_data(both):
    duck, ch = both
    events, merges = _random_events(7)
    for s in (duck, ch):
        load(s, events, merges=merges)
    rng = {"date_from": "2024-01-03", "date_to": "2024-01-24"}
    variants = [
        q(retention_type=t, period=p, mode=m, periods=4, date_range=rng, breakdown=b)
        for t in ("recurring", "first_time")
        for p in ("day", "week")
        for m in ("on", "within")
        for b in (None, {"property": "plan"})
    ]
    variants.append(q(period="month", date_range=rng, return_event={"event": "buy"}))
    for v in variants:
        a = run_retention(duck, CTX, v, today=date(2024, 1, 20))
        b = run_retention(ch, CTX, v, today=date(2024, 1, 20))
        assert a == b, v
    total = run_retention(duck, CTX, variants[0], today=LATER)
    assert sum(c.size for c in total.cohorts) > 0


# ---- property test against a reference -------------------------------------------------


def reference(events: list[tuple[str, datetime]], query: RetentionQuery, week_start: int):
    """Retention computed the obvious way, in Python (dates local to Asia/Shanghai)."""
    tz = CTX.tz
    local = [(p, ts.astimezone(tz).date()) for p, ts in events]
    first_ever: dict[str, date] = {}
    for p, d in local:
        first_ever[p] = min(d, first_ever.get(p, d))
    d_from, d_to = query.date_range.resolve(CTX)
    per = query.period
    cohorts = sorted({period_floor(d_from, per, week_start), period_floor(d_to, per, week_start)})
    lo, hi = cohorts[0], cohorts[-1]
    active: dict[str, set[date]] = {}
    for p, d in local:
        active.setdefault(p, set()).add(period_floor(d, per, week_start))
    out = {}
    step = 7 if per == "week" else 1
    c = lo
    while c <= hi:
        if query.retention_type == "first_time":
            members = {p for p, d in first_ever.items() if period_floor(d, per, week_start) == c}
        else:
            members = {p for p, ps in active.items() if c in ps}
        cols = [len(members)]
        for k in range(1, query.periods + 1):
            want = {c + timedelta(days=step * j) for j in (range(1, k + 1) if query.mode ==
                    "within" else [k])}  # fmt: skip
            cols.append(sum(1 for p in members if active[p] & want))
        out[c] = cols
        c += timedelta(days=step)
    return out


event_st = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 20 * 24 * 60 - 1)),
    min_size=0,
    max_size=25,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    data=event_st,
    rtype=st.sampled_from(["recurring", "first_time"]),
    period=st.sampled_from(["day", "week"]),
    mode=st.sampled_from(["on", "within"]),
    week_start=st.sampled_from([1, 7]),
)
def test_matches_reference(data, rtype, period, mode, week_start):
    start = at("2024-01-01 00:00")
    events = [(p, start + timedelta(minutes=m)) for p, m in data]
    ctx = ProjectContext(project_id=1, week_start=week_start)
    query = q(
        retention_type=rtype,
        period=period,
        mode=mode,
        periods=3,
        date_range={"date_from": "2024-01-05", "date_to": "2024-01-12"},
    )
    store = make_store("duckdb")
    try:
        load(store, [ev(p, "signup", ts) for p, ts in events])
        got = run_retention(store, ctx, query, today=LATER)
    finally:
        store.close()
    expected = reference(events, query, week_start)
    assert {c.period_start: c.counts for c in got.cohorts} == expected
    for c in got.cohorts:
        assert all(n <= c.size for n in c.counts)
