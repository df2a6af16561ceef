"""AARRR on a small hand-computed dataset (both engines), a cross-engine random check and a
synthetic product checked against a plain-Python reference (merges, refunds, DST)."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import ev, load
from yunying.analytics.aarrr import AarrrPeriod, AarrrQuery, run_aarrr
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.events.model import Event
from yunying.store.base import EventStore

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


# ---- a synthetic product against a plain-Python reference, across a DST switch ------------

CHANNELS = [
    {"channel": "douyin"},
    {"utm_source": "baidu"},
    {"$referrer": "https://www.xiaohongshu.com/explore"},
    {"$referrer": "$direct"},
    {},
]
_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(?:www\.)?([^/:?#@]+)")


def synthetic(tz: str, seed: int = 3) -> tuple[list[Event], dict[str, str]]:
    """~40 persons over Jan–Apr 2024: channels, anonymous ids merged into users,
    activations inside and outside 7 days, purchases and refunds, invites. Later events
    carry seconds, so none ties with a person's first event (whose channel must be unique)."""
    rng = random.Random(seed)
    events, merges = [], {}
    start = date(2024, 1, 10)
    for i in range(40):
        user = f"u{i}"
        first = start + timedelta(days=rng.randrange(0, 90))
        anon = f"anon{i}" if i % 3 == 0 else user
        if anon != user:
            merges[anon] = user
        hour = rng.choice(["00:30", "08:15", "15:59", "23:45"])
        events.append(ev(anon, "$pageview", f"{first} {hour}", tz=tz, **CHANNELS[i % 5]))
        for _ in range(rng.randrange(0, 12)):
            day = first + timedelta(days=rng.choice([0, 1, 1, 2, 3, 7, 7, 8, 15, 30, 31, 45]))
            name = rng.choice(["content_view", "post", "like", "invite_sent", "invite_accepted"])
            when = f"{day} {rng.randrange(0, 24):02d}:{i:02d}:{rng.randrange(1, 60):02d}"
            events.append(ev(user, name, when, tz=tz))
        if i % 4 == 1:
            pay = first + timedelta(days=rng.randrange(0, 20))
            events.append(ev(user, "pay", f"{pay} 12:00:01", tz=tz, **{"$revenue": 30 + i}))
        if i % 11 == 5:
            events.append(ev(user, "refund", f"{first + timedelta(days=25)} 12:00:01", tz=tz,
                             **{"$revenue": -10}))  # fmt: skip
    return events, merges


def _channel(props: dict[str, Any]) -> str:
    for key in ("channel", "utm_source"):
        if props.get(key):
            return str(props[key])
    host = _HOST.match(str(props.get("$referrer", "")).lower())
    return host.group(1) if host and host.group(1) else "direct"


def reference_period(
    events: list[Event],
    merges: dict[str, str],
    ctx: ProjectContext,
    lo: date,
    hi: date,
    today: date,
    activation_days: int = 7,
) -> dict[str, Any]:
    """The AARRR definitions of docs/metrics.md, written out over the events in Python."""
    tz = ZoneInfo(ctx.timezone)
    by_person: dict[str, list[Event]] = {}
    for e in sorted(events, key=lambda e: e.timestamp):
        by_person.setdefault(merges.get(e.distinct_id, e.distinct_id), []).append(e)
    start, end = ctx.day_range_utc(lo, hi)

    def local(e: Event) -> date:
        return e.timestamp.astimezone(tz).date()

    new = [p for p, evs in by_person.items() if start <= evs[0].timestamp < end]
    channels: dict[str, int] = {}
    for p in new:
        ch = _channel(by_person[p][0].properties)
        channels[ch] = channels.get(ch, 0) + 1
    window = timedelta(days=activation_days)
    activated = sum(
        any(
            e.event == ctx.activation_event and e.timestamp < by_person[p][0].timestamp + window
            for e in by_person[p]
        )
        for p in new
    )
    retention = {}
    for n in (1, 7, 30):
        last = min(hi, today - timedelta(days=n + 1))
        eligible = [p for p in new if local(by_person[p][0]) <= last]
        back = [
            p
            for p in eligible
            if any(local(e) == local(by_person[p][0]) + timedelta(days=n) for e in by_person[p])
        ]
        retention[n] = len(back) / len(eligible) if eligible else None
    inside = [(p, e) for p, evs in by_person.items() for e in evs if start <= e.timestamp < end]
    revenue = sum(float(e.properties.get("$revenue", 0)) for _, e in inside)
    active = len({p for p, _ in inside})
    paying = len({p for p, e in inside if float(e.properties.get("$revenue", 0)) > 0})
    sent = sum(e.event == ctx.invite_sent_event for _, e in inside)
    inviters = len({p for p, e in inside if e.event == ctx.invite_sent_event})
    return {
        "new_persons": len(new),
        "new_by_channel": sorted(channels.items(), key=lambda c: (-c[1], c[0])),
        "activated_persons": activated,
        "retention": (retention[1], retention[7], retention[30]),
        "active_persons": active,
        "paying_persons": paying,
        "revenue": pytest.approx(revenue),
        "invites_sent": sent,
        "inviters": inviters,
        "invites_accepted": sum(e.event == ctx.invite_accepted_event for _, e in inside),
    }


