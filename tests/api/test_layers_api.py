"""/api/projects/{id}/layers: settings round trip, summaries, persons, transitions,
compute-and-publish, the layers job, bad input naming the field, and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import ev, load, pid
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project
from yunying.store import derived

AS_OF = "2024-03-31"


@dataclass
class Api:
    client: TestClient
    a: int
    secret: str
    b: int
    b_secret: str
    settings: Settings

    def call(self, method: str, path: str, project: int | None = None, key: str | None = None,
             **kw):  # type: ignore[no-untyped-def]  # fmt: skip
        return self.client.request(
            method,
            f"/api/projects/{project or self.a}/layers{path}",
            headers={"Authorization": f"Bearer {key or self.secret}"},
            **kw,
        )


def sample(project_id: int) -> list:
    return [
        ev("buyer", "purchase", "2024-03-30 10:00", project_id, **{"$revenue": 100}),
        ev("buyer", "purchase", "2024-03-01 10:00", project_id, **{"$revenue": 50}),
        ev("small", "purchase", "2024-01-05 10:00", project_id, **{"$revenue": 5}),
        ev("anon", "purchase", "2024-03-29 10:00", project_id, **{"$revenue": 10}),
        ev("fan", "pv", "2024-03-25 10:00", project_id),
        ev("gone", "pv", "2024-01-01 10:00", project_id),
    ]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        state = app.state.yunying
        with state.sessions() as s:
            a, _, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B")
            s.commit()
        load(state.store, sample(a.id), project_id=a.id, merges={"anon": "small"})
        yield Api(client, a.id, a_sec.token, b.id, b_sec.token, settings)


def test_settings_round_trip_and_validation(api: Api) -> None:
    got = api.call("GET", "/settings")
    assert got.status_code == 200
    assert got.json()["activity"]["core_min_days"] == 15
    assert got.json()["rfm"]["scoring"] == "quantile"
    body = got.json()
    body["activity"]["core_min_days"] = 10
    body["rfm"]["scoring"] = "threshold"
    put = api.call("PUT", "/settings", json=body)
    assert put.status_code == 200, put.text
    assert api.call("GET", "/settings").json()["activity"]["core_min_days"] == 10
    # the other project keeps its defaults
    other = api.call("GET", "/settings", project=api.b, key=api.b_secret).json()
    assert other["activity"]["core_min_days"] == 15

    bad = api.call("PUT", "/settings", json={"activity": {"core_min_days": "many"}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "activity", "core_min_days"]
    bad = api.call("PUT", "/settings", json={"rfm": {"recency_thresholds": [9, 1, 2, 3]}})
    assert bad.status_code == 422 and "recency_thresholds" in str(bad.json()["detail"])
    bad = api.call("PUT", "/settings", json={"activity": {"active_days": 40}})
    assert bad.status_code == 422 and "active_days" in str(bad.json()["detail"])
    bad = api.call("PUT", "/settings", json={"nonsense": 1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "nonsense"]


def test_summaries_and_persons(api: Api) -> None:
    rfm = api.call("GET", "/rfm", params={"as_of": AS_OF})
    assert rfm.status_code == 200, rfm.text
    assert rfm.json()["buyers"] == 2 and rfm.json()["revenue"] == 165.0
    assert len(rfm.json()["groups"]) == 8

    persons = api.call("GET", "/rfm/persons", params={"as_of": AS_OF, "limit": 1})
    assert persons.status_code == 200
    assert persons.json()["total"] == 2
    assert persons.json()["persons"][0]["person_id"] == pid("buyer")

    layers = api.call("GET", "/activity", params={"as_of": AS_OF}).json()
    counts = {c["key"]: c["persons"] for c in layers["layers"]}
    assert layers["persons"] == 4
    assert counts == {"recalled": 1, "core": 0, "active": 2, "churn_risk": 0, "silent": 0,
                      "churned": 1}  # fmt: skip
    recalled = api.call("GET", "/activity/persons", params={"as_of": AS_OF, "layer": "recalled"})
    assert [p["person_id"] for p in recalled.json()["persons"]] == [pid("small")]

    tr = api.call("GET", "/transitions", params={"period": "week", "date": "2024-03-28"})
    assert tr.status_code == 200, tr.text
    assert tr.json()["from_date"] == "2024-03-24" and tr.json()["to_date"] == "2024-03-31"
    assert tr.json()["highlights"]["came_back"] == 1


def test_bad_input_names_the_field(api: Api) -> None:
    r = api.call("GET", "/rfm/persons", params={"group": "vip'; --"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "group"]
    r = api.call("GET", "/activity/persons", params={"layer": "zombie"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "layer"]
    r = api.call("GET", "/activity/persons", params={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = api.call("GET", "/rfm", params={"as_of": "yesterday"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "as_of"]
    r = api.call("GET", "/transitions", params={"period": "year"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "period"]
    r = api.call("GET", "/transitions", params={"date": "2999-01-01"})
    assert r.status_code == 400 and r.json()["detail"].startswith("date:")


def test_compute_publishes(api: Api) -> None:
    r = api.call("POST", "/compute", params={"as_of": AS_OF})
    assert r.status_code == 200, r.text
    report = r.json()
    assert {run["name"] for run in report["runs"]} == {"rfm:group", "rfm:score", "layer:activity"}
    assert report["layers"]["persons"] == 4 and report["rfm"]["buyers"] == 2
    store = api.client.app.state.yunying.store  # type: ignore[attr-defined]
    rows = store.query(derived.values_sql(store.dialect, api.a, "layer:activity")).to_pylist()
    assert {r["person_id"]: r["value_str"] for r in rows}[pid("gone")] == "churned"


def test_the_layers_job_is_registered_and_runs(api: Api) -> None:
    from yunying.jobs.registry import all_jobs, run_job
    from yunying.jobs.resources import share_store

    assert all_jobs()["layers.compute"].schedule == "daily"
    share_store(api.client.app.state.yunying.store)  # type: ignore[attr-defined]
    try:
        out = run_job(api.settings, "layers.compute", api.a)
    finally:
        share_store(None)
    assert date.fromisoformat(out["as_of"]) >= date(2024, 3, 31)  # the project's today
    assert out["persons"] == 4 and "buyers" in out and out["seconds"] >= 0


def test_auth_and_tenant_isolation(api: Api) -> None:
    assert api.call("GET", "/rfm", key="nope").status_code == 401
    assert api.call("GET", "/settings", project=api.b).status_code == 404  # A's key, B's id
    assert api.call("PUT", "/settings", project=api.b, json={}).status_code == 404
    r = api.call("GET", "/activity", project=api.b, key=api.b_secret, params={"as_of": AS_OF})
    assert r.status_code == 200 and r.json()["persons"] == 0
