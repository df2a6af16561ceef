"""POST /api/projects/{id}/query: every registered metric, typed results, errors, auth."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.query_specs import sample_events, spec_for
from yunying.analytics.registry import load_metric, metric_kinds
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project
from yunying.events.pipeline import write_events


def installed_kinds() -> list[str]:
    out = []
    for kind in metric_kinds():
        try:
            load_metric(kind)
        except ModuleNotFoundError:
            continue
        out.append(kind)
    return out


@dataclass
class Api:
    client: TestClient
    a: int
    a_secret: str
    a_public: str
    b: int
    b_secret: str

    def query(self, body: dict, project: int | None = None, key: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(
            f"/api/projects/{project or self.a}/query",
            json=body,
            headers={"Authorization": f"Bearer {key or self.a_secret}"},
        )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        state = app.state.yunying
        with state.sessions() as s:
            a, a_pub, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B")
            s.commit()
        write_events(state.store, sample_events(a.id))
        write_events(state.store, sample_events(b.id) + sample_events(b.id))  # B: twice as many
        yield Api(client, a.id, a_sec.token, a_pub.token, b.id, b_sec.token)


@pytest.mark.parametrize("kind", installed_kinds())
def test_every_metric_returns_its_typed_result(api: Api, kind: str) -> None:
    r = api.query(spec_for(kind))
    assert r.status_code == 200, r.text
    _, run = load_metric(kind)
    typing.get_type_hints(run)["return"].model_validate(r.json())


def test_trends_numbers(api: Api) -> None:
    body = {**spec_for("trends"), "series": [{"event": "signup"}], "interval": "week"}
    r = api.query(body)
    assert r.status_code == 200
    assert sum(r.json()["series"][0]["values"]) == 2
    b = api.query(body, project=api.b, key=api.b_secret).json()
    assert sum(b["series"][0]["values"]) == 4


def test_openapi_lists_every_kind_as_a_discriminated_union(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    op = schema["paths"]["/api/projects/{project_id}/query"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    kinds = installed_kinds()
    if len(kinds) > 1:
        assert body["discriminator"]["propertyName"] == "kind"
        assert set(body["discriminator"]["mapping"]) == set(kinds)
    names = set(schema["components"]["schemas"])
    for kind in kinds:
        model, run = load_metric(kind)
        assert model.__name__ in names
        assert typing.get_type_hints(run)["return"].__name__ in names
    assert op["security"]  # documented as needing the bearer key


def test_validation_errors_name_the_field(api: Api) -> None:
    r = api.query({"kind": "trends", "series": [{}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "trends", "series", 0, "event"]
    r = api.query({"kind": "nope"})
    assert r.status_code == 422 and "nope" in r.json()["detail"][0]["msg"]
    r = api.query({"kind": "trends", "series": [{"event": "x"}], "interval": "year"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "interval"


def test_metric_rejection_is_a_400(api: Api) -> None:
    bad_filter = {"key": "plan", "operator": "gt", "value": "high"}
    r = api.query({"kind": "trends", "series": [{"event": "x", "filters": [bad_filter]}]})
    assert r.status_code == 400
    assert "needs a number" in r.json()["detail"]


def test_a_key_only_opens_its_own_project(api: Api) -> None:
    body = spec_for("trends")
    assert api.query(body, project=api.b).status_code == 404  # A's key, B's project
    assert api.query(body, project=999).status_code == 404
    assert api.query(body, key=api.a_public).status_code == 401  # public keys cannot read
    assert api.query(body, key="yys_wrong").status_code == 401
    r = api.client.post(f"/api/projects/{api.a}/query", json=body)
    assert r.status_code == 401
