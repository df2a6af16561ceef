"""HTTP API for churn warning: rules and settings round trips, bad input naming the field,
evaluate → warned persons, train → score → person scores, BG/NBD fit, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import load, pid
from tests.people.test_churn_model import TODAY, synthetic
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project


@dataclass
class Api:
    client: TestClient
    a: int
    key: str
    b: int
    b_key: str
    state: Any = None

    def url(self, path: str, project: int | None = None) -> str:
        return f"/api/projects/{project or self.a}/churn{path}"

    def get(self, path: str, key: str | None = None, project: int | None = None, **params):  # type: ignore[no-untyped-def]
        return self.client.get(
            self.url(path, project),
            params=params,
            headers={"Authorization": f"Bearer {key or self.key}"},
        )

    def send(
        self,
        method: str,
        path: str,
        body: object = None,
        key: str | None = None,
        project: int | None = None,
    ):  # type: ignore[no-untyped-def]
        return self.client.request(
            method,
            self.url(path, project),
            json=body,
            headers={"Authorization": f"Bearer {key or self.key}"},
        )


@pytest.fixture(scope="module")
def events() -> list:
    return synthetic(400, seed=3)


@pytest.fixture
def api(tmp_path: Path, events: list) -> Iterator[Api]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        state = app.state.yunying
        with state.sessions() as s:
            a, _, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B")
            s.commit()
        assert a.id == 1
        load(state.store, events)
        yield Api(client, a.id, a_sec.token, b.id, b_sec.token, state)


RULE = {
    "key": "quiet",
    "name": "Quiet",
    "inactive_days": 5,
    "lookback_days": 30,
    "min_active_days": 3,
}


def test_rules_round_trip_and_bad_input(api: Api) -> None:
    assert api.get("/rules").json()["rules"][0]["key"] == "default"
    r = api.send("PUT", "/rules", {"rules": [RULE]})
    assert r.status_code == 200, r.text
    assert api.get("/rules").json() == {
        "rules": [{**RULE, "events": [], "filters": [], "enabled": True}]
    }
    bad = api.send("PUT", "/rules", {"rules": [{**RULE, "inactive_days": "soon"}]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "inactive_days"
    bad = api.send("PUT", "/settings", {"risk_threshold": 2})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "risk_threshold"


def test_evaluate_then_list_warned_persons(api: Api) -> None:
    api.send("PUT", "/rules", {"rules": [RULE]})
    r = api.send("POST", "/evaluate", {"as_of": TODAY.isoformat()})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["total"] == result["counts"]["quiet"] > 0
    page = api.get("/warnings", limit=5).json()
    assert page["total"] == result["total"] and len(page["persons"]) == min(5, result["total"])
    assert api.get("/warnings", limit=0).status_code == 422
    assert (
        api.send("POST", "/evaluate", {"as_of": "yesterday"}).json()["detail"][0]["loc"][-1]
        == "as_of"
    )


def test_train_score_and_person_scores(api: Api) -> None:
    assert api.send("POST", "/score", {"as_of": TODAY.isoformat()}).status_code == 400  # no model
    r = api.send("POST", "/train", {"today": TODAY.isoformat()})
    assert r.status_code == 200, r.text
    metrics = r.json()
    assert 0.5 < metrics["roc_auc"] <= 1 and metrics["top_features"]
    r = api.send("POST", "/score", {"as_of": TODAY.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["persons"] > 0
    card = api.get("/model").json()
    assert card["classifier"]["roc_auc"] == metrics["roc_auc"] and card["scoring"]["persons"] > 0
    top = api.get("/at-risk", limit=3).json()
    assert len(top) == 3 and top[0]["churn_risk"] >= top[-1]["churn_risk"]
    person = api.get(f"/persons/{top[0]['person_id']}").json()
    assert person["churn_risk"] == top[0]["churn_risk"]
    assert api.get(f"/persons/{pid('nobody')}").json()["churn_risk"] is None

    from yunying.people.segments.service import list_members, list_segments

    with api.state.sessions() as s:
        (segment,) = [g for g in list_segments(session=s, project_id=api.a) if g.system_key]
        assert segment.system_key == "churn_risk" and segment.kind == "system"
        members = list_members(
            session=s, store=api.state.store, project_id=api.a, segment_id=segment.id, limit=1
        )
    risky = [p for p in api.get("/at-risk", limit=1000).json() if p["churn_risk"] >= 0.7]
    assert members.total == len(risky) > 0


def test_bgnbd_fit(api: Api) -> None:
    assert (
        api.send("POST", "/bgnbd/fit", {"as_of": TODAY.isoformat()}).status_code == 400
    )  # no "purchase"
    r = api.send("PUT", "/settings", {"purchase_event": "buy"})
    assert r.status_code == 200 and r.json()["horizon_days"] == 14
    r = api.send("POST", "/bgnbd/fit", {"as_of": TODAY.isoformat()})
    assert r.status_code == 200, r.text
    fit = r.json()
    assert fit["customers"] > 0 and fit["r"] > 0 and fit["log_likelihood"] < 0
    assert api.get("/model").json()["bgnbd"]["customers"] == fit["customers"]
    scores = api.get(f"/persons/{pid('p0')}").json()
    assert scores["p_alive"] is None or 0 <= scores["p_alive"] <= 1


def test_keys_only_open_their_project(api: Api) -> None:
    assert api.get("/rules", key=api.b_key).status_code == 404
    assert api.send("PUT", "/rules", {"rules": []}, key=api.b_key).status_code == 404
    assert api.get("/rules", key=api.b_key, project=api.b).status_code == 200
    assert api.client.get(api.url("/rules")).status_code == 401
