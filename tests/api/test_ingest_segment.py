"""Segment tracking API endpoints over HTTP (in-process app, real DuckDB and SQLite files)."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.live_server import prepare
from yunying.api.app import create_app
from yunying.config import Settings

LIMIT = 64 * 1024


@pytest.fixture
def api(tmp_path):
    server = prepare(tmp_path)
    settings = Settings(data_dir=server.data_dir, max_body_bytes=LIMIT, ingest_flush_ms=1)
    with TestClient(create_app(settings)) as client:
        client.key = server.public_key  # type: ignore[attr-defined]
        client.project_id = server.project_id  # type: ignore[attr-defined]
        yield client


def rows(client, sql="SELECT * FROM events ORDER BY timestamp, event") -> list[dict[str, Any]]:
    return client.app.state.yunying.store.query(sql).to_pylist()


def msg(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "messageId": str(uuid.uuid4()), **fields}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/track", {"userId": "u", "event": "Clicked"}, "Clicked"),
        ("/v1/page", {"userId": "u", "name": "Home"}, "$pageview"),
        ("/v1/screen", {"userId": "u", "name": "Home"}, "$screen"),
        ("/v1/identify", {"userId": "u", "traits": {"a": 1}}, "$identify"),
        ("/v1/alias", {"userId": "u", "previousId": "anon"}, "$create_alias"),
        ("/v1/group", {"userId": "u", "groupId": "g"}, "$groupidentify"),
        ("/v1/t", {"userId": "u", "event": "Short"}, "Short"),
    ],
)
def test_single_call_paths_with_basic_auth(api, path, body, expected):
    r = api.post(path, json=body, auth=(api.key, ""))
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert [x["event"] for x in rows(api)] == [expected]


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import"])
def test_batch_with_write_key_in_body(api, path):
    body = {
        "writeKey": api.key,
        "batch": [msg("track", userId="u", event="a"), msg("page", anonymousId="x")],
    }
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    assert sorted(x["event"] for x in rows(api)) == ["$pageview", "a"]


def test_gzip_body(api):
    body = gzip.compress(orjson.dumps({"batch": [msg("track", userId="u", event="gz")]}))
    r = api.post(
        "/v1/batch", content=body, headers={"Content-Encoding": "gzip"}, auth=(api.key, "")
    )
    assert r.status_code == 200, r.text
    assert [x["event"] for x in rows(api)] == ["gz"]


def test_missing_and_wrong_write_key(api):
    r = api.post("/v1/track", json={"userId": "u", "event": "x"})
    assert r.status_code == 401
    assert r.json()["code"] == "missing_api_key"
    assert "Basic" in r.json()["detail"] and "writeKey" in r.json()["detail"]
    r = api.post("/v1/track", json={"userId": "u", "event": "x"}, auth=("wrong", ""))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_api_key")


def test_partial_batch_lists_rejected_messages(api):
    body = {
        "batch": [
            msg("track", userId="u", event="ok"),
            msg("track", event="no-id"),
            msg("teleport", userId="u"),
        ]
    }
    r = api.post("/v1/batch", json=body, auth=(api.key, ""))
    assert r.status_code == 200
    assert r.json()["success"] is True
    assert [(x["index"], x["attr"]) for x in r.json()["rejected"]] == [
        (1, "batch[1].userId"),
        (2, "batch[2].type"),
    ]
    assert [x["event"] for x in rows(api)] == ["ok"]


def test_single_bad_call_is_400(api):
    r = api.post("/v1/track", json={"userId": "u"}, auth=(api.key, ""))
    assert r.status_code == 400
    assert (r.json()["attr"], r.json()["code"]) == ("event", "required")


def test_too_large(api):
    r = api.post("/v1/batch", content=b"{" + b" " * LIMIT + b"}", auth=(api.key, ""))
    assert r.status_code == 413


def test_identify_and_alias_merge_persons(api):
    body = {
        "sentAt": "2024-05-01T10:00:10Z",
        "batch": [
            msg("track", anonymousId="anon-1", event="Viewed", timestamp="2024-05-01T10:00:00Z"),
            msg(
                "identify",
                anonymousId="anon-1",
                userId="user-1",
                traits={"email": "a@x.test"},
                timestamp="2024-05-01T10:00:01Z",
            ),
            msg("alias", previousId="device-2", userId="user-1", timestamp="2024-05-01T10:00:02Z"),
            msg(
                "track",
                userId="user-1",
                event="Bought",
                properties={"$revenue": 12.5},
                context={"campaign": {"source": "newsletter"}, "ip": "10.0.0.1"},
                timestamp="2024-05-01T10:00:03Z",
            ),
        ],
    }
    assert api.post("/v1/batch", json=body, auth=(api.key, "")).status_code == 200
    store = api.app.state.yunying.store
    m = store.distinct_id_map(api.project_id, ["anon-1", "user-1", "device-2"])
    assert len(m) == 3 and len(set(m.values())) == 1
    pid = m["user-1"]
    assert store.persons(api.project_id, [pid])[pid].properties == {"email": "a@x.test"}
    bought = rows(api, "SELECT * FROM events WHERE event = 'Bought'")[0]
    assert bought["utm_source"] == "newsletter"
    assert bought["revenue"] == 12.5
    assert orjson.loads(bought["properties"])["$ip"] == "10.0.0.1"
    # timestamps keep their spacing relative to the send, on the server's clock
    ts = [r["timestamp"] for r in rows(api)]
    assert (ts[-1] - ts[0]).total_seconds() == 3
