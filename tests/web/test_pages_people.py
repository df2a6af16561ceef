"""People pages: list with search and person filters, bad fields, profile, isolation."""

from __future__ import annotations

import re

from tests.factories import pid as person_id
from tests.web.conftest import Console
from tests.web.pages_support import ctx, get, member, seed, text_of, today
from yunying.insights.people import list_persons, person_profile


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
