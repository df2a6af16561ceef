"""``GET /api/projects/{id}/people/{person}``: by person id and by distinct id, derived
values, 404 for unknown ids and for every id of another project."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from tests.factories import ev, load, pid
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project
from yunying.people.profile import Profile
from yunying.store import derived


@dataclass
class Api:
    client: TestClient
    a: int
    a_key: str
    b: int
    b_key: str

    def get(self, person: str, project: int | None = None, key: str | None = None, **params):  # type: ignore[no-untyped-def]
        return self.client.get(
            f"/api/projects/{project or self.a}/people/{person}",
            params=params,
            headers={"Authorization": f"Bearer {key or self.a_key}"},
        )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        state = app.state.yunying
        with state.sessions() as s:
            a, _, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B")
            s.commit()
        load(
            state.store,
            [
                ev("anon/1", "$pageview", "2024-01-08 10:00", project_id=a.id, utm_source="wx"),
                ev("alice", "signup", "2024-01-08 10:05", project_id=a.id),
                ev("alice", "view", "2024-01-09 10:05", project_id=a.id),
            ],
            merges={"anon/1": "alice"},
            person_props={"alice": {"name": "Alice", "city": "上海"}},
            project_id=a.id,
        )
        load(state.store, [ev("bob", "signup", "2024-01-08 10:00", project_id=b.id)],
             project_id=b.id)  # fmt: skip
        layer = pa.table({"person_id": [pid("alice", a.id)], "value_str": ["active"]})
        derived.write_values(state.store, a.id, "layer:activity", layer)
        yield Api(client, a.id, a_sec.token, b.id, b_sec.token)


def test_profile_by_person_and_by_distinct_id(api: Api) -> None:
    r = api.get(pid("alice", api.a))
    assert r.status_code == 200, r.text
    p = Profile.model_validate(r.json())
    assert (p.name, p.properties["city"], p.events, p.active_days) == ("Alice", "上海", 3, 2)
    assert p.first_touch_channel == "wx" and p.attribution.first_touch.type == "utm"
    assert {c.event: c.count for c in p.event_counts} == {"$pageview": 1, "signup": 1, "view": 1}
    assert p.activity_layer == "active" and p.lifecycle.stage == "dormant"
    by_distinct = api.get("anon/1", by="distinct_id")  # a slash in the id is fine
    assert by_distinct.status_code == 200 and by_distinct.json()["id"] == p.id
    assert api.get("alice", by="distinct_id", recent=1).json()["recent"][0]["event"] == "view"


def test_unknown_ids_and_bad_parameters(api: Api) -> None:
    assert api.get("nobody").status_code == 404
    assert api.get("nobody", by="distinct_id").status_code == 404
    r = api.get("alice", by="email")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "by"
    r = api.get(pid("alice", api.a), lifecycle_interval="year")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "lifecycle_interval"


def test_tenant_isolation(api: Api) -> None:
    alice = pid("alice", api.a)
    assert api.get(alice, key=api.b_key).status_code == 404  # B's key on A's project
    assert api.get(alice, project=api.b, key=api.b_key).status_code == 404  # A's person in B
    assert api.get("alice", project=api.b, key=api.b_key, by="distinct_id").status_code == 404
    assert api.get("bob", project=api.b, key=api.b_key, by="distinct_id").status_code == 200
    assert api.client.get(f"/api/projects/{api.a}/people/{alice}").status_code == 401