def as_reference(p: AarrrPeriod) -> dict[str, Any]:
    return {
        "new_persons": p.new_persons,
        "new_by_channel": [(c.channel, c.persons) for c in p.new_by_channel],
        "activated_persons": p.activated_persons,
        "retention": (p.retention_d1, p.retention_d7, p.retention_d30),
        "active_persons": p.active_persons,
        "paying_persons": p.paying_persons,
        "revenue": p.revenue,
        "invites_sent": p.invites_sent,
        "inviters": p.inviters,
        "invites_accepted": p.invites_accepted,
    }


@pytest.mark.parametrize(
    ("tz", "d_from", "d_to", "today"),
    [
        ("Asia/Shanghai", date(2024, 3, 1), date(2024, 3, 30), date(2024, 4, 20)),
        ("Asia/Shanghai", date(2024, 2, 20), date(2024, 2, 26), date(2024, 2, 28)),
        # DST starts on 2024-03-10: local days are 23 hours long there.
        ("America/New_York", date(2024, 3, 1), date(2024, 3, 30), date(2024, 4, 2)),
        ("America/New_York", date(2024, 3, 9), date(2024, 3, 12), date(2024, 5, 1)),
    ],
)
def test_matches_python_reference(
    store: EventStore, tz: str, d_from: date, d_to: date, today: date
) -> None:
    """Merges, refunds, invites, activation windows and D-N days in a fixed-offset zone and
    across a DST switch equal a direct Python count of the documented definitions."""
    events, merges = synthetic(tz)
    load(store, events, merges=merges)
    ctx = ProjectContext(project_id=1, timezone=tz, activation_event="content_view")
    q = AarrrQuery(date_range=DateRange(date_from=d_from, date_to=d_to))
    r = run_aarrr(store, ctx, q, today=today)
    length = d_to - d_from + timedelta(days=1)
    prev = (d_from - length, d_from - timedelta(days=1))
    assert as_reference(r.current) == reference_period(events, merges, ctx, d_from, d_to, today)
    assert as_reference(r.previous) == reference_period(events, merges, ctx, *prev, today)
    if d_to - d_from > timedelta(days=7):
        assert r.current.new_persons > 0 and r.current.paying_persons > 0


def test_one_query_for_both_periods(duck: EventStore) -> None:
    """Both periods and every figure come from a single query (it was eleven)."""
    load(duck, DATA, merges={"e-anon": "e-user"})
    sqls: list[str] = []
    query = duck.query

    def counting(sql: str) -> Any:
        sqls.append(sql)
        return query(sql)

    duck.query = counting  # type: ignore[method-assign]
    run_aarrr(duck, CTX, AarrrQuery(date_range=WEEK), today=TODAY)
    assert len(sqls) == 1
