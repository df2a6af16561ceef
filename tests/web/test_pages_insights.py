"""Insight pages: each kind renders its chart and table, numbers equal the analytics,
bad fields name the field, CSV export, funnel persons, save → pin → dashboard, roles,
and other projects' insights are not found."""

from __future__ import annotations

import csv
import io
import re

import pytest
from starlette.datastructures import QueryParams

from tests.web.conftest import HTML, Console, csrf, login
from tests.web.pages_support import figures, get, join, member, seed, text_of, today
from yunying.analytics.funnels import funnel_persons
from yunying.db.projects import context_for, get_project
from yunying.insights import saved
from yunying.insights.dashboards import list_dashboards
from yunying.web.forms import parse_insight

PAGES = {
    "trends": "event=view&event=signup&interval=day&range=14d",
    "retention": "start_event=signup&return_event=view&period=day&periods=7&range=14d",
    "funnels": "step=signup&step=view&step=pay&range=30d",
    "paths": "start_event=signup&steps=3&range=14d",
    "lifecycle": "event=view&interval=day&range=14d",
    "stickiness": "event=view&interval=day&range=14d",
}


def expected(console: Console, pid: int, kind: str, qs: str):  # type: ignore[no-untyped-def]
    with console.db() as s:
        ctx = context_for(get_project(s, pid))
    query = parse_insight(kind, QueryParams(qs), today=today()).query
    return saved.run_query(console.app.state.yunying.store, ctx, query), query, ctx


@pytest.mark.parametrize("slug", list(PAGES))
def test_every_insight_page_renders_chart_and_table(console: Console, slug: str) -> None:
    pid = member(console)
    seed(console, pid)
    r = get(console, f"/p/{pid}/insights/{slug}?{PAGES[slug]}")
    assert r.status_code == 200, r.text[:500]
    assert 'data-testid="insight-form"' in r.text and 'data-testid="export-csv"' in r.text
    if slug == "retention":
        assert 'data-testid="retention-table"' in r.text
    else:
        assert figures(r.text), "no chart"
    assert 'data-testid="save-panel"' in r.text  # analyst may save


def test_trends_numbers_and_csv_equal_the_analytics(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    qs = PAGES["trends"]
    result, _, _ = expected(console, pid, "trends", qs)
    html = get(console, f"/p/{pid}/insights/trends?{qs}").text
    fig = figures(html)[0]
    assert [t["y"] for t in fig["data"]] == [s.values for s in result.series]
    assert [t["name"] for t in fig["data"]] == ["view", "signup"]
    export = get(console, f"/p/{pid}/insights/trends/export.csv?{qs}")
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0][:2] == ["指标", "合计"] and len(rows[0]) == 2 + 14
    assert rows[1][0] == "view" and int(rows[1][1]) == result.series[0].aggregate == 8
    assert [int(x) for x in rows[1][2:]] == result.series[0].values
    assert int(rows[2][1]) == 6  # six signups


