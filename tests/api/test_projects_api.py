"""Project settings and API keys over HTTP, and that keys never cross projects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project


@dataclass
class Api:
    client: TestClient
    a: int
    a_secret: str
    b: int
    b_secret: str

    def h(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.a_secret}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        with app.state.yunying.sessions() as s:
            a, _, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B", timezone="UTC")
            s.commit()
        yield Api(client, a.id, a_sec.token, b.id, b_sec.token)


def test_get_and_update_settings(api: Api) -> None:
    r = api.client.get(f"/api/projects/{api.a}", headers=api.h())
    assert r.status_code == 200
    assert r.json()["name"] == "A" and r.json()["timezone"] == "Asia/Shanghai"

    change = {"timezone": "Europe/Berlin", "week_start": 7, "activation_event": "signup"}
    r = api.client.patch(f"/api/projects/{api.a}", json=change, headers=api.h())
    assert r.status_code == 200 and r.json()["week_start"] == 7
    again = api.client.get(f"/api/projects/{api.a}", headers=api.h()).json()
    assert (again["timezone"], again["activation_event"]) == ("Europe/Berlin", "signup")

    r = api.client.patch(f"/api/projects/{api.a}", json={"activation_event": ""}, headers=api.h())
    assert r.json()["activation_event"] is None
    assert r.json()["timezone"] == "Europe/Berlin"  # fields left out are kept


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"week_start": 3}, "week_start"),
        ({"revenue_property": ""}, "revenue_property"),
        ({"name": "   "}, "name"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_invalid_settings_name_the_field(api: Api, body: dict, field: str) -> None:
    r = api.client.patch(f"/api/projects/{api.a}", json=body, headers=api.h())
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", field]


def test_key_life_cycle(api: Api) -> None:
    url = f"/api/projects/{api.a}/keys"
    keys = api.client.get(url, headers=api.h()).json()
    assert [k["kind"] for k in keys] == ["public", "secret"]
    assert keys[0]["token"].startswith("phc_") and keys[1]["token"] is None
    old_id = keys[1]["id"]

    r = api.client.delete(f"{url}/{old_id}", headers=api.h())
    assert r.status_code == 409 and "last active secret key" in r.json()["detail"]

    r = api.client.post(url, json={"kind": "secret", "name": "ci"}, headers=api.h())
    assert r.status_code == 201
    new = r.json()
    assert new["token"].startswith("yys_") and new["name"] == "ci"
    listed = api.client.get(url, headers=api.h(new["token"])).json()
    assert all(k["token"] is None for k in listed if k["kind"] == "secret")  # never again

    r = api.client.delete(f"{url}/{old_id}", headers=api.h(new["token"]))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert api.client.get(f"/api/projects/{api.a}", headers=api.h()).status_code == 401

    r = api.client.post(url, json={"kind": "admin"}, headers=api.h(new["token"]))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]


def test_a_key_never_reaches_another_project(api: Api) -> None:
    for method, path, body in [
        ("GET", f"/api/projects/{api.b}", None),
        ("PATCH", f"/api/projects/{api.b}", {"timezone": "UTC"}),
        ("GET", f"/api/projects/{api.b}/keys", None),
        ("POST", f"/api/projects/{api.b}/keys", {"kind": "secret"}),
        ("DELETE", f"/api/projects/{api.b}/keys/1", None),
    ]:
        r = api.client.request(method, path, json=body, headers=api.h())
        assert r.status_code == 404, (method, path, r.text)
    # B's key ids are not revocable through A's project either
    b_keys = api.client.get(f"/api/projects/{api.b}/keys", headers=api.h(api.b_secret)).json()
    r = api.client.delete(f"/api/projects/{api.a}/keys/{b_keys[0]['id']}", headers=api.h())
    assert r.status_code == 404
    assert api.client.get(f"/api/projects/{api.a}").status_code == 401
