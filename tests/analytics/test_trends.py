"""Trends: hand-computed cases on both engines, an engine comparison, and a property test."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.factories import ev, load
from yunying.analytics.context import ProjectContext
from yunying.analytics.trends import TrendsQuery, TrendsResult, build_trends_sql, run_trends
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)


def q(*series: Any, date_from: str, date_to: str, **kw: Any) -> TrendsQuery:
    sel = [{"event": s} if isinstance(s, str) else s for s in series]
    return TrendsQuery(series=sel, date_range={"date_from": date_from, "date_to": date_to}, **kw)


def lines(r: TrendsResult) -> dict[Any, tuple[list[Any], Any]]:
    """(series label, breakdown value) → (values, aggregate)."""
    return {(s.label, s.breakdown_value): (s.values, s.aggregate) for s in r.series}


def test_local_day_boundary_decides_the_day(store: EventStore) -> None:
    # 23:30 and 00:30 Asia/Shanghai are 15:30 and 16:30 UTC on the same UTC day.
    load(store, [ev("a", "pv", "2024-01-01 23:30"), ev("a", "pv", "2024-01-02 00:30")])
    query = q("pv", date_from="2024-01-01", date_to="2024-01-02")
    r = run_trends(store, CTX, query)
    assert r.series[0].periods == [date(2024, 1, 1), date(2024, 1, 2)]
    assert r.series[0].values == [1, 1]
    utc = run_trends(store, ProjectContext(project_id=1, timezone="UTC"), query)
    assert utc.series[0].values == [2, 0]


def test_range_bounds_are_local_days(store: EventStore) -> None:
    # 2024-01-03 00:10 local is still 2024-01-02 UTC, but outside the local range.
    load(store, [ev("a", "pv", "2023-12-31 23:59"), ev("a", "pv", "2024-01-03 00:10")])
    load(store, [ev("a", "pv", "2024-01-01 00:00"), ev("a", "pv", "2024-01-02 23:59")])
    r = run_trends(store, CTX, q("pv", date_from="2024-01-01", date_to="2024-01-02"))
    assert r.series[0].values == [1, 1]
    assert r.series[0].aggregate == 2


def test_hour_interval(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 00:10"),
            ev("a", "pv", "2024-01-01 00:50"),
            ev("b", "pv", "2024-01-01 23:59"),
            ev("b", "pv", "2024-01-02 05:00"),
        ],
    )
    r = run_trends(
        store, CTX, q("pv", date_from="2024-01-01", date_to="2024-01-02", interval="hour")
    )
    s = r.series[0]
    assert len(s.periods) == 48
    assert s.periods[0] == datetime(2024, 1, 1, 0, 0)
    assert s.periods[29] == datetime(2024, 1, 2, 5, 0)
    assert {i: v for i, v in enumerate(s.values) if v} == {0: 2, 23: 1, 29: 1}
    u = run_trends(
        store,
        CTX,
        q(
            "pv",
            date_from="2024-01-01",
            date_to="2024-01-02",
            interval="hour",
            math="unique_persons",
        ),
    )
    assert {i: v for i, v in enumerate(u.series[0].values) if v} == {0: 1, 23: 1, 29: 1}
    assert u.series[0].aggregate == 2


@pytest.mark.parametrize(
    ("week_start", "periods", "values"),
    [
        (1, [date(2024, 1, 1), date(2024, 1, 8)], [2, 1]),  # Monday weeks
        (7, [date(2023, 12, 31), date(2024, 1, 7)], [1, 2]),  # Sunday weeks
    ],
)
def test_week_start(
    store: EventStore, week_start: int, periods: list[date], values: list[int]
) -> None:
    # Sat 6th, Sun 7th, Mon 8th 00:30 local (= Sunday 16:30 UTC).
    load(
        store,
        [
            ev("a", "pv", "2024-01-06 12:00"),
            ev("a", "pv", "2024-01-07 12:00"),
            ev("a", "pv", "2024-01-08 00:30"),
        ],
    )
    ctx = ProjectContext(project_id=1, week_start=week_start)
    r = run_trends(
        store, ctx, q("pv", date_from="2024-01-06", date_to="2024-01-08", interval="week")
    )
    assert r.series[0].periods == periods
    assert r.series[0].values == values


def test_month_interval_local_boundary(store: EventStore) -> None:
    # Both are 2024-01-31 in UTC; locally one is January, one February.
    load(store, [ev("a", "pv", "2024-01-31 23:30"), ev("a", "pv", "2024-02-01 00:30")])
    r = run_trends(
        store, CTX, q("pv", date_from="2024-01-15", date_to="2024-02-10", interval="month")
    )
    assert r.series[0].periods == [date(2024, 1, 1), date(2024, 2, 1)]
    assert r.series[0].values == [1, 1]


def test_identity_merge_counts_one_person(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 10:00"),
            ev("a2", "pv", "2024-01-01 11:00"),
            ev("b", "pv", "2024-01-01 12:00"),
            ev("a2", "pv", "2024-01-02 10:00"),
        ],
        merges={"a2": "a"},
    )
    total = run_trends(store, CTX, q("pv", date_from="2024-01-01", date_to="2024-01-02"))
    assert lines(total) == {("pv", None): ([3, 1], 4)}
    uniq = run_trends(
        store, CTX, q("pv", date_from="2024-01-01", date_to="2024-01-02", math="unique_persons")
    )
    # The range total is distinct persons over the range (a, b), not 2 + 1.
    assert lines(uniq) == {("pv", None): ([2, 1], 2)}


@pytest.mark.parametrize(
    ("math", "values", "aggregate"),
    [
        ("sum", [30.0, 0.0, 4.5], 34.5),
        ("avg", [15.0, None, 2.25], 8.625),
        ("min", [10.0, None, 1.5], 1.5),
        ("max", [20.0, None, 3.0], 20.0),
        ("median", [15.0, None, 2.25], 6.5),
    ],
)
def test_numeric_property_math(
    store: EventStore, math: str, values: list[float | None], aggregate: float
) -> None:
    load(
        store,
        [
            ev("a", "buy", "2024-01-01 10:00", amount=10),
            ev("b", "buy", "2024-01-01 11:00", amount=20),
            ev("a", "buy", "2024-01-01 12:00", amount="abc"),  # not a number: ignored
            ev("b", "buy", "2024-01-01 13:00"),  # missing: ignored
            ev("a", "buy", "2024-01-03 10:00", amount=3),
            ev("a", "buy", "2024-01-03 11:00", amount=1.5),
        ],
    )
    r = run_trends(
        store,
        CTX,
        q("buy", date_from="2024-01-01", date_to="2024-01-03", math=math, math_property="amount"),
    )
    assert r.series[0].values == values
    assert r.series[0].aggregate == aggregate


def test_sum_of_promoted_revenue(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pay", "2024-01-01 10:00", **{"$revenue": 9.5}),
            ev("b", "pay", "2024-01-01 11:00", **{"$revenue": 0.5}),
            ev("b", "pay", "2024-01-02 11:00", **{"$revenue": 2}),
        ],
    )
    r = run_trends(
        store,
        CTX,
        q(
            "pay",
            date_from="2024-01-01",
            date_to="2024-01-02",
            math="sum",
            math_property="$revenue",
        ),
    )
    assert lines(r) == {("pay", None): ([10.0, 2.0], 12.0)}


def test_series_and_global_filters(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 10:00", plan="pro"),
            ev("b", "pv", "2024-01-01 10:00", plan="free"),
            ev("c", "pv", "2024-01-01 10:00"),
            ev("a", "buy", "2024-01-01 10:00", plan="pro"),
            ev("c", "buy", "2024-01-01 10:00"),
        ],
        person_props={"a": {"country": "CN"}, "b": {"country": "CN"}, "c": {"country": "US"}},
    )
    pro = {"event": "pv", "name": "pro views", "filters": [{"key": "plan", "value": "pro"}]}
    d = {"date_from": "2024-01-01", "date_to": "2024-01-01"}
    r = run_trends(store, CTX, q(pro, "buy", **d))
    assert lines(r) == {("pro views", None): ([1], 1), ("buy", None): ([2], 2)}
    is_set = [{"key": "plan", "operator": "is_set"}]
    r = run_trends(store, CTX, q(pro, "buy", filters=is_set, **d))
    assert lines(r) == {("pro views", None): ([1], 1), ("buy", None): ([1], 1)}
    cn = [{"key": "country", "value": "CN", "type": "person"}]
    assert lines(run_trends(store, CTX, q("pv", filters=cn, **d))) == {("pv", None): ([2], 2)}
    # neq also matches events without the property.
    neq = [{"key": "plan", "operator": "neq", "value": "pro"}]
    assert lines(run_trends(store, CTX, q("pv", filters=neq, **d))) == {("pv", None): ([2], 2)}


def test_breakdown_top_values_other_and_none(store: EventStore) -> None:
    day1 = ["x", "x", "y", "z", None]
    day2 = ["x", "y", None]
    events = [
        ev(f"u{i}", "pv", f"2024-01-0{day} 12:00", **({} if c is None else {"channel": c}))
        for day, chans in ((1, day1), (2, day2))
        for i, c in enumerate(chans)
    ]
    load(store, events)
    r = run_trends(
        store,
        CTX,
        q(
            "pv",
            date_from="2024-01-01",
            date_to="2024-01-02",
            breakdown={"property": "channel", "limit": 2},
        ),
    )
    assert [s.breakdown_value for s in r.series] == ["x", "y", "$other", "$none"]
    assert lines(r) == {
        ("pv", "x"): ([2, 1], 3),
        ("pv", "y"): ([1, 1], 2),
        ("pv", "$other"): ([1, 0], 1),
        ("pv", "$none"): ([1, 1], 2),
    }


def test_breakdown_numeric_values_as_text(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 12:00", level=1),
            ev("b", "pv", "2024-01-01 12:00", level=1),
            ev("c", "pv", "2024-01-01 12:00", level=2.5),
        ],
    )
    r = run_trends(
        store,
        CTX,
        q("pv", date_from="2024-01-01", date_to="2024-01-01", breakdown={"property": "level"}),
    )
    assert lines(r) == {("pv", "1"): ([2], 2), ("pv", "2.5"): ([1], 1)}


def test_breakdown_by_person_property_after_merge(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-01 10:00"),
            ev("a2", "pv", "2024-01-01 11:00"),
            ev("b", "pv", "2024-01-01 12:00"),
            ev("c", "pv", "2024-01-01 13:00"),  # no person row at all
        ],
        merges={"a2": "a"},
        person_props={"a": {"plan": "pro"}, "b": {}},
    )
    d = {"date_from": "2024-01-01", "date_to": "2024-01-01"}
    bd = {"property": "plan", "type": "person"}
    r = run_trends(store, CTX, q("pv", breakdown=bd, **d))
    assert lines(r) == {("pv", "pro"): ([2], 2), ("pv", "$none"): ([2], 2)}
    r = run_trends(store, CTX, q("pv", breakdown=bd, math="unique_persons", **d))
    assert lines(r) == {("pv", "pro"): ([1], 1), ("pv", "$none"): ([2], 2)}


def test_hostile_names_are_quoted(store: EventStore) -> None:
    name, key, value = 'it\'s \\ "x"', "k'ey\\", "v'al\\"
    load(
        store,
        [ev("a", name, "2024-01-01 10:00", **{key: value}), ev("b", name, "2024-01-01 10:00")],
    )
    d = {"date_from": "2024-01-01", "date_to": "2024-01-01"}
    r = run_trends(store, CTX, q(name, breakdown={"property": key}, **d))
    assert lines(r) == {(name, value): ([1], 1), (name, "$none"): ([1], 1)}
    r = run_trends(store, CTX, q(name, filters=[{"key": key, "value": value}], **d))
    assert lines(r) == {(name, None): ([1], 1)}


def test_empty_range(store: EventStore) -> None:
    d = {"date_from": "2024-01-01", "date_to": "2024-01-03"}
    assert lines(run_trends(store, CTX, q("pv", **d))) == {("pv", None): ([0, 0, 0], 0)}
    avg = run_trends(store, CTX, q("pv", math="avg", math_property="x", **d))
    assert lines(avg) == {("pv", None): ([None, None, None], None)}
    assert run_trends(store, CTX, q("pv", breakdown={"property": "x"}, **d)).series == []


def test_query_model() -> None:
    with pytest.raises(ValidationError):
        TrendsQuery(series=[{"event": "buy"}], math="sum")
    with pytest.raises(ValidationError):
        TrendsQuery(series=[])
    assert TrendsQuery(series=[{"event": "pv"}]).kind == "trends"
    assert "math_property" in TrendsQuery.model_json_schema()["properties"]


# ---- engines agree on a random dataset ----------------------------------------------


def random_events(seed: int, n: int = 300, days: int = 40) -> tuple[list[Any], dict[str, str]]:
    rnd = random.Random(seed)
    events = []
    for _ in range(n):
        props: dict[str, Any] = {}
        if rnd.random() < 0.8:
            props["channel"] = rnd.choice(["seo", "ads", "mail", "social", "direct"])
        if rnd.random() < 0.7:
            props["amount"] = rnd.choice([1, 2.5, 10, 99.9, 0])
        when = datetime(2024, 3, 1, 0, 0) + timedelta(minutes=rnd.randrange(days * 24 * 60))
        events.append(
            ev(
                f"u{rnd.randrange(25)}",
                rnd.choice(["pv", "buy", "share"]),
                when.strftime("%Y-%m-%d %H:%M"),
                **props,
            )
        )
    merges = {f"u{i}": f"u{i + 1}" for i in range(0, 10, 3)}
    return events, merges


def rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return obj


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    events, merges = random_events(7)
    props = {f"u{i}": {"plan": "pro" if i % 2 else "free"} for i in range(0, 25, 3)}
    for s in both:
        load(s, events, merges=merges, person_props=props)
    d = {"date_from": "2024-03-03", "date_to": "2024-04-05"}
    queries = [
        q("pv", "buy", **d),
        q("pv", math="unique_persons", interval="week", **d),
        q(
            "buy",
            math="avg",
            math_property="amount",
            breakdown={"property": "channel", "limit": 3},
            **d,
        ),
        q("buy", math="median", math_property="amount", interval="month", **d),
        q(
            "pv",
            "share",
            breakdown={"property": "plan", "type": "person"},
            math="unique_persons",
            **d,
        ),
        q(
            "pv",
            math="sum",
            math_property="amount",
            interval="hour",
            date_from="2024-03-10",
            date_to="2024-03-16",
        ),
    ]
    for query in queries:
        a, b = (run_trends(s, CTX, query).model_dump() for s in both)
        assert rounded(a) == rounded(b)
        assert a["series"] and any(v for line in a["series"] for v in line["values"])


def test_sql_has_no_user_text_unquoted() -> None:
    from yunying.store.dialect import ClickHouseDialect, DuckDBDialect

    query = q("pv'; DROP TABLE events; --", date_from="2024-01-01", date_to="2024-01-02")
    for dialect in (DuckDBDialect(), ClickHouseDialect()):
        sql = build_trends_sql(dialect, CTX, query)
        assert "'pv''; DROP" in sql or "'pv\\'; DROP" in sql


# ---- property: the range total of counts is the sum of the periods ------------------

_project = itertools.count(1000)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 4),  # person
            st.integers(0, 9),  # local day offset
            st.integers(0, 23),  # local hour
            st.one_of(st.none(), st.integers(0, 50)),  # amount
        ),
        max_size=30,
    ),
    interval=st.sampled_from(["day", "week", "month"]),
)
def test_range_total_is_sum_of_periods(
    store: EventStore, rows: list[tuple[int, int, int, int | None]], interval: str
) -> None:
    project = next(_project)
    ctx = ProjectContext(project_id=project)
    start = date(2024, 2, 25)
    events = [
        ev(
            f"p{p}",
            "pv",
            f"{start + timedelta(days=d)} {h:02d}:15",
            project_id=project,
            **({} if amount is None else {"amount": amount}),
        )
        for p, d, h, amount in rows
    ]
    load(store, events, project_id=project)
    d = {"date_from": str(start), "date_to": str(start + timedelta(days=9)), "interval": interval}
    total = run_trends(store, ctx, q("pv", **d)).series[0]
    assert total.aggregate == sum(total.values) == len(rows)
    per_day = [sum(1 for r in rows if r[1] == i) for i in range(10)]
    if interval == "day":
        assert total.values == per_day
    summed = run_trends(store, ctx, q("pv", math="sum", math_property="amount", **d)).series[0]
    assert summed.aggregate == pytest.approx(sum(v or 0 for v in summed.values))
    assert summed.aggregate == pytest.approx(sum(r[3] or 0 for r in rows))
    uniq = run_trends(store, ctx, q("pv", math="unique_persons", **d)).series[0]
    assert uniq.aggregate == len({r[0] for r in rows})
    assert max(uniq.values) <= uniq.aggregate <= sum(uniq.values)