def test_funnel_table_and_persons_per_step(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    qs = PAGES["funnels"]
    result, query, ctx = expected(console, pid, "funnel", qs)
    html = get(console, f"/p/{pid}/insights/funnels?{qs}").text
    assert [s.count for s in result.steps] == [6, 4, 2]
    found = re.search(r'data-testid="step-2-persons"><a href="([^"]+)">([^<]+)</a>', html)
    link, shown_count = found.group(1), found.group(2)
    assert shown_count == "4"
    people = get(console, link.replace("&amp;", "&"))
    assert people.status_code == 200
    ids = funnel_persons(console.app.state.yunying.store, ctx, query, 2)
    shown = re.findall(r'data-testid="person-row" data-person="([^"]+)"', people.text)
    assert sorted(shown) == sorted(ids) and len(shown) == 4
    dropped = re.search(r'data-testid="step-2-dropped"><a href="([^"]+)"', html).group(1)
    gone = get(console, dropped.replace("&amp;", "&"))
    assert len(re.findall(r'data-testid="person-row"', gone.text)) == 2
    csv_text = get(console, f"/p/{pid}/insights/funnels/export.csv?{qs}").text
    assert "步骤转化率" in csv_text.splitlines()[0]


@pytest.mark.parametrize(
    ("slug", "qs", "field"),
    [
        ("trends", "event=view&interval=fortnight", "时间粒度"),
        ("trends", "event=", "事件"),
        ("trends", "event=view&math=sum", "数值属性"),
        ("funnels", "step=signup", "步骤"),
        ("funnels", "step=a&step=b&window=0", "转化窗口期"),
        ("retention", "start_event=signup&periods=many", "显示周期数"),
        ("trends", "event=view&range=custom&date_from=2024-05-02&date_to=2024-05-01", "开始日期"),
        ("trends", "event=view&range=custom&date_from=2024-13-01", "开始日期"),
        ("trends", "event=view&filter_key=n&filter_op=gt&filter_value=abc", "值"),
        ("trends", "event=view&filter_key=n&filter_op=like&filter_value=1", "运算符"),
        ("paths", "start_event=signup&steps=99", "显示步数"),
        ("stickiness", "event=view&range=12d", "时间范围"),
    ],
)
def test_a_bad_field_is_named_never_a_500(console: Console, slug: str, qs: str, field: str) -> None:
    pid = member(console)
    r = get(console, f"/p/{pid}/insights/{slug}?{qs}")
    assert r.status_code == 400
    assert field in text_of(r.text, "form-error")
    assert 'data-testid="insight-form"' in r.text  # the form is shown again
    export = get(console, f"/p/{pid}/insights/{slug}/export.csv?{qs}")
    assert export.status_code == 400 and field in export.text


def test_engine_error_is_a_message(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    r = get(console, f"/p/{pid}/insights/trends?event=view&filter_key=category"
                     "&filter_op=regex&filter_value=(unclosed")  # fmt: skip
    assert r.status_code == 400 and "查询" in text_of(r.text, "form-error")


def test_save_pin_and_dashboard_shows_it(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    c = console.client
    qs = PAGES["funnels"]
    page = get(console, f"/p/{pid}/insights/funnels?{qs}").text
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    r = c.post(
        f"/p/{pid}/insights/save",
        data={"csrf_token": csrf(c), "kind": "funnel", "query": query, "name": "Signup funnel",
              "dashboard_id": "new", "new_dashboard": "Growth"},
        headers=HTML,
    )  # fmt: skip
    assert r.status_code == 200 and "分析已保存" in r.text
    insight_id = int(re.search(r"/insights/saved/(\d+)/update", r.text).group(1))
    assert text_of(r.text, "page-title") == "Signup funnel"
    board = re.search(r'href="/p/\d+/dashboards/(\d+)"', text_of_block(r.text, "pinned-on"))
    board_id = int(board.group(1))
    dash = get(console, f"/p/{pid}/dashboards/{board_id}").text
    assert "Signup funnel" in dash and f'data-insight="{insight_id}"' in dash
    tile_id = int(re.search(r'data-testid="tile-(\d+)"', dash).group(1))
    body = get(console, f"/p/{pid}/dashboards/{board_id}/tiles/{tile_id}").text
    assert figures(body)[0]["data"][0]["y"] == [6, 4, 2]
    # the saved insight reopens with the same numbers and exports them
    reopened = get(console, f"/p/{pid}/insights/saved/{insight_id}").text
    assert figures(reopened)[0]["data"][0]["y"] == [6, 4, 2]
    assert get(console, f"/p/{pid}/insights/saved/{insight_id}/export.csv").status_code == 200
    listing = get(console, f"/p/{pid}/insights").text
    assert f'data-testid="insight-{insight_id}"' in listing
    token = csrf(c)
    bad = c.post(f"/p/{pid}/insights/saved/{insight_id}/rename", data={"csrf_token": token,
                                                                       "name": " "})  # fmt: skip
    assert bad.status_code == 400 and "名称" in text_of(bad.text, "form-error")
    ok = c.post(f"/p/{pid}/insights/saved/{insight_id}/rename",
                data={"csrf_token": token, "name": "Main funnel"}, headers=HTML)  # fmt: skip
    assert ok.status_code == 200 and text_of(ok.text, "page-title") == "Main funnel"
    two = query.replace("&step=pay", "")
    upd = c.post(f"/p/{pid}/insights/saved/{insight_id}/update",
                 data={"csrf_token": token, "query": two}, headers=HTML)  # fmt: skip
    assert figures(upd.text)[0]["data"][0]["y"] == [6, 4]
    gone = c.post(f"/p/{pid}/insights/saved/{insight_id}/delete", data={"csrf_token": token})
    assert gone.status_code == 200
    assert get(console, f"/p/{pid}/insights/saved/{insight_id}").status_code == 404
    assert "Main funnel" not in get(console, f"/p/{pid}/dashboards/{board_id}").text


def text_of_block(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</p>', html, re.S)
    assert match
    return match.group(1)


def test_saving_with_a_bad_name_keeps_nothing(console: Console) -> None:
    pid = member(console)
    c = console.client
    r = c.post(f"/p/{pid}/insights/save",
               data={"csrf_token": csrf(c), "kind": "trends", "query": "event=view", "name": ""},
               headers=HTML)  # fmt: skip
    assert r.status_code == 400 and "名称" in text_of(r.text, "form-error")
    with console.db() as s:
        assert saved.list_insights(s, project_id=pid) == []


def test_a_viewer_cannot_save(console: Console) -> None:
    pid = member(console, "viewer")
    seed(console, pid)
    page = get(console, f"/p/{pid}/insights/trends?event=view")
    assert page.status_code == 200 and 'data-testid="save-panel"' not in page.text
    r = console.client.post(
        f"/p/{pid}/insights/save",
        data={"csrf_token": csrf(console.client), "kind": "trends", "query": "event=view",
              "name": "x"},
        headers=HTML,
    )  # fmt: skip
    assert r.status_code == 403
    no_token = console.client.post(f"/p/{pid}/insights/save", data={"kind": "trends"})
    assert no_token.status_code == 403


def test_other_projects_insights_and_dashboards_are_not_found(console: Console) -> None:
    mine, theirs = console.project("Mine"), console.project("Other")
    join(console, console.user("ann@x.io", "analyst", mine), theirs)
    login(console.client, "ann@x.io")
    c = console.client
    page = get(console, f"/p/{theirs}/insights/trends?event=view").text
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    r = c.post(f"/p/{theirs}/insights/save",
               data={"csrf_token": csrf(c), "kind": "trends", "query": query, "name": "Theirs",
                     "dashboard_id": "new", "new_dashboard": "Their board"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    insight_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    with console.db() as s:
        board_id = list_dashboards(s, project_id=theirs)[0].id
    token = csrf(c)
    for path in [
        f"/p/{mine}/insights/saved/{insight_id}",
        f"/p/{mine}/insights/saved/{insight_id}/export.csv",
        f"/p/{mine}/dashboards/{board_id}",
        f"/p/{mine}/dashboards/{board_id}/tiles/1",
    ]:
        assert get(console, path).status_code == 404, path
    for path, data in [
        (f"/p/{mine}/insights/saved/{insight_id}/rename", {"name": "mine now"}),
        (f"/p/{mine}/insights/saved/{insight_id}/delete", {}),
        (f"/p/{mine}/dashboards/{board_id}/delete", {}),
        (f"/p/{mine}/dashboards/{board_id}/tiles", {"insight_id": str(insight_id)}),
    ]:
        assert c.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    with console.db() as s:
        assert saved.get_insight(s, project_id=theirs, insight_id=insight_id).name == "Theirs"


def test_unordered_funnel_and_a_saved_query_that_no_longer_validates(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    html = get(console, f"/p/{pid}/insights/funnels?step=pay&step=signup&mode=unordered").text
    assert figures(html)[0]["data"][0]["x"] == ["完成 1 步", "完成 2 步"]
    with console.db() as s:
        insight = saved.create_insight(
            s, project_id=pid, name="Old", query=parse_insight(
                "trends", QueryParams("event=view"), today=today()).query
        )  # fmt: skip
        insight.query = '{"kind": "trends", "series": []}'  # written by an older version
        insight_id = insight.id
    r = get(console, f"/p/{pid}/insights/saved/{insight_id}")
    assert r.status_code == 400 and "查询" in text_of(r.text, "form-error")
    tile_board = console.client.post(
        f"/p/{pid}/dashboards", data={"csrf_token": csrf(console.client), "name": "B"},
        follow_redirects=False,
    ).headers["location"].split("?")[0]  # fmt: skip
    console.client.post(f"{tile_board}/tiles", data={"csrf_token": csrf(console.client),
                                                     "insight_id": str(insight_id)})  # fmt: skip
    tile_id = re.search(r'data-testid="tile-(\d+)"', get(console, tile_board).text).group(1)
    tile = get(console, f"{tile_board}/tiles/{tile_id}")
    assert tile.status_code == 200 and 'data-testid="tile-error"' in tile.text


def _pin_options(html: str) -> list[tuple[str, bool]]:
    form = re.search(r'id="pin-form".*?</form>', html, re.S).group(0)
    select = re.search(r'<select id="dashboard-pin".*?</select>', form, re.S).group(0)
    return [(v, bool(sel)) for v, sel in re.findall(r'<option value="([^"]*)"( selected)?', select)]


def test_pin_form_offers_only_valid_choices(console: Console) -> None:
    """The pin form of a saved insight never defaults to "don't pin" (which the server
    refuses): the first dashboard it is not on yet is chosen, else "new dashboard"."""
    pid = member(console)
    seed(console, pid)
    c = console.client
    query = parse_insight("trends", QueryParams("event=view&range=14d"), today=today()).query
    with console.db() as s:
        insight_id = saved.create_insight(s, project_id=pid, name="Views", query=query).id
    alone = get(console, f"/p/{pid}/insights/saved/{insight_id}").text
    assert _pin_options(alone) == [("new", True)]
    token = csrf(c)
    for name in ("Growth", "Weekly"):
        r = c.post(f"/p/{pid}/dashboards", data={"csrf_token": token, "name": name})
        assert r.status_code == 200
    with console.db() as s:
        growth, weekly = sorted(d.id for d in list_dashboards(s, project_id=pid))
    page = get(console, f"/p/{pid}/insights/saved/{insight_id}").text
    assert _pin_options(page) == [(str(growth), True), (str(weekly), False), ("new", False)]
    pin = f"/p/{pid}/insights/saved/{insight_id}/pin"
    pinned = c.post(pin, data={"csrf_token": token, "dashboard_id": str(growth)}, headers=HTML)
    assert pinned.status_code == 200
    # Growth has it now: Weekly is offered first.
    assert _pin_options(pinned.text) == [(str(weekly), True), ("new", False)]
    # The server still refuses an empty choice (an old form, a hand-made request).
    empty = c.post(pin, data={"csrf_token": token, "dashboard_id": ""}, headers=HTML)
    assert empty.status_code == 400 and 'data-testid="form-error"' in empty.text
    # Saving a new insight may still skip pinning.
    fresh = get(console, f"/p/{pid}/insights/trends?event=view").text
    save_choice = re.search(r'id="dashboard-save".*?</select>', fresh, re.S).group(0)
    assert '<option value="">' in save_choice
