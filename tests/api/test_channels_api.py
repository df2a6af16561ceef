"""``/api/projects/{id}/channels``: the report (typed, both models), new persons of a
channel, cost import by upload / CSV body / JSON with idempotent re-import and row errors,
listing and deleting costs, bad parameters naming the field, and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import ev, load, pid
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_project
from yunying.people.channel_costs import ImportResult
from yunying.people.channels import ChannelReport

RANGE = {"date_from": "2024-01-08", "date_to": "2024-01-14"}
CSV = "date,channel,cost\n2024-01-08,ads,30\n2024-01-09,seo,10\n2024-01-20,ads,99\n"


@dataclass
class Api:
    client: TestClient
    a: int
    a_key: str
    b: int
    b_key: str

    def h(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.a_key}"}

    def get(self, path: str, project: int | None = None, key: str | None = None, **params):  # type: ignore[no-untyped-def]
        return self.client.get(
            f"/api/projects/{project or self.a}/channels{path}", params=params, headers=self.h(key)
        )

    def post(self, path: str, project: int | None = None, key: str | None = None,
             content_type: str | None = None, **kw):  # type: ignore[no-untyped-def]  # fmt: skip
        headers = self.h(key) | ({"content-type": content_type} if content_type else {})
        return self.client.post(
            f"/api/projects/{project or self.a}/channels{path}", headers=headers, **kw
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
        events = [
            ev("u1", "pageview", "2024-01-08 10:00", project_id=a.id, channel="ads"),
            ev("u1", "pay", "2024-01-09 10:00", project_id=a.id, **{"$revenue": 60}),
            ev("u2", "pageview", "2024-01-09 10:00", project_id=a.id, channel="ads"),
            ev("u2", "signup", "2024-01-09 11:00", project_id=a.id, utm_source="seo"),
            ev("u3", "pageview", "2024-01-10 10:00", project_id=a.id),
        ]
        load(state.store, events, project_id=a.id)
        load(state.store, [ev("x", "pageview", "2024-01-08 10:00", project_id=b.id,
                              channel="ads")], project_id=b.id)  # fmt: skip
        yield Api(client, a.id, a_sec.token, b.id, b_sec.token)


def test_report_first_and_last_touch(api: Api) -> None:
    r = api.get("", **RANGE)
    assert r.status_code == 200, r.text
    report = ChannelReport.model_validate(r.json())
    assert {c.channel: c.new_persons for c in report.channels} == {"ads": 2, "direct": 1}
    assert report.total.revenue == 60.0 and report.has_costs is False
    last = ChannelReport.model_validate(
        api.get("", model="last_touch", conversion_event="signup", **RANGE).json()
    )
    assert {c.channel: c.new_persons for c in last.channels} == {
        "ads": 1, "seo": 1, "direct": 1,
    }  # fmt: skip
    persons = api.get("/persons", channel="ads", **RANGE)
    assert persons.status_code == 200
    assert {p["person_id"] for p in persons.json()} == {pid("u1", api.a), pid("u2", api.a)}


def test_cost_upload_is_idempotent_and_feeds_cac(api: Api) -> None:
    r = api.post("/costs", files={"file": ("costs.csv", CSV.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert ImportResult.model_validate(r.json()).inserted == 3
    again = api.post("/costs", content=CSV.encode(), content_type="text/csv")
    assert again.status_code == 200 and again.json()["unchanged"] == 3
    report = ChannelReport.model_validate(api.get("", **RANGE).json())
    ads = next(c for c in report.channels if c.channel == "ads")
    assert (ads.cost, ads.cac, ads.roi) == (30.0, 15.0, 1.0)  # (60 - 30) / 30
    seo = next(c for c in report.channels if c.channel == "seo")
    assert (seo.new_persons, seo.cost, seo.cac, seo.roi) == (0, 10.0, None, -1.0)
    listed = api.get("/costs", date_from="2024-01-01", date_to="2024-01-10").json()
    assert listed["total"] == 40.0 and len(listed["rows"]) == 2
    as_csv = api.get("/costs", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0] == "date,channel,cost,currency"
    gone = api.client.delete(
        f"/api/projects/{api.a}/channels/costs",
        params={"date_from": "2024-01-20", "date_to": "2024-01-20"},
        headers=api.h(),
    )
    assert gone.json() == {"deleted": 1}


def test_json_rows_and_row_errors(api: Api) -> None:
    ok = api.post("/costs", json={"rows": [{"date": "2024-01-08", "channel": "ads", "cost": 5}]})
    assert ok.status_code == 200 and ok.json()["inserted"] == 1
    bad = api.post("/costs", json={"rows": [
        {"date": "2024-01-08", "channel": "ads", "cost": 5},
        {"date": "08/01/2024", "channel": "ads", "cost": "five"},
    ]})  # fmt: skip
    assert bad.status_code == 422
    assert [(e["row"], e["field"]) for e in bad.json()["detail"]] == [(2, "date"), (2, "cost")]
    upload = api.post("/costs", files={"file": ("c.csv", b"date,channel\n2024-01-08,ads\n")})
    assert upload.status_code == 422 and upload.json()["detail"][0]["field"] == "cost"
    for body, field in [
        ({"rows": "nope"}, "rows"),
        ([1, 2], "rows"),
    ]:
        r = api.post("/costs", json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field
    garbage = api.post("/costs", content=b"\x00not json", content_type="application/json")
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["field"] == "body"
    missing = api.post("/costs", files={"other": ("c.csv", b"x")})
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "file"
    assert api.get("/costs").json()["total"] == 5.0  # the bad imports wrote nothing


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"model": "middle_touch"}, "model"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_from"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"revenue_days": "0"}, "revenue_days"),
        ({"activation_days": "400"}, "activation_days"),
        ({"interval": "year"}, "interval"),
        ({"date_from": "2999-01-01"}, "date_from"),
    ],
)
def test_bad_parameters_name_the_field(api: Api, params: dict, field: str) -> None:
    r = api.get("", **params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


def test_tenant_isolation(api: Api) -> None:
    assert api.get("", key=api.b_key, **RANGE).status_code == 404  # B's key, A's project
    assert api.get("/costs", key=api.b_key).status_code == 404
    assert api.get("/persons", key=api.b_key, **RANGE).status_code == 404
    r = api.post("/costs", key=api.b_key, json={"rows": []})
    assert r.status_code == 404
    assert api.post("/costs", files={"file": ("c.csv", CSV.encode())}).status_code == 200
    b_report = ChannelReport.model_validate(
        api.get("", project=api.b, key=api.b_key, **RANGE).json()
    )
    assert b_report.total.new_persons == 1 and b_report.has_costs is False  # A's costs stay A's
    assert api.get("/costs", project=api.b, key=api.b_key).json()["rows"] == []
    assert api.client.get(f"/api/projects/{api.a}/channels", params=RANGE).status_code == 401
