"""The churn page: everyone reads; operators edit rules and settings and run evaluation,
training, scoring and BG/NBD; bad form input names the field."""

from __future__ import annotations

from tests.factories import load
from tests.people.test_churn_model import synthetic
from tests.web.conftest import HTML, Console, csrf
from tests.web.pages_support import figures, get, member, text_of, today


def _seed(console: Console, pid: int) -> None:
    events = synthetic(300, seed=11, today=today(), project_id=pid)
    load(console.app.state.yunying.store, events, project_id=pid)


def test_viewer_reads_but_cannot_change(console: Console) -> None:
    pid = member(console, "viewer")
    page = get(console, f"/p/{pid}/churn")
    assert page.status_code == 200
    assert 'data-testid="rules-table"' in page.text and 'data-testid="rule-form"' not in page.text
    assert 'data-testid="train"' not in page.text and 'data-testid="evaluate"' not in page.text
    token = csrf(console.client)
    for path in (
        "rules",
        "settings",
        "evaluate",
        "train",
        "score",
        "bgnbd",
        "rules/default/delete",
    ):
        r = console.client.post(f"/p/{pid}/churn/{path}", data={"csrf_token": token}, headers=HTML)
        assert r.status_code == 403, path
    assert 'data-rule="default"' in get(console, f"/p/{pid}/churn").text


def test_non_members_get_404(console: Console) -> None:
    other = console.project("Other")
    member(console, "owner")
    assert get(console, f"/p/{other}/churn").status_code == 404


def test_operator_edits_rules_and_bad_input_names_the_field(console: Console) -> None:
    pid = member(console, "operator")
    c = console.client
    token = csrf(c)
    rule = {
        "csrf_token": token, "key": "quiet_3", "name": "三天沉默", "inactive_days": "3",
        "lookback_days": "14", "min_active_days": "2", "events": "view, buy", "enabled": "on",
    }  # fmt: skip
    r = c.post(f"/p/{pid}/churn/rules", data=rule, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=rule_saved")
    page = get(console, f"/p/{pid}/churn").text
    assert 'data-rule="quiet_3"' in page and "三天沉默" in page
    bad = c.post(f"/p/{pid}/churn/rules", data={**rule, "min_active_days": "30"}, headers=HTML)
    assert bad.status_code == 400
    assert 'data-field="min_active_days"' in bad.text and "所需活跃天数" in text_of(
        bad.text, "form-error"
    )
    bad = c.post(f"/p/{pid}/churn/rules", data={**rule, "inactive_days": "soon"}, headers=HTML)
    assert bad.status_code == 400 and 'data-field="inactive_days"' in bad.text
    bad = c.post(f"/p/{pid}/churn/rules", data={**rule, "key": "Not OK"}, headers=HTML)
    assert bad.status_code == 400 and 'data-field="key"' in bad.text
    bad = c.post(f"/p/{pid}/churn/settings", data={"csrf_token": token, "horizon_days": "14",
                 "population_days": "30", "risk_threshold": "7", "purchase_event": "buy",
                 "time_unit": "week"}, headers=HTML)  # fmt: skip
    assert bad.status_code == 400 and 'data-field="risk_threshold"' in bad.text
    r = c.post(
        f"/p/{pid}/churn/rules/quiet_3/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert 'data-rule="quiet_3"' not in get(console, f"/p/{pid}/churn").text


def test_operator_runs_everything(console: Console) -> None:
    pid = member(console, "operator")
    c = console.client
    token = csrf(c)
    failed = c.post(f"/p/{pid}/churn/train", data={"csrf_token": token}, headers=HTML)
    assert failed.status_code == 400 and 'data-testid="form-error"' in failed.text
    _seed(console, pid)
    assert c.post(f"/p/{pid}/churn/evaluate", data={"csrf_token": token}).status_code == 200
    r = c.post(f"/p/{pid}/churn/train", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    settings = {"csrf_token": token, "horizon_days": "14", "population_days": "30",
                "risk_threshold": "0.6", "purchase_event": "buy", "time_unit": "week"}  # fmt: skip
    assert (
        c.post(f"/p/{pid}/churn/settings", data=settings, follow_redirects=False).status_code == 303
    )
    assert (
        c.post(
            f"/p/{pid}/churn/bgnbd", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    page = get(console, f"/p/{pid}/churn").text
    assert float(text_of(page, "roc-auc-value")) > 0.5
    assert 'data-testid="warning-trend"' in page and 'data-testid="importance-chart"' in page
    assert 'data-testid="risk-histogram"' in page and 'data-testid="alive-histogram"' in page
    assert f'href="/p/{pid}/people/' in page and 'data-testid="at-risk-row"' in page
    assert float(text_of(page, "bgnbd-r")) > 0
    kinds = [tr["type"] for fig in figures(page) for tr in fig["data"]]
    assert kinds.count("bar") >= 3 and "scatter" in kinds
    scored = c.post(f"/p/{pid}/churn/score", data={"csrf_token": token}, follow_redirects=False)
    assert scored.status_code == 303 and scored.headers["location"].endswith("notice=scored")
