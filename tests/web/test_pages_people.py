"""People pages: list with search and person filters, bad fields, profile, isolation."""

from __future__ import annotations

import re

from tests.factories import ev, load
from tests.factories import pid as person_id
from tests.web.conftest import Console
from tests.web.pages_support import ago, ctx, get, member, seed, text_of, today
from yunying.insights.people import display_name, list_persons, looks_anonymous, person_profile


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="person-row" data-person="([^"]+)"', html)


def test_person_list_search_and_filters(console: Console) -> None:
    pid = member(console, "viewer")
    seed(console, pid)
    store = console.app.state.yunying.store
    html = get(console, f"/p/{pid}/people").text
    expected = list_persons(store, ctx(pid))
    assert _rows(html) == [p.id for p in expected.persons] and len(_rows(html)) == 6
    assert text_of(html, "people-total") == "共 6 位用户"
    assert "Alice" in html
    assert _rows(get(console, f"/p/{pid}/people?q=alice").text) == [person_id("u1", pid)]
    filtered = get(console, f"/p/{pid}/people?filter_key=city&filter_op=eq&filter_value=北京")
    assert _rows(filtered.text) == [person_id("u2", pid)]
    bad = get(console, f"/p/{pid}/people?filter_key=age&filter_op=gt&filter_value=old")
    assert bad.status_code == 400 and "值" in text_of(bad.text, "form-error")
    page = get(console, f"/p/{pid}/people?page=zero")
    assert page.status_code == 400 and "页码" in text_of(page.text, "form-error")


