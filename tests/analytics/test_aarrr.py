"""AARRR on a small hand-computed dataset (both engines) and a cross-engine random check."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from tests.factories import ev, load
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.context import ProjectContext

CTX = ProjectContext(project_id=1, activation_event="activate")
TODAY = date(2024, 6, 1)
WEEK = {"date_from": "2024-01-08", "date_to": "2024-01-14"}  # previous: 01-01 … 01-07

DATA = [
    # a: new, channel column wins over utm_source; activates and pays
    ev("a", "pageview", "2024-01-08 10:00", channel="ads", utm_source="wx"),
    ev("a", "pay", "2024-01-09 10:00", **{"$revenue": 10}),
    ev("a", "activate", "2024-01-10 10:00"),
    # b: new via a referrer; activates exactly 7 days later (outside the window)
    ev("b", "pageview", "2024-01-08 11:00", **{"$referrer": "https://www.google.com/x"}),
    ev("b", "invite_sent", "2024-01-09 09:00"),
    ev("b", "invite_sent", "2024-01-09 09:05"),
    ev("b", "activate", "2024-01-15 11:00"),
    # c: new in the previous week; back on day 7; accepts an invite
    ev("c", "pageview", "2024-01-03 11:00", utm_source="wx"),
    ev("c", "invite_accepted", "2024-01-10 12:00"),
    # e: anonymous first touch is direct; merged into e-user who pays and refunds
    ev("e-anon", "pageview", "2024-01-09 08:00", **{"$referrer": "$direct"}),
    ev("e-user", "pageview", "2024-01-12 08:00", channel="ads"),
    ev("e-user", "activate", "2024-01-12 09:00"),
    ev("e-user", "pay", "2024-01-12 10:00", **{"$revenue": 5}),
    ev("e-user", "refund", "2024-01-12 11:00", **{"$revenue": -2}),
    # f: 00:30 local on 01-08 is 01-07 in UTC — new this week, not last
    ev("f", "pageview", "2024-01-08 00:30", utm_source="newsletter"),
    ev("f", "activate", "2024-01-16 00:00"),
    # g: an old person: active and paying, not new
    ev("g", "pageview", "2023-12-01 10:00"),
    ev("g", "pay", "2024-01-09 10:00", **{"$revenue": 20}),
    ev("g", "invite_sent", "2024-01-11 10:00"),
]


def run(store, ctx=CTX, **kw):
    load(store, DATA, merges={"e-anon": "e-user"})
    return run_aarrr(store, ctx, AarrrQuery(date_range=WEEK, **kw), today=TODAY)


def test_current_period(store):
    r = run(store)
    cur = r.current
    assert (cur.date_from, cur.date_to) == (date(2024, 1, 8), date(2024, 1, 14))
    assert cur.new_persons == 4
    assert [(c.channel, c.persons) for c in cur.new_by_channel] == [
        ("ads", 1),
        ("direct", 1),
        ("google.com", 1),
        ("newsletter", 1),
    ]
    assert (cur.activated_persons, cur.activation_rate) == (2, 0.5)  # a and e
    assert (cur.retention_d1, cur.retention_d7, cur.retention_d30) == (0.5, 0.25, 0.0)
    assert (cur.active_persons, cur.paying_persons) == (6, 3)
    assert cur.revenue == pytest.approx(33.0)
    assert cur.arpu == pytest.approx(5.5)
    assert cur.arppu == pytest.approx(11.0)
    assert (cur.invites_sent, cur.inviters, cur.invites_accepted) == (3, 2, 1)
    assert cur.k_factor == pytest.approx(0.5)  # 3/2 invites per inviter × 1/3 accepted


def test_previous_period_and_change(store):
    r = run(store)
    prev = r.previous
    assert (prev.date_from, prev.date_to) == (date(2024, 1, 1), date(2024, 1, 7))
    assert prev.new_persons == 1
    assert [(c.channel, c.persons) for c in prev.new_by_channel] == [("wx", 1)]
    assert (prev.activated_persons, prev.activation_rate) == (0, 0.0)
    assert (prev.retention_d1, prev.retention_d7) == (0.0, 1.0)
    assert (prev.active_persons, prev.paying_persons, prev.revenue) == (1, 0, 0.0)
    assert (prev.arpu, prev.arppu, prev.k_factor) == (0.0, None, None)
    assert r.change["new_persons"] == pytest.approx(3.0)
    assert r.change["active_persons"] == pytest.approx(5.0)
    assert r.change["retention_d7"] == pytest.approx(-0.75)
    assert r.change["revenue"] is None  # previous is 0


def test_activation_event_from_query_or_none(store):
    r = run(store, activation_event="invite_sent")
    assert (r.activation_event, r.current.activated_persons) == ("invite_sent", 1)
    assert r.current.activation_rate == 0.25
    r = run_aarrr(store, ProjectContext(project_id=1), AarrrQuery(date_range=WEEK), today=TODAY)
    assert (r.current.activated_persons, r.current.activation_rate) == (None, None)
    longer = run_aarrr(
        store, CTX, AarrrQuery(date_range=WEEK, activation_days=8), today=TODAY
    ).current
    assert longer.activated_persons == 4  # b at exactly 7 days, f at 7 d 23.5 h


def test_custom_revenue_property(store):
    load(
        store,
        [
            ev("a", "order", "2024-01-08 10:00", amount=12.5),
            ev("b", "order", "2024-01-08 10:00", amount="7.5"),
            ev("c", "order", "2024-01-08 10:00", amount=0),
        ],
    )
    ctx = ProjectContext(project_id=1, revenue_property="amount")
    cur = run_aarrr(store, ctx, AarrrQuery(date_range=WEEK), today=TODAY).current
    assert (cur.paying_persons, cur.revenue) == (2, 20.0)  # a numeric string counts too


def test_incomplete_retention_days_are_none(store):
    load(store, DATA, merges={"e-anon": "e-user"})
    cur = run_aarrr(store, CTX, AarrrQuery(date_range=WEEK), today=date(2024, 1, 15)).current
    # On 01-15 everyone first seen up to 01-13 has a finished day 1; nobody a finished day 7.
    assert cur.retention_d1 == 0.5
    assert cur.retention_d7 is None
    assert cur.retention_d30 is None


def rounded(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def test_engines_agree_on_random_data(both):
    duck, ch = both
    rnd = random.Random(5)
    base = datetime(2024, 1, 1)
    events, used = [], set()
    while len(events) < 300:
        second = rnd.randrange(0, 30 * 86400)
        if second in used:
            continue
        used.add(second)
        when = (base + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")
        name = rnd.choice(["pageview", "pageview", "activate", "pay", "invite_sent",
                           "invite_accepted"])  # fmt: skip
        props = rnd.choice(
            [{}, {"channel": "ads"}, {"utm_source": "wx"}, {"$referrer": "https://t.co/x"}]
        )
        if name == "pay":
            props["$revenue"] = rnd.choice([9.9, 19.9, -9.9])
        events.append(ev(f"u{rnd.randrange(30)}", name, when, **props))
    for s in (duck, ch):
        load(s, events, merges={"u1": "u2", "u5": "u6"})
    q = AarrrQuery(date_range={"date_from": "2024-01-10", "date_to": "2024-01-19"})
    a = run_aarrr(duck, CTX, q, today=date(2024, 1, 28))
    b = run_aarrr(ch, CTX, q, today=date(2024, 1, 28))
    assert rounded(a.model_dump()) == rounded(b.model_dump())  # float sums differ in order
    assert a.current.new_persons > 0 and a.current.invites_sent > 0


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Google.com/search?q=1", "google.com"),
        ("http://user:pw@news.ycombinator.com:443/x", "news.ycombinator.com"),
        ("android-app://com.example/", "com.example"),
        ("https://it's.example/", "it's.example"),
        ("$direct", None),
        ("weibo.com/abc", None),
        ("", None),
    ],
)
def test_url_host(store, url, host):
    d = store.dialect
    assert store.query(f"SELECT {d.url_host(d.str_lit(url))} AS h").to_pylist() == [{"h": host}]
