"""The insight forms' newer controls through the console pages: trends series with their
own filters, funnel exclusion steps, paths "only these" / "hide these" events. Each page
shows the analytics' numbers for the query the form builds, re-shows what was typed, and a
saved insight reopens with the same form values."""

from __future__ import annotations

import html as htmllib
import re

from starlette.datastructures import QueryParams

from tests.web.conftest import Console, csrf
from tests.web.pages_support import figures, get, member, seed, text_of, today
from yunying.db.projects import context_for, get_project
from yunying.insights import saved
from yunying.web.forms import parse_insight

TRENDS = (
    "event=view&s1_filter_key=category&s1_filter_op=eq&s1_filter_value=%E7%BE%8E%E9%A3%9F"
    "&s1_filter_type=event&event=view&event=signup&s3_filter_key=channel&s3_filter_op=in"
    "&s3_filter_value=douyin,seo&s3_filter_type=event&interval=day&range=14d"
)
FUNNEL = "step=signup&step=pay&exclusion=view&exclusion_from=1&exclusion_to=2&range=30d"
PATHS = "start_event=signup&steps=3&session_gap=0&range=14d&include=view&include=pay&exclude=pay"


def run(console: Console, pid: int, kind: str, qs: str):  # type: ignore[no-untyped-def]
    with console.db() as s:
        ctx = context_for(get_project(s, pid))
    query = parse_insight(kind, QueryParams(qs), today=today()).query
    return saved.run_query(console.app.state.yunying.store, ctx, query), query


def inputs(page: str) -> list[tuple[str, str]]:
    """(name, value) of every text/number input of the insight form, in page order."""
    form = re.search(r'<form[^>]*id="insight-form".*?</form>', page, re.S)
    assert form, "no insight form"
    found = re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(0))
    return [(name, htmllib.unescape(value)) for name, value in found]


def filled(page: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in inputs(page) if v]


