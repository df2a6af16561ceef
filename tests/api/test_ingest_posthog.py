"""PostHog capture endpoints over HTTP (in-process app, real DuckDB and SQLite files)."""

from __future__ import annotations

import base64
import gzip
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.live_server import prepare
from yunying.api.app import create_app
from yunying.config import Settings
from yunying.db.projects import create_api_key, revoke_api_key
from yunying.db.session import session_scope
from yunying.store.base import EventStore

LIMIT = 64 * 1024


@dataclass
class Api:
    client: TestClient
    key: str
    secret: str
    project_id: int

    @property
    def store(self) -> EventStore:
        return self.client.app.state.yunying.store

    def rows(self, sql: str = "SELECT * FROM events ORDER BY timestamp") -> list[dict[str, Any]]:
        return self.store.query(sql).to_pylist()

    def events(self) -> list[str]:
        return [r["event"] for r in self.rows()]


@pytest.fixture
def api(tmp_path):
    server = prepare(tmp_path)
    settings = Settings(data_dir=server.data_dir, max_body_bytes=LIMIT, ingest_flush_ms=1)
    with TestClient(create_app(settings)) as client:
        yield Api(client, server.public_key, server.secret_key, server.project_id)


def event(name: str = "x", did: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"event": name, "distinct_id": did, "uuid": str(uuid.uuid4()), **extra}


# ---- paths, methods, encodings -----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/capture/", "/capture", "/batch/", "/batch", "/e/", "/e", "/i/v0/e/", "/i/v0/e"]
)
def test_every_path_takes_single_and_batch_bodies(api, path):
    r = api.client.post(path, json={"api_key": api.key, **event("single")})
    assert (r.status_code, r.json()) == (200, {"status": 1})
    r = api.client.post(path, json={"api_key": api.key, "batch": [event("b1"), event("b2")]})
    assert (r.status_code, r.json()) == (200, {"status": 1})
    assert sorted(api.events()) == ["b1", "b2", "single"]


def test_array_body_with_token_in_properties(api):
    body = [{"event": "$pageview", "properties": {"distinct_id": "a", "token": api.key}}]
    assert api.client.post("/e/", json=body).status_code == 200
    assert api.events() == ["$pageview"]


