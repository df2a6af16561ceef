"""Channels page: table and charts equal to the service, model switch, bad fields named,
CSV export, a channel's people, cost upload by operators (viewers and analysts read only),
and other projects hidden."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from tests.factories import pid
from tests.web.conftest import HTML, Console, csrf, login
from tests.web.pages_support import ctx, figures, get, join, member, seed, text_of, today
from yunying.people.channels import ChannelQuery, channel_report


def _report(console: Console, pid_: int, **kw):  # type: ignore[no-untyped-def]
    state = console.app.state.yunying
    end = today() - timedelta(days=1)
    q = ChannelQuery(date_range={"date_from": end - timedelta(days=29), "date_to": end}, **kw)
    with state.sessions() as s:
        return channel_report(session=s, store=state.store, ctx=ctx(pid_), query=q)


def _channels(html: str) -> list[str]:
    return re.findall(r'data-testid="row-([^"]+)"', html)


def test_table_and_charts_match_the_service(console: Console) -> None:
    project = member(console, "viewer")
    seed(console, project)
    r = get(console, f"/p/{project}/channels")
    assert r.status_code == 200
    expected = _report(console, project)
    assert _channels(r.text) == [c.channel for c in expected.channels] + ["$total"]
    assert [c.channel for c in expected.channels] == ["douyin", "seo", "app_store"]
    assert re.search(
        r'data-testid="row-douyin"><a href="/p/\d+/channels/people\?[^"]*channel=douyin', r.text
    )
    new_chart, retention_chart = figures(r.text)
    assert {t["name"]: sum(t["y"]) for t in new_chart["data"]} == {"douyin": 3, "seo": 2,
                                                                  "app_store": 1}  # fmt: skip
    assert new_chart["layout"]["barmode"] == "stack"
    assert [t["name"] for t in retention_chart["data"]] == ["次日留存", "7 日留存", "30 日留存"]
    assert 'data-testid="costs-read-only"' in r.text and "costs-form" not in r.text
    assert "首次触达" in r.text


def test_model_switch_and_bad_fields(console: Console) -> None:
    project = member(console)
    seed(console, project)
    last = get(console, f"/p/{project}/channels?model=last_touch&conversion_event=signup")
    assert last.status_code == 200 and "末次触达" in text_of(last.text, "channels-period")
    for query, field in [
        ("model=middle", "model"),
        ("range=custom&date_from=2024-02-01&date_to=2024-01-01", "date_from"),
        ("range=custom&date_from=someday", "date_from"),
        ("revenue_days=0", "revenue_days"),
        ("range=45d", "range"),
        ("interval=year", "interval"),
    ]:
        r = get(console, f"/p/{project}/channels?{query}")
        assert r.status_code == 400, query
        assert re.search(rf'data-testid="form-error" data-field="{field}"', r.text), query
    r = get(console, f"/p/{project}/channels?revenue_days=0")
    assert "收入统计天数" in text_of(r.text, "form-error")  # the message names the field


def test_csv_export_and_channel_people(console: Console) -> None:
    project = member(console)
    seed(console, project)
    r = get(console, f"/p/{project}/channels/export.csv?range=30d")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    expected = _report(console, project)
    assert [row[0] for row in rows[1:]] == [c.channel for c in expected.channels] + ["$total"]
    assert rows[1][1] == str(expected.channels[0].new_persons)
    people = get(console, f"/p/{project}/channels/people?range=30d&channel=douyin")
    assert people.status_code == 200
    found = set(re.findall(r'data-testid="person-row" data-person="([^"]+)"', people.text))
    assert found == {pid(u, project) for u in ("u1", "u3", "u5")}
    assert "douyin" in text_of(people.text, "channel-of-people")
    missing = get(console, f"/p/{project}/channels/people?range=30d")
    assert missing.status_code == 400 and "渠道" in text_of(missing.text, "form-error")


def test_operators_upload_costs(console: Console) -> None:
    project = member(console, "operator")
    seed(console, project)
    day = (today() - timedelta(days=5)).isoformat()
    body = f"date,channel,cost\n{day},douyin,90\n{day},seo,0\n".encode()
    token = csrf(console.client, f"/p/{project}/channels")
    page = get(console, f"/p/{project}/channels")
    assert 'data-testid="costs-form"' in page.text
    r = console.client.post(
        f"/p/{project}/channels/costs",
        data={"csrf_token": token, "model": "first_touch", "range": "30d"},
        files={"file": ("costs.csv", body, "text/csv")},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "notice=imported" in r.headers["location"] and "range=30d" in r.headers["location"]
    after = get(console, r.headers["location"])
    assert "已导入 2 条成本" in after.text
    assert len(re.findall(r'data-testid="cost-row"', after.text)) == 2
    names = [f["data"][0]["name"] for f in figures(after.text)]
    assert names[1:] == ["7 日留存", "ROI"]  # CAC vs D7 scatter and ROI bars
    scatter = figures(after.text)[1]["data"][0]
    assert scatter["text"] == ["douyin", "seo"] and scatter["x"] == [30.0, 0.0]  # 90 / 3 persons
    assert re.search(r'data-testid="stat-cost">.*?data-value="90.0">90.00<', after.text, re.S)
    again = console.client.post(
        f"/p/{project}/channels/costs",
        data={"csrf_token": token},
        files={"file": ("costs.csv", body, "text/csv")},
        headers=HTML,
        follow_redirects=False,
    )
    assert again.status_code == 303 and "inserted=0" in again.headers["location"]


def test_bad_upload_lists_rows_and_fields(console: Console) -> None:
    project = member(console, "admin")
    token = csrf(console.client, f"/p/{project}/channels")
    bad = b"date,channel,cost\n2024-01-01,ads,lots\nnever,,1\n"
    r = console.client.post(
        f"/p/{project}/channels/costs",
        data={"csrf_token": token},
        files={"file": ("bad.csv", bad, "text/csv")},
        headers=HTML,
    )
    assert r.status_code == 400
    found = re.findall(
        r'data-testid="upload-error-row" data-row="(\d+)" data-field="(\w+)"', r.text
    )
    assert found == [("2", "cost"), ("3", "date"), ("3", "channel")]
    assert "第 2 行，成本" in r.text
    empty = console.client.post(
        f"/p/{project}/channels/costs",
        data={"csrf_token": token},
        files={"file": ("", b"", "text/csv")},
        headers=HTML,
    )
    assert empty.status_code == 400 and 'data-testid="upload-error"' in empty.text


def test_viewers_and_analysts_cannot_upload_and_csrf_is_required(console: Console) -> None:
    project = member(console, "analyst")
    token = csrf(console.client, f"/p/{project}/channels")
    files = {"file": ("c.csv", b"date,channel,cost\n2024-01-01,ads,1\n", "text/csv")}
    r = console.client.post(f"/p/{project}/channels/costs", data={"csrf_token": token},
                            files=files, headers=HTML)  # fmt: skip
    assert r.status_code == 403
    viewer = console.new_client()
    uid = console.user("vic@x.io")
    join(console, uid, project, "viewer")
    login(viewer, "vic@x.io")
    r = viewer.post(f"/p/{project}/channels/costs", data={"csrf_token": csrf(viewer)},
                    files=files, headers=HTML)  # fmt: skip
    assert r.status_code == 403
    operator = console.new_client()
    oid = console.user("ops@x.io")
    join(console, oid, project, "operator")
    login(operator, "ops@x.io")
    no_token = operator.post(f"/p/{project}/channels/costs", files=files, headers=HTML)
    assert no_token.status_code == 403


def test_other_projects_are_hidden(console: Console) -> None:
    project = member(console)
    other = console.project("Other")
    seed(console, other)
    for path in ("channels", "channels/export.csv", "channels/costs.csv",
                 "channels/people?channel=douyin"):  # fmt: skip
        assert get(console, f"/p/{other}/{path}").status_code == 404, path
    r = get(console, f"/p/{project}/channels")
    assert r.status_code == 200 and 'data-testid="channels-empty"' in r.text
