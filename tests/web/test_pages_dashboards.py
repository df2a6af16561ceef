"""Dashboard pages: create, rename, pin, arrange, unpin, delete; viewers only look."""

from __future__ import annotations

import re

from tests.web.conftest import HTML, Console, csrf, login
from tests.web.pages_support import get, member, seed, text_of
from yunying.analytics.common import DateRange, EventSelector
from yunying.analytics.trends import TrendsQuery
from yunying.insights import saved


def _insights(console: Console, pid: int, n: int) -> list[int]:
    with console.db() as s:
        return [
            saved.create_insight(
                s,
                project_id=pid,
                name=f"Views {i}",
                query=TrendsQuery(series=[EventSelector(event="view")], date_range=DateRange()),
                options={"range_days": 14, "chart": "bar"},
            ).id
            for i in range(n)
        ]


def _order(html: str) -> list[str]:
    return re.findall(r'data-testid="tile-\d+" data-insight="(\d+)"', html)


def test_create_arrange_and_delete_a_dashboard(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    ids = _insights(console, pid, 3)
    c = console.client
    token = csrf(c)
    empty = c.post(f"/p/{pid}/dashboards", data={"csrf_token": token, "name": "  "}, headers=HTML)
    assert empty.status_code == 400 and "名称" in text_of(empty.text, "form-error")
    r = c.post(f"/p/{pid}/dashboards", data={"csrf_token": token, "name": "运营周报"},
               follow_redirects=False)  # fmt: skip
    board = r.headers["location"].split("?")[0]
    for i in ids:
        c.post(f"{board}/tiles", data={"csrf_token": token, "insight_id": str(i)})
    page = get(console, board).text
    assert _order(page) == [str(i) for i in ids] and text_of(page, "page-title") == "运营周报"
    tiles = re.findall(r'data-testid="tile-(\d+)"', page)
    moved = c.post(f"{board}/tiles/{tiles[2]}/move", data={"csrf_token": token, "direction": "up"},
                   headers=HTML)  # fmt: skip
    assert _order(moved.text) == [str(ids[0]), str(ids[2]), str(ids[1])]
    bad = c.post(f"{board}/tiles/{tiles[0]}/move", data={"csrf_token": token, "direction": "x"},
                 headers=HTML)  # fmt: skip
    assert bad.status_code == 400 and "方向" in text_of(bad.text, "form-error")
    tile = get(console, f"{board}/tiles/{tiles[0]}")
    assert tile.status_code == 200 and '"type": "bar"' in tile.text
    c.post(f"{board}/tiles/{tiles[1]}/remove", data={"csrf_token": token})
    assert _order(get(console, board).text) == [str(ids[0]), str(ids[2])]
    renamed = c.post(f"{board}/rename", data={"csrf_token": token, "name": "Weekly"},
                     headers=HTML)  # fmt: skip
    assert text_of(renamed.text, "page-title") == "Weekly"
    listing = get(console, f"/p/{pid}/dashboards").text
    assert "Weekly" in listing
    c.post(f"{board}/delete", data={"csrf_token": token})
    assert get(console, board).status_code == 404
    with console.db() as s:  # the insights outlive the dashboard
        assert len(saved.list_insights(s, project_id=pid)) == 3


def test_viewers_see_dashboards_but_cannot_change_them(console: Console) -> None:
    pid = member(console, "analyst")
    ids = _insights(console, pid, 1)
    c = console.client
    r = c.post(f"/p/{pid}/dashboards", data={"csrf_token": csrf(c), "name": "Shared"},
               follow_redirects=False)  # fmt: skip
    board = r.headers["location"].split("?")[0]
    c.post(f"{board}/tiles", data={"csrf_token": csrf(c), "insight_id": str(ids[0])})
    console.user("vic@x.io", "viewer", pid)
    viewer = console.new_client()
    login(viewer, "vic@x.io")
    page = viewer.get(board, headers=HTML)
    assert page.status_code == 200 and "Views 0" in page.text  # shared within the project
    assert 'data-testid="create-dashboard"' not in viewer.get(f"/p/{pid}/dashboards",
                                                              headers=HTML).text  # fmt: skip
    token = csrf(viewer)
    for path, data in [
        (f"/p/{pid}/dashboards", {"name": "Mine"}),
        (f"{board}/rename", {"name": "Mine"}),
        (f"{board}/delete", {}),
        (f"{board}/tiles", {"insight_id": str(ids[0])}),
    ]:
        assert viewer.post(path, data={**data, "csrf_token": token}).status_code == 403, path
