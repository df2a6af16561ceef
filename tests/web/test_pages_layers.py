"""The layers console page: numbers, charts, the transition matrix, person lists, the
settings form (operators edit, analysts and viewers read), bad input naming the field,
compute-and-publish, and project isolation."""

from __future__ import annotations

import re

import pytest

from tests.factories import ev, load, pid
from tests.web.conftest import HTML, Console, csrf, login
from tests.web.pages_support import ago, figures, get, member
from yunying.store import derived


def seed(console: Console, project_id: int) -> None:
    """buyer: active 2 days ago (bought twice); fan: active yesterday; gone: 60 days ago;
    back: 70 days ago and 1 day ago through a merged anonymous id (recalled)."""
    events = [
        ev("buyer", "purchase", ago(2), project_id=project_id, **{"$revenue": 128}),
        ev("buyer", "purchase", ago(20), project_id=project_id, **{"$revenue": 30}),
        ev("fan", "pv", ago(1), project_id=project_id),
        ev("gone", "purchase", ago(60), project_id=project_id, **{"$revenue": 6}),
        ev("back", "pv", ago(70), project_id=project_id),
        ev("anon", "pv", ago(1, "23:30"), project_id=project_id),
    ]
    load(console.app.state.yunying.store, events, project_id=project_id,
         merges={"anon": "back"}, person_props={"buyer": {"name": "Alice"}})  # fmt: skip


@pytest.fixture
def analyst(console: Console) -> int:
    project_id = member(console, "analyst")
    seed(console, project_id)
    return project_id


def test_page_shows_layers_groups_and_transitions(console: Console, analyst: int) -> None:
    r = get(console, f"/p/{analyst}/layers")
    assert r.status_code == 200, r.text
    html = r.text
    assert 'data-testid="stat-persons-value">4<' in html
    assert 'data-testid="stat-buyers-value">2<' in html
    assert 'data-testid="layer-count-recalled">1<' in html
    assert 'data-testid="layer-count-active">2<' in html
    assert 'data-testid="layer-count-churned">1<' in html
    charts = figures(html)
    assert len(charts) == 3  # layers, RFM, transitions heatmap
    layer_chart = next(f for f in charts if f["data"][0].get("orientation") == "h")
    assert sum(layer_chart["data"][0]["x"]) == 4
    heat = next(f for f in charts if f["data"][0]["type"] == "heatmap")
    assert len(heat["data"][0]["z"]) == 6
    rfm = next(
        f for f in charts if f["data"][0]["type"] == "bar" and "orientation" not in f["data"][0]
    )
    assert sum(rfm["data"][0]["y"]) == 2 and rfm["data"][1]["yaxis"] == "y2"
    assert (
        'data-testid="transitions-table"' in html and 'data-testid="cell-churned-recalled"' in html
    )
    # analysts read but do not edit
    assert 'data-testid="settings-readonly"' in html
    assert 'data-testid="settings-save"' not in html and 'data-testid="compute"' not in html


def test_chinese_page(console: Console, analyst: int) -> None:
    html = console.client.get(
        f"/p/{analyst}/layers", headers={**HTML, "accept-language": "zh-CN"}
    ).text
    assert "用户分层" in html and "重要价值" in html and "已召回" in html and "分层流转" in html