def test_person_profile(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    alice = person_id("u1", pid)
    r = get(console, f"/p/{pid}/people/{alice}")
    assert r.status_code == 200
    profile = person_profile(console.app.state.yunying.store, ctx(pid), alice, today=today())
    assert text_of(r.text, "person-name") == "Alice"
    assert text_of(r.text, "first-touch") == profile.first_touch_channel == "douyin"
    assert text_of(r.text, "event-count") == str(profile.events) == "4"
    assert len(re.findall(r'data-testid="recent-event"', r.text)) == 4
    active = re.findall(r'data-day="([\d-]+)" data-events="([1-9]\d*)"', r.text)
    assert {d for d, _ in active} == {x.day.isoformat() for x in profile.calendar if x.events}
    assert 'data-testid="prop-city"' in r.text


def test_unknown_and_other_projects_persons_are_not_found(console: Console) -> None:
    pid = member(console)
    other = console.project("Other")
    seed(console, other)
    assert get(console, f"/p/{pid}/people/{person_id('u1', other)}").status_code == 404
    assert get(console, f"/p/{pid}/people/nobody").status_code == 404
    assert _rows(get(console, f"/p/{pid}/people").text) == []
    assert get(console, f"/p/{other}/people").status_code == 404


def test_person_title_is_the_identified_id_not_an_anonymous_one(console: Console) -> None:
    """Without a name property the title is the id the person identified with: their
    latest ``$identify`` (even a UUID-shaped user id), else an id that does not look like
    an SDK's anonymous one (UUID, long hex, ``$device:``)."""
    pid = member(console)
    anon = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    user_uuid = "5d41402a-bc4b-4a76-b971-9d911017c592"
    events = [
        ev(anon, "$pageview", ago(3), project_id=pid),
        ev(user_uuid, "$identify", ago(3, "10:05"), project_id=pid,
           **{"$anon_distinct_id": anon}),
        ev("$device:18c2f0a1b2", "$pageview", ago(2), project_id=pid),
        ev("member-7", "signup", ago(2, "10:05"), project_id=pid),
        ev("e3b0c44298fc1c149afbf4c8996fb924", "$pageview", ago(1), project_id=pid),
    ]  # fmt: skip
    load(console.app.state.yunying.store, events, project_id=pid, merges={
        anon: user_uuid, "$device:18c2f0a1b2": "member-7",
    })  # fmt: skip
    for root, title in [
        (user_uuid, user_uuid),  # identified with a UUID user id
        ("member-7", "member-7"),  # no $identify: the id that is not "$device:…"
        ("e3b0c44298fc1c149afbf4c8996fb924", "e3b0c44298fc1c149afbf4c8996fb924"),  # only id
    ]:
        html = get(console, f"/p/{pid}/people/{person_id(root, pid)}").text
        assert text_of(html, "person-name") == title, root
        assert f"<title>{title} ·" in html
    assert looks_anonymous(anon) and looks_anonymous("$device:x") and not looks_anonymous("bob")
    assert display_name({}, anon, "u_7") == "u_7"
    assert display_name({"name": "Alice"}, "u_7", identified="u_7") == "Alice"


def test_person_page_calendar_is_styled_by_classes(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    html = get(console, f"/p/{pid}/people/{person_id('u1', pid)}").text
    calendar = re.search(r'data-testid="activity-calendar".*?</section>', html, re.S).group(0)
    assert "style=" not in calendar
    assert re.search(r'class="calendar-day level-[1-4]"', calendar)
    assert re.search(r'<td class="time">\d{4}-\d\d-\d\d \d\d:\d\d</td>', html)


def test_profile_card_badges_event_chart_and_segments(console: Console) -> None:
    """The profile shows first and last touch, active days, lifecycle, event counts as a
    chart, and — once jobs have written them — layer, RFM, risk badges and segments."""
    import pyarrow as pa

    from tests.web.pages_support import figures
    from yunying.db.segment_models import Segment
    from yunying.store import derived

    pid = member(console)
    seed(console, pid)
    alice = person_id("u1", pid)
    html = get(console, f"/p/{pid}/people/{alice}").text
    assert text_of(html, "active-days") == "4"
    stage = re.search(r'data-testid="lifecycle-badge" data-stage="(\w+)"', html).group(1)
    assert text_of(html, "lifecycle-badge").startswith("本周：")
    assert stage in ("new", "returning", "resurrecting", "dormant")
    assert text_of(html, "first-touch-type") == "渠道属性"
    assert 'data-testid="no-segments"' in html and "layer-badge" not in html
    chart = figures(html)[0]["data"][0]
    assert dict(zip(chart["y"], chart["x"], strict=True)) == {"view": 2, "signup": 1, "pay": 1}
    with console.db() as s:
        segment = Segment(project_id=pid, name="高价值", kind="dynamic")
        s.add(segment)
        s.flush()
        segment_id = segment.id
    store = console.app.state.yunying.store
    for name, cols in [
        ("layer:activity", {"value_str": ["core"]}),
        ("rfm:group", {"value_str": ["important_keep"]}),
        ("score:churn_risk", {"value_num": [0.81]}),
        ("score:p_alive", {"value_num": [0.25]}),
        (f"segment:{segment_id}", {"value_num": [1.0]}),
    ]:
        derived.write_values(store, pid, name, pa.table({"person_id": [alice], **cols}))
    html = get(console, f"/p/{pid}/people/{alice}").text
    assert text_of(html, "layer-badge") == "精英用户"
    assert text_of(html, "rfm-badge") == "重要保持"
    assert 'data-level="high"' in html and "流失风险 81%" in html
    assert text_of(html, "p-alive") == "25%"
    link = re.search(rf'data-testid="segment-{segment_id}"><a href="([^"]+)">([^<]+)<', html)
    assert link and link.groups() == (f"/p/{pid}/segments/{segment_id}", "高价值")


def test_unknown_layer_values_are_shown_as_they_are(console: Console) -> None:
    import pyarrow as pa

    from yunying.store import derived

    pid = member(console)
    seed(console, pid)
    bob = person_id("u2", pid)
    table = pa.table({"person_id": [bob], "value_str": ["vip_plus"]})
    derived.write_values(console.app.state.yunying.store, pid, "layer:activity", table)
    html = get(console, f"/p/{pid}/people/{bob}").text
    assert text_of(html, "layer-badge") == "vip_plus"
