"""Channel metrics: a hand-computed week on both engines (activation, D1/D7/D30 with local
day boundaries, paying, revenue window, costs → CAC and ROI), the invariant that channels
add up to all new persons (hypothesis), engine agreement on random data, and the pure
CAC/ROI arithmetic at zero."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import ev, load
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.context import ProjectContext
from yunying.people.channels import (
    TOTAL,
    ChannelQuery,
    ChannelReport,
    cost_by_channel,
    metrics,
    new_person_channels,
    run_channels,
)
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, activation_event="activate")
WEEK = {"date_from": "2024-01-08", "date_to": "2024-01-14"}
TODAY = date(2024, 3, 1)

DATA = [
    # a (ads): activates on day 1, back on day 1 and day 7, pays 10 on day 2, refunds 4 on day 40
    ev("a", "pageview", "2024-01-08 10:00", channel="ads"),
    ev("a", "activate", "2024-01-09 09:00"),
    ev("a", "pay", "2024-01-10 10:00", **{"$revenue": 10}),
    ev("a", "view", "2024-01-15 10:00"),
    ev("a", "refund", "2024-02-17 10:00", **{"$revenue": -4}),
    # b (ads): first seen 23:30 local; 00:30 next local day is D1 (same UTC day as the first)
    ev("b", "pageview", "2024-01-08 23:30", channel="ads"),
    ev("b", "view", "2024-01-09 00:30"),
    # c (ads): 00:30 local on 01-08 is 01-07 in UTC — still new on 01-08; 01-10 00:10 is D2
    ev("c", "pageview", "2024-01-08 00:30", channel="ads"),
    ev("c", "view", "2024-01-10 00:10"),
    ev("c", "activate", "2024-01-16 01:00"),  # 8 days later: outside the 7-day window
    # d (seo): back on day 30, pays 30 on day 0
    ev("d", "pageview", "2024-01-14 12:00", **{"$referrer": "https://www.baidu.com/s"}),
    ev("d", "pay", "2024-01-14 12:30", **{"$revenue": 30}),
    ev("d", "view", "2024-02-13 12:00"),
    # e: first seen the week before (not new); active and paying this week
    ev("e", "pageview", "2024-01-01 10:00", channel="ads"),
    ev("e", "pay", "2024-01-09 10:00", channel="ads", **{"$revenue": 99}),
]
COSTS = {
    (date(2024, 1, 8), "ads"): 30.0,
    (date(2024, 1, 14), "ads"): 6.0,
    (date(2024, 1, 15), "ads"): 1000.0,  # outside the range
    (date(2024, 1, 9), "tv"): 50.0,  # a channel that brought nobody
    (date(2024, 1, 10), "baidu.com"): 0.0,  # free
}


def report(store: EventStore, **kw) -> ChannelReport:  # type: ignore[no-untyped-def]
    load(store, DATA)
    q = ChannelQuery(date_range=WEEK, **kw)
    return run_channels(store, CTX, q, costs=COSTS, today=TODAY)


def by_channel(r: ChannelReport) -> dict[str, object]:
    return {c.channel: c for c in r.channels}


def test_hand_computed_week(store: EventStore) -> None:
    r = report(store)
    assert [c.channel for c in r.channels] == ["ads", "baidu.com", "tv"]
    ads, seo, tv = r.channels
    assert ads.new_persons == 3 and seo.new_persons == 1 and tv.new_persons == 0
    assert (ads.activated_persons, ads.activation_rate) == (1, pytest.approx(1 / 3))
    assert ads.retention_d1 == pytest.approx(2 / 3)  # a and b (local midnight), not c
    assert ads.retention_d7 == pytest.approx(1 / 3)  # a
    assert (ads.retention_d30, seo.retention_d30) == (0.0, 1.0)
    assert (ads.paying_persons, ads.paying_rate) == (1, pytest.approx(1 / 3))
    assert ads.revenue == pytest.approx(6.0)  # 10 - 4: refunds count
    assert ads.arpu == pytest.approx(2.0)
    assert (ads.cost, ads.cac) == (36.0, pytest.approx(12.0))
    assert ads.roi == pytest.approx((6 - 36) / 36)
    assert (seo.cost, seo.cac, seo.roi, seo.revenue) == (0.0, 0.0, None, 30.0)
    assert (tv.cost, tv.cac, tv.roi, tv.activation_rate, tv.retention_d1) == (
        50.0, None, -1.0, None, None,
    )  # fmt: skip
    t = r.total
    assert (t.channel, t.new_persons, t.activated_persons, t.paying_persons) == (TOTAL, 4, 1, 2)
    assert (t.revenue, t.cost) == (pytest.approx(36.0), 86.0)
    assert t.cac == pytest.approx(86 / 4) and t.roi == pytest.approx((36 - 86) / 86)
    assert r.has_costs and r.periods[0] == date(2024, 1, 8) and len(r.periods) == 7
    series = {s.channel: s.values for s in r.series}
    assert series["ads"] == [3, 0, 0, 0, 0, 0, 0] and series["baidu.com"][-1] == 1
    assert series["tv"] == [0] * 7


def test_revenue_window_and_week_series(store: EventStore) -> None:
    r = report(store, revenue_days=3, interval="week")
    ads = by_channel(r)["ads"]
    assert (ads.revenue, ads.paying_persons) == (10.0, 1)  # the refund on day 40 is outside
    r1 = run_channels(
        store, CTX, ChannelQuery(date_range=WEEK, revenue_days=1), costs=COSTS, today=TODAY
    )
    assert (by_channel(r1)["ads"].revenue, by_channel(r1)["ads"].paying_persons) == (0.0, 0)
    assert by_channel(r1)["baidu.com"].revenue == 30.0  # paid on day 0
    assert r.periods == [date(2024, 1, 8)] and {s.channel: s.values for s in r.series}["ads"] == [3]


def test_retention_only_counts_finished_days(store: EventStore) -> None:
    load(store, DATA)
    q = ChannelQuery(date_range=WEEK)
    early = run_channels(store, CTX, q, today=date(2024, 1, 10))
    ads = by_channel(early)["ads"]
    # On 01-10 day 1 is over for persons first seen 01-08 only; nobody has a day 7.
    assert ads.retention_d1 == pytest.approx(2 / 3)
    assert (ads.retention_d7, ads.retention_d30) == (None, None)
    assert early.has_costs is False and ads.cost is None and ads.cac is None


def test_no_activation_event_and_other_project(store: EventStore) -> None:
    load(store, DATA)
    load(store, [ev("z", "pageview", "2024-01-09 10:00", project_id=2, channel="ads")],
         project_id=2)  # fmt: skip
    r = run_channels(store, ProjectContext(project_id=1), ChannelQuery(date_range=WEEK),
                     today=TODAY)  # fmt: skip
    assert r.activation_event is None and by_channel(r)["ads"].activation_rate is None
    assert r.total.new_persons == 4
    other = run_channels(store, ProjectContext(project_id=2), ChannelQuery(date_range=WEEK),
                         today=TODAY)  # fmt: skip
    assert other.total.new_persons == 1


def test_empty_range(store: EventStore) -> None:
    r = run_channels(store, CTX, ChannelQuery(date_range=WEEK), today=TODAY)
    assert r.channels == [] and r.total.new_persons == 0
    assert (r.total.activation_rate, r.total.arpu, r.total.cac, r.total.roi) == (
        None, None, None, None,
    )  # fmt: skip


def test_last_touch_moves_persons_between_channels(store: EventStore) -> None:
    load(store, [*DATA, ev("b", "signup", "2024-01-09 08:00", utm_source="newsletter")])
    q = ChannelQuery(date_range=WEEK, model="last_touch", conversion_event="signup")
    r = run_channels(store, CTX, q, costs=COSTS, today=TODAY)
    assert r.conversion_event == "signup"
    assert {c.channel: c.new_persons for c in r.channels} == {
        "ads": 2, "newsletter": 1, "baidu.com": 1, "tv": 0,
    }  # fmt: skip
    assert by_channel(r)["ads"].cac == pytest.approx(18.0)  # the same cost, fewer persons


# ---- pure arithmetic -----------------------------------------------------------------------


def row(n: int, rev: float = 0.0) -> dict:
    return {"n": n, "nact": 0, "npaid": 0, "nrev": rev}


@pytest.mark.parametrize(
    ("persons", "cost", "revenue", "cac", "roi"),
    [
        (0, 50.0, 0.0, None, -1.0),  # paid for nobody
        (5, 0.0, 10.0, 0.0, None),  # free channel: CAC 0, ROI undefined
        (0, 0.0, 0.0, None, None),
        (5, None, 10.0, None, None),  # no cost imported
        (4, 20.0, 30.0, 5.0, 0.5),
    ],
)
def test_cac_and_roi_at_zero(persons, cost, revenue, cac, roi) -> None:  # type: ignore[no-untyped-def]
    m = metrics("x", [row(persons, revenue)] if persons or revenue else [], cells=[],
                activation=False, cost=cost)  # fmt: skip
    assert (m.cac, m.roi) == (cac, roi)
    assert m.arpu == (revenue / persons if persons else None)
    assert m.paying_rate == (0.0 if persons else None)


def test_cost_by_channel_sums_days_in_range() -> None:
    assert cost_by_channel(COSTS, date(2024, 1, 8), date(2024, 1, 14)) == {
        "ads": 36.0, "tv": 50.0, "baidu.com": 0.0,
    }  # fmt: skip


# ---- invariants ----------------------------------------------------------------------------

_EVENT = st.tuples(
    st.integers(0, 9),  # person
    st.integers(0, 20 * 24 * 60 - 1),  # minute from 2024-01-01 local
    st.sampled_from(["pageview", "activate", "pay", "signup"]),
    st.sampled_from(
        [
            {},
            {"channel": "ads"},
            {"utm_source": "wx"},
            {"$referrer": "https://m.baidu.com/"},
            {"$referrer": "$direct"},
            {"$revenue": 5},
        ]
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(_EVENT, min_size=1, max_size=40),
    merges=st.dictionaries(st.integers(0, 9), st.integers(0, 9), max_size=3),
    model=st.sampled_from(["first_touch", "last_touch"]),
)
def test_channels_add_up_to_all_new_persons(events, merges, model) -> None:  # type: ignore[no-untyped-def]
    """Every new person is in exactly one channel, whatever the attribution: the channels'
    new persons sum to the total, to the per-person list and to AARRR's new persons."""
    store = make_store("duckdb")
    try:
        base = datetime(2024, 1, 1)
        rows = [
            ev(f"u{p}", name, (base + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M"), **props)
            for p, m, name, props in events
        ]
        load(store, rows, merges={f"u{a}": f"u{b}" for a, b in merges.items() if a != b})
        q = ChannelQuery(
            date_range={"date_from": "2024-01-05", "date_to": "2024-01-14"},
            model=model,
            conversion_event="signup",
        )
        r = run_channels(store, CTX, q, today=date(2024, 2, 1))
        listed = new_person_channels(store, CTX, q, today=date(2024, 2, 1))
        aarrr = run_aarrr(store, CTX, AarrrQuery(date_range=q.date_range), today=date(2024, 2, 1))
        assert sum(c.new_persons for c in r.channels) == r.total.new_persons
        assert len(listed) == len({p.person_id for p in listed}) == r.total.new_persons
        assert r.total.new_persons == aarrr.current.new_persons
        assert sum(sum(s.values) for s in r.series) == r.total.new_persons
        for c in r.channels:
            assert c.new_persons == sum(p.channel == c.channel for p in listed)
    finally:
        store.close()


def rounded(value):  # type: ignore[no-untyped-def]
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


TOUCH_CHOICES = [
    {}, {"channel": "ads"}, {"utm_source": "wx"}, {"$referrer": "https://t.co/x"},
    {"utm_source": "xhs"},
]  # fmt: skip


@pytest.mark.parametrize("model", ["first_touch", "last_touch"])
def test_engines_agree_on_random_data(both, model) -> None:  # type: ignore[no-untyped-def]
    duck, ch = both
    rnd = random.Random(11)
    events = []
    for _ in range(400):
        when = datetime(2024, 1, 1) + timedelta(minutes=rnd.randrange(40 * 24 * 60))
        props = dict(rnd.choice(TOUCH_CHOICES))
        name = rnd.choice(["pageview", "pageview", "activate", "pay", "signup"])
        if name == "pay":
            props["$revenue"] = rnd.choice([9.9, 19.9, -5.0])
        events.append(ev(f"u{rnd.randrange(60)}", name, when.strftime("%Y-%m-%d %H:%M"), **props))
    for s in (duck, ch):
        load(s, events, merges={"u1": "u2", "u5": "u6"})
    q = ChannelQuery(
        date_range={"date_from": "2024-01-05", "date_to": "2024-01-25"},
        model=model,
        conversion_event="signup",
        interval="week",
    )
    costs = {(date(2024, 1, 6), "ads"): 40.0, (date(2024, 1, 7), "wx"): 12.5}
    a = run_channels(duck, CTX, q, costs=costs, today=date(2024, 3, 1))
    b = run_channels(ch, CTX, q, costs=costs, today=date(2024, 3, 1))
    assert rounded(a.model_dump()) == rounded(b.model_dump())
    assert a.total.new_persons > 20
    assert new_person_channels(duck, CTX, q, today=date(2024, 3, 1)) == new_person_channels(
        ch, CTX, q, today=date(2024, 3, 1)
    )
