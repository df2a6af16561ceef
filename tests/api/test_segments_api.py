"""/api/projects/{id}/segments: CRUD, preview, refresh, members, CSV, history, errors, auth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import ev, load, pid
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project

BUYERS = {"type": "behaviour", "event": "buy", "window": {"last_days": 7}}


@dataclass
class Api:
    client: TestClient
    a: int
    b: int
    a_secret: str
    b_secret: str

    def call(
        self, method: str, path: str, key: str | None = None, project: int | None = None, **kw: Any
    ):  # type: ignore[no-untyped-def]
        url = f"/api/projects/{project or self.a}/segments{path}"
        headers = {"Authorization": f"Bearer {key or self.a_secret}"}
        return self.client.request(method, url, headers=headers, **kw)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        state = app.state.yunying
        with state.sessions() as s:
            a, _, a_sec = create_project(s, name="A")
            b, _, b_sec = create_project(s, name="B")
            s.commit()
        yesterday = datetime.now(UTC) - timedelta(days=1)
        load(
            state.store,
            [ev(u, e, yesterday, project_id=a.id) for u, e in [("b1", "buy"), ("b2", "buy"),
             ("o1", "pv")]],
            project_id=a.id,
        )  # fmt: skip
        yield Api(client, a.id, b.id, a_sec.token, b_sec.token)


def test_round_trip(api: Api) -> None:
    r = api.call("POST", "", json={"name": "Buyers", "definition": BUYERS})
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["kind"] == "dynamic" and seg["definition"]["event"] == "buy"
    assert [s["id"] for s in api.call("GET", "").json()] == [seg["id"]]
    preview = api.call("POST", "/preview", json={"definition": BUYERS, "sample": 1}).json()
    assert preview["count"] == 2 and len(preview["sample"]) == 1
    refresh = api.call("POST", f"/{seg['id']}/refresh").json()
    assert (refresh["members"], refresh["entered"], refresh["left"]) == (2, 2, 0)
    members = api.call("GET", f"/{seg['id']}/members", params={"limit": 1, "offset": 1}).json()
    assert members["total"] == 2 and len(members["person_ids"]) == 1
    csv = api.call("GET", f"/{seg['id']}/export")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "person_id,distinct_ids" and len(csv.text.splitlines()) == 3
    history = api.call("GET", f"/{seg['id']}/history").json()
    assert [r["entered"] for r in history["runs"]] == [2]
    assert {c["change"] for c in history["changes"]} == {"entered"}
    patched = api.call(
        "PATCH",
        f"/{seg['id']}",
        json={"name": "Big", "definition": {**BUYERS, "count": {"value": 5}}},
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Big"
    assert api.call("POST", f"/{seg['id']}/refresh").json()["left"] == 2
    assert api.call("DELETE", f"/{seg['id']}").status_code == 204
    assert api.call("GET", f"/{seg['id']}").status_code == 404


def test_static_upload(api: Api) -> None:
    seg = api.call("POST", "", json={"name": "list", "kind": "static"}).json()
    assert seg["definition"] is None
    files = {"file": ("ids.csv", b"distinct_id\nb1\no1\nghost\n", "text/csv")}
    r = api.call("POST", f"/{seg['id']}/upload", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["matched"] == 2 and body["unknown"] == ["ghost"] and body["refresh"]["entered"] == 2
    members = api.call("GET", f"/{seg['id']}/members").json()["person_ids"]
    assert members == sorted([pid("b1", api.a), pid("o1", api.a)])
    bad = api.call(
        "POST", f"/{seg['id']}/upload", files={"file": ("x.csv", b"email\nx\n", "text/csv")}
    )
    assert bad.status_code == 400 and bad.json()["detail"].startswith("file:")
    assert api.call("POST", f"/{seg['id']}/refresh").status_code == 400


def test_errors_name_the_dsl_path(api: Api) -> None:
    bad = {
        "op": "and",
        "conditions": [
            BUYERS,
            {"type": "behaviour", "event": "x", "count": {"comparator": "most"}},
        ],
    }
    r = api.call("POST", "/preview", json={"definition": bad})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == [
        "body",
        "definition",
        "conditions",
        "1",
        "count",
        "comparator",
    ]
    r = api.call("POST", "", json={"name": "x", "definition": {"type": "nope"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "definition"]
    r = api.call("POST", "", json={"name": "x"})
    assert r.status_code == 422 and "definition" in r.text
    r = api.call(
        "POST", "", json={"name": "x", "definition": {"type": "in_segment", "segment_id": 99}}
    )
    assert r.status_code == 422 and "does not exist" in r.text
    r = api.call("POST", "", json={"name": "", "definition": BUYERS})
    assert r.status_code == 422 and "name" in r.text
    r = api.call(
        "POST",
        "/preview",
        json={
            "definition": {
                "type": "person_property",
                "key": "k",
                "operator": "regex",
                "value": "(?=x)",
            }
        },
    )
    assert r.status_code == 400 and r.json()["detail"].startswith("definition:")


def test_tenant_isolation_and_auth(api: Api) -> None:
    seg = api.call("POST", "", json={"name": "Buyers", "definition": BUYERS}).json()
    s = f"/{seg['id']}"
    calls = [("GET", s), ("POST", f"{s}/refresh"), ("GET", f"{s}/members")]
    calls += [("GET", f"{s}/export"), ("DELETE", s), ("GET", f"{s}/history")]
    for method, path in calls:
        r = api.call(method, path, key=api.b_secret, project=api.b)
        assert r.status_code == 404, (method, path, r.text)
        assert api.call(method, path, key=api.b_secret).status_code == 404  # B's key on A
    assert api.call("GET", "", key=api.b_secret, project=api.b).json() == []
    assert api.client.get(f"/api/projects/{api.a}/segments").status_code == 401
    # B cannot point at A's segment either
    r = api.call(
        "POST",
        "",
        key=api.b_secret,
        project=api.b,
        json={"name": "x", "definition": {"type": "in_segment", "segment_id": seg["id"]}},
    )
    assert r.status_code == 422