def test_person_lists(console: Console, analyst: int) -> None:
    html = get(console, f"/p/{analyst}/layers").text
    link = re.search(r'href="(/p/\d+/layers/persons\?kind=layer&amp;key=recalled[^"]*)"', html)
    assert link
    r = get(console, link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200
    assert f'data-person="{pid("back")}"' in r.text
    assert f"/p/{analyst}/people/{pid('back')}" in r.text
    # buyer (R 2 days, 2 purchases, 158) beats gone (60 days, 1, 6) on all three: 重要价值
    r = get(console, f"/p/{analyst}/layers/persons?kind=rfm&key=important_value")
    assert r.status_code == 200 and "Alice" in r.text and "<code>555</code>" in r.text
    empty = get(console, f"/p/{analyst}/layers/persons?kind=rfm&key=general_keep")
    assert empty.status_code == 200 and 'data-testid="persons-empty"' in empty.text


def test_bad_input_names_the_field(console: Console, analyst: int) -> None:
    r = get(console, f"/p/{analyst}/layers?as_of=2999-01-01")
    assert r.status_code == 400 and 'data-field="as_of"' in r.text
    r = get(console, f"/p/{analyst}/layers?period=year")
    assert r.status_code == 400 and 'data-field="period"' in r.text
    r = get(console, f"/p/{analyst}/layers/persons?kind=layer&key=zombie")
    assert r.status_code == 400 and 'data-field="key"' in r.text
    r = get(console, f"/p/{analyst}/layers/persons?kind=other&key=core")
    assert r.status_code == 400 and 'data-field="kind"' in r.text


def settings_form(**changes: str) -> dict[str, str]:
    form = {
        "activity.events": "", "activity.core_window_days": "30", "activity.core_min_days": "15",
        "activity.active_days": "7", "activity.churned_days": "30",
        "activity.risk_inactive_days": "14", "activity.risk_prior_days": "30",
        "activity.risk_min_days": "5", "activity.recall_lookback_days": "7",
        "rfm.purchase_event": "purchase", "rfm.revenue_property": "", "rfm.window_days": "365",
        "rfm.scoring": "quantile", "rfm.split": "mean",
        "rfm.recency_thresholds": "7, 30, 90, 180", "rfm.frequency_thresholds": "2, 3, 5, 10",
        "rfm.monetary_thresholds": "100, 300, 1000, 3000",
    }  # fmt: skip
    return {**form, **changes}


def test_operator_edits_settings_and_computes(console: Console) -> None:
    project_id = member(console, "operator", email="op@x.io")
    seed(console, project_id)
    page = get(console, f"/p/{project_id}/layers").text
    assert 'data-testid="settings-save"' in page and 'data-testid="compute"' in page
    token = csrf(console.client, f"/p/{project_id}/layers")
    url = f"/p/{project_id}/layers/settings"
    data = {**settings_form(**{"activity.active_days": "3"}), "csrf_token": token}
    r = console.client.post(url, data=data, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=saved")
    html = get(console, f"/p/{project_id}/layers").text
    assert 'name="activity.active_days" type="number" min="1" max="3650" required value="3"' in html

    bad = console.client.post(url, data={**settings_form(**{"activity.core_min_days": "lots"}),
                                         "csrf_token": token}, headers=HTML)  # fmt: skip
    assert bad.status_code == 400 and 'data-field="activity.core_min_days"' in bad.text
    assert 'value="lots"' in bad.text  # the entered values are kept
    bad = console.client.post(url, data={**settings_form(**{"activity.active_days": "40"}),
                                         "csrf_token": token}, headers=HTML)  # fmt: skip
    assert bad.status_code == 400 and 'data-field="activity.active_days"' in bad.text
    bad = console.client.post(url, data={**settings_form(**{"rfm.recency_thresholds": "9, 1"}),
                                         "csrf_token": token}, headers=HTML)  # fmt: skip
    assert bad.status_code == 400 and 'data-field="rfm.recency_thresholds"' in bad.text

    r = console.client.post(f"/p/{project_id}/layers/compute", data={"csrf_token": token},
                            headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "notice=computed" in r.headers["location"]
    done = get(console, r.headers["location"]).text
    assert 'data-testid="success-message"' in done
    store = console.app.state.yunying.store
    assert derived.latest_run(store, project_id, "layer:activity").row_count == 4  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_readers_cannot_change_anything(console: Console, role: str) -> None:
    project_id = member(console, role, email=f"{role}@x.io")
    token = csrf(console.client, f"/p/{project_id}/layers")
    data = {**settings_form(), "csrf_token": token}
    r = console.client.post(f"/p/{project_id}/layers/settings", data=data, headers=HTML)
    assert r.status_code == 403
    r = console.client.post(f"/p/{project_id}/layers/compute", data={"csrf_token": token},
                            headers=HTML)  # fmt: skip
    assert r.status_code == 403
    assert derived.latest_run(console.app.state.yunying.store, project_id, "layer:activity") is None


def test_other_projects_are_hidden(console: Console, analyst: int) -> None:
    other = console.project("Other")
    assert get(console, f"/p/{other}/layers").status_code == 404
    assert get(console, f"/p/{other}/layers/persons?kind=layer&key=core").status_code == 404
    anonymous = console.new_client()
    r = anonymous.get(f"/p/{analyst}/layers", headers=HTML, follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    login(anonymous, "nobody@x.io")  # a failed sign-in changes nothing