def save_and_reopen(console: Console, pid: int, kind: str, page: str) -> str:
    """Save the query the page shows, then open the saved insight: its page HTML."""
    query = htmllib.unescape(re.search(r'name="query" value="([^"]*)"', page).group(1))
    c = console.client
    r = c.post(
        f"/p/{pid}/insights/save",
        data={"csrf_token": csrf(c), "kind": kind, "query": query, "name": f"My {kind}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    reopened = get(console, r.headers["location"].split("?")[0])
    assert reopened.status_code == 200
    return reopened.text


def test_trends_series_have_their_own_filters(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    result, query = run(console, pid, "trends", TRENDS)
    assert [len(s.filters) for s in query.series] == [1, 0, 1]
    assert [s.aggregate for s in result.series] == [2, 8, 5]  # 美食 views; all; douyin+seo
    page = get(console, f"/p/{pid}/insights/trends?{TRENDS}")
    assert page.status_code == 200
    traces = figures(page.text)[0]["data"]
    assert [t["y"] for t in traces] == [s.values for s in result.series]
    # two series of one event read apart: a filtered series is labelled with its filters
    assert [t["name"] for t in traces] == [
        "view (category = 美食)",
        "view",
        "signup (channel ∈ douyin,seo)",
    ]
    shown = filled(page.text)
    assert ("s1_filter_key", "category") in shown and ("s1_filter_value", "美食") in shown
    assert ("s3_filter_key", "channel") in shown and ("s3_filter_value", "douyin,seo") in shown
    # a series with filters shows them unfolded; one without keeps them folded away
    assert re.search(r'data-testid="s1-filters" open', page.text)
    assert not re.search(r'data-testid="s2-filters" open', page.text)
    reopened = save_and_reopen(console, pid, "trends", page.text)
    assert filled(reopened) == shown
    assert [t["y"] for t in figures(reopened)[0]["data"]] == [s.values for s in result.series]


def test_a_series_filter_stays_with_its_row_across_blank_rows(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    qs = "event=signup&event=&event=view&s3_filter_key=category&s3_filter_value=旅行&range=14d"
    result, query = run(console, pid, "trends", qs)
    assert [s.event for s in query.series] == ["signup", "view"]
    assert query.series[1].filters[0].value == "旅行" and not query.series[0].filters
    page = get(console, f"/p/{pid}/insights/trends?{qs}").text
    # re-shown without the blank row: the filter moved up with "view", to row 2
    assert ("event", "view") in filled(page) and ("s2_filter_value", "旅行") in filled(page)
    assert [s.aggregate for s in result.series] == [6, 2]


def test_a_bad_series_filter_is_named_and_marked_on_its_row(console: Console) -> None:
    pid = member(console)
    qs = "event=view&event=pay&s2_filter_key=n&s2_filter_op=gt&s2_filter_value=many"
    r = get(console, f"/p/{pid}/insights/trends?{qs}")
    assert r.status_code == 400 and "值" in text_of(r.text, "form-error")
    marked = re.findall(r'<input [^>]*name="([^"]+)"[^>]*aria-invalid="true"', r.text)
    assert set(marked) == {"s2_filter_value"}  # its rows only, not the other filters
    assert re.search(r'data-testid="s2-filters" open', r.text)


def test_funnel_exclusion_steps(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    plain, _ = run(console, pid, "funnel", "step=signup&step=pay&range=30d")
    result, query = run(console, pid, "funnel", FUNNEL)
    assert [(x.event, x.from_step, x.to_step) for x in query.exclusions] == [("view", 1, 2)]
    # both payers viewed between signing up and paying: gone from the whole funnel
    assert [s.count for s in plain.steps] == [6, 2]
    assert [s.count for s in result.steps] == [4, 0]
    page = get(console, f"/p/{pid}/insights/funnels?{FUNNEL}")
    assert figures(page.text)[0]["data"][0]["y"] == [4, 0]
    shown = filled(page.text)
    assert [v for n, v in shown if n.startswith("exclusion")] == ["view", "1", "2"]
    reopened = save_and_reopen(console, pid, "funnel", page.text)
    assert filled(reopened) == shown
    assert figures(reopened)[0]["data"][0]["y"] == [4, 0]
    # empty step numbers mean the whole funnel
    whole, _ = run(console, pid, "funnel", "step=signup&step=pay&exclusion=view&range=30d")
    assert [s.count for s in whole.steps] == [4, 0]


def test_funnel_exclusion_errors_name_the_field(console: Console) -> None:
    pid = member(console)
    cases = [
        ("step=a&step=b&exclusion=x&mode=unordered", "排除事件"),
        ("step=a&step=b&step=c&exclusion=x&exclusion_from=2&exclusion_to=2", "到第几步之前"),
        ("step=a&step=b&exclusion=x&exclusion_to=3", "到第几步之前"),
        ("step=a&step=b&exclusion=x&exclusion_from=zero", "从第几步之后"),
    ]
    for qs, field in cases:
        r = get(console, f"/p/{pid}/insights/funnels?{qs}")
        assert r.status_code == 400, qs
        assert field in text_of(r.text, "form-error"), qs


def test_paths_only_these_and_hidden_events(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    result, query = run(console, pid, "paths", PATHS)
    assert query.include_events == ["view", "pay"] and query.exclude_events == ["pay"]
    assert {n.event for n in result.nodes} == {"signup", "view"}
    page = get(console, f"/p/{pid}/insights/paths?{PATHS}")
    assert page.status_code == 200
    labels = figures(page.text)[0]["data"][0]["node"]["label"]
    assert set(labels) == {"signup", "view"}
    shown = filled(page.text)
    assert [v for n, v in shown if n == "include"] == ["view", "pay"]
    assert [v for n, v in shown if n == "exclude"] == ["pay"]
    reopened = save_and_reopen(console, pid, "paths", page.text)
    assert filled(reopened) == shown
    # the older single field ("a,b") still reads as two events
    old, old_query = run(
        console, pid, "paths", "start_event=signup&session_gap=0&exclude=view,pay&range=14d"
    )
    assert old_query.exclude_events == ["view", "pay"]
    assert {n.event for n in old.nodes} == {"signup"}


def test_new_controls_are_in_the_forms(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    trends = get(console, f"/p/{pid}/insights/trends?event=view").text
    assert 'name="s1_filter_key"' in trends and 'name="s2_filter_key"' in trends
    funnel = get(console, f"/p/{pid}/insights/funnels?step=signup&step=view").text
    for name in ("exclusion", "exclusion_from", "exclusion_to"):
        assert f'name="{name}"' in funnel
    paths = get(console, f"/p/{pid}/insights/paths?start_event=signup").text
    assert 'name="include"' in paths and 'name="exclude"' in paths
