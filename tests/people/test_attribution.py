"""Attribution: the touch of one event (channel, utm, referrer classification, self and
internal referrers), first and last touch per person with identity merge — on both engines,
and the profile's per-person answer equal to the channel report's."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.factories import ev, load, pid
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.attribution import (
    DEFAULT_RULES,
    AttributionRules,
    Source,
    clean_host,
    person_attribution_from_where,
    rules_for,
    touch_channel_sql,
    touch_type_sql,
)
from yunying.analytics.context import ProjectContext
from yunying.insights.people import person_scope
from yunying.people.channels import ChannelQuery, new_person_channels
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)
WEEK = {"date_from": "2024-01-08", "date_to": "2024-01-14"}
TODAY = date(2024, 3, 1)

# (properties of one event, expected channel, expected type)
TOUCHES = [
    ({"channel": "app_store", "utm_source": "wx"}, "app_store", "channel"),
    ({"utm_source": "wx", "$referrer": "https://www.baidu.com/s"}, "wx", "utm"),
    ({"$referrer": "https://www.baidu.com/s?wd=x"}, "baidu.com", "search"),
    ({"$referrer": "https://m.baidu.com/"}, "baidu.com", "search"),
    ({"$referrer": "https://www.google.com.hk/search"}, "google.com", "search"),
    ({"$referrer": "https://cn.bing.com/"}, "bing.com", "search"),
    ({"$referrer": "https://www.sogou.com/web"}, "sogou.com", "search"),
    ({"$referrer": "https://www.so.com/s"}, "so.com", "search"),
    ({"$referrer": "https://mp.weixin.qq.com/s/abc"}, "weixin.qq.com", "social"),
    ({"$referrer": "https://t.cn/A6x"}, "weibo.com", "social"),
    ({"$referrer": "https://v.douyin.com/x/"}, "douyin.com", "social"),
    ({"$referrer": "http://xhslink.com/a/b"}, "xiaohongshu.com", "social"),
    ({"$referrer": "https://www.zhihu.com/question/1"}, "zhihu.com", "social"),
    ({"$referrer": "https://news.ycombinator.com/item"}, "news.ycombinator.com", "referral"),
    ({"$referrer": "https://notbaidu.com/"}, "notbaidu.com", "referral"),
    ({"$referrer": "https://baidu.com.evil.io/"}, "baidu.com.evil.io", "referral"),
    ({"$referrer": "$direct"}, None, "direct"),
    ({"channel": "", "utm_source": ""}, None, "direct"),
    ({}, None, "direct"),
    # A page of the product's own site referring to another is navigation, not a touch.
    (
        {"$referrer": "https://www.shop.cn/a", "$current_url": "https://shop.cn/b"},
        None,
        "direct",
    ),
    (
        {"$referrer": "https://shop.cn/a", "$current_url": "https://pay.example.com/"},
        "shop.cn",
        "referral",
    ),
]


def classify(store: EventStore, rules: AttributionRules = DEFAULT_RULES) -> list[tuple]:
    d = store.dialect
    sql = (
        f"SELECT e.uuid AS u, {touch_channel_sql(d, rules)} AS ch, "
        f"{touch_type_sql(d, rules)} AS ty FROM events e ORDER BY e.uuid"
    )
    return [(r["ch"], r["ty"]) for r in store.query(sql).to_pylist()]


def test_touch_of_one_event(store: EventStore) -> None:
    load(store, [ev(f"u{i}", "$pageview", "2024-01-08 10:00", **p) for i, (p, _, _) in
                 enumerate(TOUCHES)])  # fmt: skip
    assert classify(store) == [(ch, ty) for _, ch, ty in TOUCHES]


def test_configured_sources_and_internal_hosts(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-01-08 10:00", **{"$referrer": "https://m.baidu.com/x"}),
            ev("b", "pv", "2024-01-08 10:01", **{"$referrer": "https://pay.shop.cn/ok"}),
            ev("c", "pv", "2024-01-08 10:02", **{"$referrer": "https://it's.example/"}),
            ev("d", "pv", "2024-01-08 10:03", **{"$referrer": "https://www.google.com/"}),
        ],
    )
    rules = AttributionRules.from_mapping(
        {
            "sources": [{"name": "百度 'SEO'", "type": "search", "hosts": ["baidu.com"]}],
            "internal_hosts": ["shop.cn"],
        }
    )
    assert classify(store, rules) == [
        ("百度 'SEO'", "search"),
        (None, "direct"),  # internal host
        ("it's.example", "referral"),
        ("google.com", "search"),  # defaults still apply after the given sources
    ]
    only = AttributionRules.from_mapping({"sources": [], "replace_defaults": True})
    assert classify(store, only)[3] == ("google.com", "referral")
    ctx = ProjectContext(project_id=1, extra={"attribution_rules": json.dumps({"sources": [
        {"name": "百度", "type": "search", "hosts": ["baidu.com"]}]})})  # fmt: skip
    assert classify(store, rules_for(ctx))[0] == ("百度", "search")
    assert rules_for(CTX) is DEFAULT_RULES


@pytest.mark.parametrize(
    "bad",
    [
        {"sources": [{"name": "x", "type": "search", "hosts": ["a.com') OR 1=1 --"]}]},
        {"sources": [{"name": "x", "type": "paid", "hosts": ["a.com"]}]},
        {"sources": [{"name": "", "type": "search", "hosts": ["a.com"]}]},
        {"sources": [{"name": "x", "type": "search", "hosts": []}]},
        {"sources": "baidu.com"},
        {"internal_hosts": ["not a host"]},
    ],
)
def test_bad_rules_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError):
        AttributionRules.from_mapping(bad)


def test_host_cleaning_and_patterns() -> None:
    assert clean_host(" WWW.Baidu.COM ") == "baidu.com"
    assert Source("b", "search", ("baidu.com", "b.cn")).pattern() == r"(^|\.)(baidu\.com|b\.cn)$"
    with pytest.raises(ValueError):
        clean_host("baidu")


# ---- first and last touch per person --------------------------------------------------------

JOURNEYS = [
    # p: search first, then an ad click, a direct visit, signup, then a newsletter click
    ev("p", "$pageview", "2024-01-08 10:00", **{"$referrer": "https://www.baidu.com/s"}),
    ev("p", "$pageview", "2024-01-09 10:00", utm_source="douyin", utm_medium="cpc",
       utm_campaign="spring"),
    ev("p", "$pageview", "2024-01-09 11:00", **{"$referrer": "$direct"}),
    ev("p", "signup", "2024-01-10 10:00"),
    ev("p", "$pageview", "2024-01-11 10:00", utm_source="newsletter"),
    # q: only direct visits
    ev("q", "$pageview", "2024-01-08 12:00"),
    ev("q", "signup", "2024-01-08 12:05"),
    # r: first visit direct, a later campaign click before signup (last non-direct click)
    ev("r", "$pageview", "2024-01-09 09:00"),
    ev("r", "$pageview", "2024-01-12 09:00", utm_source="wx"),
    ev("r", "signup", "2024-01-12 09:01"),
    # an anonymous visit with utm before $identify attributes the merged person
    ev("a-anon", "$pageview", "2024-01-13 09:00", utm_source="xhs"),
    ev("a-user", "$identify", "2024-01-13 09:05", **{"$anon_distinct_id": "a-anon"}),
    ev("a-user", "signup", "2024-01-13 09:10"),
    ev("a-user", "$pageview", "2024-01-13 09:30", channel="later"),
    # old: first seen before the range, not new
    ev("old", "$pageview", "2023-12-01 10:00", utm_source="ancient"),
    ev("old", "signup", "2024-01-09 10:00", utm_source="wx"),
]  # fmt: skip
MERGES = {"a-anon": "a-user"}
EXPECTED = {
    # person: (first, last before signup, last up to the range end without a conversion)
    "p": ("baidu.com", "douyin", "newsletter"),
    "q": ("direct", "direct", "direct"),
    "r": ("direct", "wx", "wx"),
    "a-user": ("xhs", "xhs", "later"),
}


def _report_channels(store: EventStore, model: str, conversion: str | None) -> dict[str, str]:
    q = ChannelQuery(date_range=WEEK, model=model, conversion_event=conversion)  # type: ignore[arg-type]
    return {p.person_id: p.channel for p in new_person_channels(store, CTX, q, today=TODAY)}


def test_first_and_last_touch_in_the_report(store: EventStore) -> None:
    load(store, JOURNEYS, merges=MERGES)
    ids = {pid(k): k for k in EXPECTED}
    first = _report_channels(store, "first_touch", None)
    last = _report_channels(store, "last_touch", "signup")
    up_to_end = _report_channels(store, "last_touch", None)
    assert set(first) == set(ids)  # "old" is not new; a-anon and a-user are one person
    for person, (f, lc, le) in EXPECTED.items():
        assert (first[pid(person)], last[pid(person)], up_to_end[pid(person)]) == (f, lc, le)


def test_profile_attribution_matches_the_report(store: EventStore) -> None:
    load(store, JOURNEYS, merges=MERGES)
    for person, (f, lc, le) in EXPECTED.items():
        _, where = person_scope(store, CTX, pid(person))
        a = person_attribution_from_where(
            store, CTX, pid(person), where, conversion_event="signup", until=date(2024, 1, 14)
        )
        assert (a.first_touch.channel, a.last_touch.channel) == (f, lc), person
        b = person_attribution_from_where(store, CTX, pid(person), where, until=date(2024, 1, 14))
        assert (b.conversion_event, b.last_touch.channel) == (None, le), person
    _, where = person_scope(store, CTX, pid("p"))
    a = person_attribution_from_where(store, CTX, pid("p"), where, conversion_event="signup")
    assert a.first_touch.type == "search" and a.first_touch.referrer_host == "baidu.com"
    assert (a.last_touch.type, a.last_touch.utm_medium, a.last_touch.utm_campaign) == (
        "utm", "cpc", "spring",
    )  # fmt: skip
    assert a.converted_at is not None and a.cutoff == a.converted_at
    assert a.last_touch.timestamp is not None and a.last_touch.timestamp < a.converted_at


def test_conversion_defaults_to_signup_then_activation_event(store: EventStore) -> None:
    load(store, JOURNEYS, merges=MERGES)
    _, where = person_scope(store, CTX, pid("p"))
    ctx = ProjectContext(project_id=1, activation_event="signup")
    assert person_attribution_from_where(store, ctx, pid("p"), where).last_touch.channel == "douyin"
    ctx = ProjectContext(project_id=1, signup_event="$pageview", activation_event="signup")
    a = person_attribution_from_where(store, ctx, pid("p"), where)
    assert (a.conversion_event, a.last_touch.channel) == ("$pageview", "baidu.com")


def test_first_touch_is_aarrrs_acquisition_channel(store: EventStore) -> None:
    load(store, JOURNEYS, merges=MERGES)
    aarrr = run_aarrr(store, CTX, AarrrQuery(date_range=WEEK), today=TODAY).current
    report = _report_channels(store, "first_touch", None)
    counts: dict[str, int] = {}
    for ch in report.values():
        counts[ch] = counts.get(ch, 0) + 1
    assert {c.channel: c.persons for c in aarrr.new_by_channel} == counts


def test_ties_are_broken_by_uuid_the_same_way_on_both_paths(store: EventStore) -> None:
    events = [
        ev("t", "$pageview", "2024-01-08 10:00", utm_source="first_uuid"),
        ev("t", "$pageview", "2024-01-08 10:00", utm_source="second_uuid"),
    ]
    load(store, events)
    assert events[0].uuid < events[1].uuid
    first = _report_channels(store, "first_touch", None)[pid("t")]
    last = _report_channels(store, "last_touch", None)[pid("t")]
    _, where = person_scope(store, CTX, pid("t"))
    a = person_attribution_from_where(store, CTX, pid("t"), where, until=date(2024, 1, 14))
    assert (first, last) == ("first_uuid", "second_uuid")
    assert (a.first_touch.channel, a.last_touch.channel) == (first, last)