def test_gzip_content_encoding(api):
    body = gzip.compress(orjson.dumps({"api_key": api.key, "batch": [event("gz")]}))
    r = api.client.post("/batch/", content=body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert api.events() == ["gz"]


def test_gzip_js_query_parameter_as_posthog_js_sends(api):
    body = gzip.compress(orjson.dumps([{**event("js"), "properties": {"token": api.key}}]))
    r = api.client.post(
        "/e/?compression=gzip-js&ip=1&_=1714550400000&ver=1.100.0",
        content=body,
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    assert api.events() == ["js"]


def test_form_base64_data(api):
    data = base64.b64encode(orjson.dumps({"api_key": api.key, **event("form")})).decode()
    r = api.client.post("/e/", data={"data": data, "compression": "base64"})
    assert r.status_code == 200, r.text
    # a careless client that did not escape '+' (it arrives as a space) still works
    raw = f"data={base64.b64encode(orjson.dumps({'api_key': api.key, **event('plus')})).decode()}"
    r = api.client.post(
        "/e/",
        content=raw.replace("+", " "),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    # JSON (not base64) in the data field
    data = orjson.dumps({"api_key": api.key, **event("plainform")}).decode()
    r = api.client.post("/capture/", content=f"data={quote(data)}")
    assert r.status_code == 200, r.text
    assert sorted(api.events()) == ["form", "plainform", "plus"]


def test_get_with_data_query_parameter(api):
    data = base64.urlsafe_b64encode(orjson.dumps({"token": api.key, **event("pixel")})).decode()
    r = api.client.get("/e/", params={"data": data, "ip": "1"})
    assert r.status_code == 200, r.text
    assert api.events() == ["pixel"]
    r = api.client.get("/e/")
    assert (r.status_code, r.json()["attr"]) == (400, "data")


def test_lz64_is_refused_clearly(api):
    r = api.client.post("/e/", data={"data": "N4Igzg", "compression": "lz64"})
    assert r.status_code == 400
    assert r.json()["code"] == "unsupported_compression"
    assert "lz64" in r.json()["detail"]
    r = api.client.post("/e/?compression=lz64", content=b"N4Igzg")
    assert r.status_code == 400
    assert "lz64" in r.json()["detail"]


def test_cors_preflight_and_headers(api):
    r = api.client.options(
        "/e/",
        headers={
            "Origin": "https://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "content-type" in r.headers["access-control-allow-headers"]
    r = api.client.post("/e/", json={"api_key": api.key, **event()})
    assert r.headers["access-control-allow-origin"] == "*"


# ---- keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where", ["api_key", "token", "properties.token", "?token", "?api_key", "bearer"]
)
def test_key_places(api, where):
    body: dict[str, Any] = event("k")
    url, headers = "/capture/", {}
    if where in ("api_key", "token"):
        body[where] = api.key
    elif where == "properties.token":
        body["properties"] = {"token": api.key}
    elif where == "bearer":
        headers["Authorization"] = f"Bearer {api.key}"
    else:
        url += f"{where}={api.key}"
    r = api.client.post(url, json=body, headers=headers)
    assert r.status_code == 200, r.text


def test_missing_key_is_401_naming_where_we_looked(api):
    r = api.client.post("/capture/", json=event())
    assert r.status_code == 401
    body = r.json()
    assert (body["type"], body["code"]) == ("authentication_error", "missing_api_key")
    for place in ("api_key", "token", "properties", "?token="):
        assert place in body["detail"]


def test_wrong_secret_and_revoked_keys_are_401(api):
    for key in ("phc_nope", api.secret):
        r = api.client.post("/capture/", json={"api_key": key, **event()})
        assert (r.status_code, r.json()["code"]) == (401, "invalid_api_key")
    sessions = api.client.app.state.yunying.sessions
    with session_scope(sessions) as s:
        new = create_api_key(s, project_id=api.project_id, kind="public")
    assert api.client.post("/capture/", json={"api_key": new.token, **event()}).status_code == 200
    with session_scope(sessions) as s:
        revoke_api_key(s, project_id=api.project_id, key_id=new.id)
    # the cache remembers a key for a minute; until then the revoked key still works
    assert api.client.post("/capture/", json={"api_key": new.token, **event()}).status_code == 200
    api.client.app.state.ingest_key_cache.clear()
    assert api.client.post("/capture/", json={"api_key": new.token, **event()}).status_code == 401


# ---- limits ------------------------------------------------------------------------------


def test_declared_content_length_over_limit_is_413(api):
    body = orjson.dumps({"api_key": api.key, **event(properties={"pad": "x" * LIMIT})})
    r = api.client.post("/capture/", content=body)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


def test_streamed_body_over_limit_is_413(api):
    def chunks():
        for _ in range(10):
            yield b" " * (LIMIT // 4)

    r = api.client.post("/capture/", content=chunks())  # chunked: no Content-Length
    assert r.status_code == 413


def test_gzip_bomb_is_413(api):
    bomb = gzip.compress(b"[" + b" " * (LIMIT * 50) + b"]")
    assert len(bomb) < LIMIT
    r = api.client.post("/batch/", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert "decompressed" in r.json()["detail"]
    r = api.client.post("/e/?compression=gzip-js", content=bomb)
    assert r.status_code == 413


def test_corrupt_gzip_and_unknown_encoding(api):
    r = api.client.post(
        "/batch/", content=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_compression")
    r = api.client.post("/batch/", content=b"{}", headers={"Content-Encoding": "br"})
    assert r.status_code == 415


# ---- validation --------------------------------------------------------------------------


def test_invalid_json_is_400(api):
    r = api.client.post("/capture/", content=b"{not json")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")


def test_bad_single_event_is_400_naming_the_field(api):
    r = api.client.post("/capture/", json={"api_key": api.key, "distinct_id": "u"})
    assert r.status_code == 400
    assert r.json() == {
        "type": "validation_error",
        "code": "required",
        "detail": "is required",
        "attr": "event",
    }


def test_batch_with_bad_events_stores_the_good_ones(api):
    batch = [event("good1"), event("bad", timestamp="not a time"), event("good2"), {"event": "x"}]
    r = api.client.post("/batch/", json={"api_key": api.key, "batch": batch})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == 1
    assert [(x["index"], x["attr"]) for x in body["rejected"]] == [
        (1, "batch[1].timestamp"),
        (3, "batch[3].distinct_id"),
    ]
    assert sorted(api.events()) == ["good1", "good2"]


def test_batch_with_only_bad_events_is_400(api):
    batch = [{"event": "x"}, {"distinct_id": "u"}]
    r = api.client.post("/batch/", json={"api_key": api.key, "batch": batch})
    assert r.status_code == 400
    body = r.json()
    assert body["attr"] == "batch[0].distinct_id"
    assert len(body["rejected"]) == 2
    assert api.events() == []


# ---- semantics end to end ------------------------------------------------------------------


def test_retried_request_is_stored_once(api):
    body = {"api_key": api.key, "batch": [event("a"), {"event": "no-uuid", "distinct_id": "u"}]}
    for _ in range(3):
        assert api.client.post("/batch/", json=body).status_code == 200
    assert sorted(api.events()) == ["a", "no-uuid"]


def test_clock_skew_corrected(api):
    device_now = datetime(2020, 1, 1, 0, 0, 10, tzinfo=UTC)  # a very wrong device clock
    body = {
        "api_key": api.key,
        "sent_at": device_now.isoformat(),
        "batch": [event(timestamp=(device_now - timedelta(seconds=10)).isoformat())],
    }
    before = datetime.now(UTC).replace(tzinfo=None)
    assert api.client.post("/batch/", json=body).status_code == 200
    (row,) = api.rows()
    assert row["received_at"] - row["timestamp"] == timedelta(seconds=10)
    assert row["received_at"] >= before


def test_identify_merges_and_sets_person_properties(api):
    batch = [
        event("$pageview", "anon-1", timestamp="2024-05-01T10:00:00Z"),
        event(
            "$identify",
            "user-1",
            timestamp="2024-05-01T10:01:00Z",
            properties={"$anon_distinct_id": "anon-1", "$set": {"email": "a@x.test"}},
            **{"$set_once": {"first_seen_by": "test"}},
        ),
        event(
            "$create_alias",
            "user-1",
            timestamp="2024-05-01T10:02:00Z",
            properties={"alias": "device-2"},
        ),
        event("$groupidentify", "user-1", properties={"$group_type": "company", "$group_key": "c"}),
    ]
    assert api.client.post("/batch/", json={"api_key": api.key, "batch": batch}).status_code == 200
    m = api.store.distinct_id_map(api.project_id, ["anon-1", "user-1", "device-2"])
    assert len(m) == 3 and len(set(m.values())) == 1
    pid = m["user-1"]
    assert api.store.persons(api.project_id, [pid])[pid].properties == {
        "email": "a@x.test",
        "first_seen_by": "test",
    }
    assert "$groupidentify" in api.events()


def test_write_failure_is_503_so_sdks_retry(api, monkeypatch):
    async def boom(events):
        raise OSError("disk full")

    monkeypatch.setattr(api.client.app.state.yunying.writer, "submit", boom)
    r = api.client.post("/capture/", json={"api_key": api.key, **event()})
    assert r.status_code == 503
    assert r.json()["code"] == "write_failed"
