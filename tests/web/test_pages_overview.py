"""The overview page: the numbers shown are the analytics' numbers; bad range; isolation."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import Console
from tests.web.pages_support import figures, get, member, seed, text_of, today
from yunying.analytics.aarrr import AarrrQuery, run_aarrr
from yunying.analytics.active_users import ActiveUsersQuery, run_active_users
from yunying.analytics.common import DateRange
from yunying.db.projects import context_for, get_project, update_project
from yunying.web import tables


def test_overview_shows_the_aarrr_and_active_user_figures(console: Console) -> None:
    pid = member(console, "viewer")
    with console.db() as s:
        update_project(s, project=get_project(s, pid), changes={"activation_event": "view"})
    seed(console, pid)
    r = get(console, f"/p/{pid}/overview?range=30")
    assert r.status_code == 200
    with console.db() as s:
        ctx = context_for(get_project(s, pid))
    end = today() - timedelta(days=1)
    dr = DateRange(date_from=end - timedelta(days=29), date_to=end)
    store = console.app.state.yunying.store
    aarrr = run_aarrr(store, ctx, AarrrQuery(date_range=dr), today=today())
    active = run_active_users(store, ctx, ActiveUsersQuery(date_range=dr))
    html = r.text
    cur = aarrr.current
    assert cur.new_persons == 6 and cur.activation_rate == 4 / 6
    assert text_of(html, "overview-new_persons-value") == tables.number(cur.new_persons)
    assert text_of(html, "overview-activation_rate-value") == tables.pct(cur.activation_rate)
    assert text_of(html, "overview-retention_d1-value") == tables.pct(cur.retention_d1)
    assert text_of(html, "overview-paying_persons-value") == tables.number(cur.paying_persons)
    assert text_of(html, "overview-revenue-value") == tables.number(cur.revenue, 2)
    assert cur.revenue == 50.0
    assert text_of(html, "overview-dau-value") == tables.number(active.dau[-1])
    assert text_of(html, "overview-wau-value") == tables.number(active.wau[-1])
    assert text_of(html, "overview-mau-value") == tables.number(active.mau[-1])
    change = text_of(html, "overview-new_persons-change")
    assert change == tables.change(aarrr.change["new_persons"])
    douyin = next(c for c in cur.new_by_channel if c.channel == "douyin")
    assert 'data-testid="channel-douyin"' in html
    assert f'<td class="num">{douyin.persons}</td>' in html
    daily = figures(html)[0]["data"]
    assert [t["y"] for t in daily] == [active.dau, active.wau, active.mau]
    assert "/static/vendor/plotly.min.js" in html and "cdn" not in html.lower()


def test_bad_range_names_the_field_and_empty_project(console: Console) -> None:
    pid = member(console)
    r = get(console, f"/p/{pid}/overview?range=12")
    assert r.status_code == 400
    assert "时间范围" in text_of(r.text, "form-error")
    ok = get(console, f"/p/{pid}/overview")
    assert ok.status_code == 200 and 'data-testid="overview-empty"' in ok.text


def test_another_projects_overview_is_not_found(console: Console) -> None:
    mine = member(console)
    other = console.project("Other")
    seed(console, other)
    assert get(console, f"/p/{other}/overview").status_code == 404
    assert get(console, f"/p/{mine}/overview").status_code == 200
    html = get(console, f"/p/{mine}/overview?range=30").text
    assert 'data-testid="channel-douyin"' not in html  # project 2's channel


def test_english_console(console: Console) -> None:
    pid = member(console)
    r = console.client.get(f"/p/{pid}/overview", headers={"accept": "text/html",
                                                          "accept-language": "en"})  # fmt: skip
    assert "Day-1 retention" in r.text and "次日留存" not in r.text


def test_console_mounts_the_analysis_routers() -> None:
    from yunying.web.app import ROUTE_MODULES
    from yunying.web.routes.registry import CONSOLE_ROUTERS

    assert set(CONSOLE_ROUTERS) <= set(ROUTE_MODULES)
