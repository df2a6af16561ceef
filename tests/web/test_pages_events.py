"""Event explorer and definitions pages."""

from __future__ import annotations

import re

from tests.web.conftest import Console
from tests.web.pages_support import ctx, get, member, seed, text_of, today
from yunying.insights.explore import event_definitions, latest_events


def test_latest_events_with_filters_and_refresh_fragment(console: Console) -> None:
    pid = member(console, "viewer")
    seed(console, pid)
    store = console.app.state.yunying.store
    html = get(console, f"/p/{pid}/events").text
    shown = re.findall(r'data-testid="event-row" data-uuid="([^"]+)"', html)
    assert shown == [e.uuid for e in latest_events(store, ctx(pid))]
    assert 'hx-trigger="every 10s"' in html
    pays = get(console, f"/p/{pid}/events?event=pay").text
    assert len(re.findall(r'data-testid="event-row"', pays)) == 2
    food = get(console, f"/p/{pid}/events/latest?filter_key=category&filter_value=美食")
    assert food.status_code == 200 and "<html" not in food.text
    assert len(re.findall(r'data-testid="event-row"', food.text)) == 2
    bad = get(console, f"/p/{pid}/events?filter_key=x&filter_op=gte&filter_value=many")
    assert bad.status_code == 400 and "值" in text_of(bad.text, "form-error")


def test_event_definitions_show_30_day_volumes(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    html = get(console, f"/p/{pid}/events/definitions").text
    defs = event_definitions(console.app.state.yunying.store, ctx(pid), today=today())
    rows = re.findall(r'data-event="([^"]+)">.*?data-testid="volume">([^<]+)<', html, re.S)
    assert rows == [(d.event, str(d.volume)) for d in defs]
    assert dict(rows) == {"view": "8", "signup": "6", "pay": "2"}
