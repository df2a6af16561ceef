"""The official PostHog and Segment Python SDKs, unchanged, against a real server.

Both SDKs send gzip bodies from background threads; after ``flush``/``shutdown`` the
server is stopped and the events are read back through the analytics layer's
``events_sql`` (identity merges applied), so a passing test means: the SDK is happy with
our answers, every event arrived, and anonymous and identified ids count as one person.
"""

from __future__ import annotations

import orjson
from posthog import Posthog
from segment.analytics import Client as SegmentClient

from tests.live_server import LiveServer, live_server
from yunying.analytics.context import ProjectContext
from yunying.analytics.source import events_sql
from yunying.store.dialect import DuckDBDialect


def _query(server: LiveServer) -> list[dict]:
    columns = [f"e.{c} AS {c}" for c in ("distinct_id", "properties", "revenue", "current_url")]
    sql = events_sql(DuckDBDialect(), ProjectContext(project_id=server.project_id), columns=columns)
    return server.events_rows(f"SELECT * FROM ({sql}) t ORDER BY ts")


def _person_properties(server: LiveServer, distinct_id: str) -> dict:
    rows = server.events_rows(
        "SELECT p.properties FROM person_distinct_ids m JOIN persons p ON p.id = m.person_id "
        f"WHERE m.distinct_id = '{distinct_id}'"
    )
    return orjson.loads(rows[0]["properties"])


def test_posthog_and_segment_sdks(tmp_path):
    errors: list[object] = []
    with live_server(tmp_path) as server:
        ph = Posthog(
            server.public_key,
            host=server.url,
            gzip=True,
            flush_at=3,
            flush_interval=0.1,
            on_error=lambda exc, batch: errors.append(exc),
        )
        ph.capture("$pageview", distinct_id="ph-anon", properties={"$current_url": "https://s/"})
        ph.capture(
            "$identify",
            distinct_id="ph-user",
            properties={"$anon_distinct_id": "ph-anon", "$set": {"email": "p@x.test"}},
        )
        ph.alias(previous_id="ph-device-2", distinct_id="ph-user")
        ph.capture("purchase", distinct_id="ph-device-2", properties={"$revenue": 30})
        ph.set(distinct_id="ph-user", properties={"plan": "pro"})
        ph.set_once(distinct_id="ph-user", properties={"plan": "free", "first": "web"})
        ph.group_identify("company", "acme", {"name": "Acme"}, distinct_id="ph-user")
        ph.flush()
        ph.shutdown()

        sg = SegmentClient(
            server.public_key,
            host=server.url,
            gzip=True,
            upload_interval=0.1,
            on_error=lambda exc, batch: errors.append(exc),
        )
        sg.track(anonymous_id="sg-anon", event="Viewed Product", properties={"sku": "A1"})
        sg.identify(user_id="sg-user", anonymous_id="sg-anon", traits={"email": "s@x.test"})
        sg.alias(previous_id="sg-device-2", user_id="sg-user")
        sg.track(anonymous_id="sg-device-2", event="Order Completed", properties={"total": 5})
        sg.page(user_id="sg-user", name="Pricing", properties={"url": "https://s/pricing"})
        sg.screen(user_id="sg-user", name="Home")
        sg.group(user_id="sg-user", group_id="acme", traits={"name": "Acme"})
        sg.flush()
        sg.shutdown()

        server.stop()
        assert errors == []
        rows = _query(server)

    by_prefix: dict[str, list[dict]] = {"ph": [], "sg": []}
    for r in rows:
        by_prefix[r["distinct_id"][:2]].append(r)
    ph_events = sorted(r["event"] for r in by_prefix["ph"])
    assert ph_events == sorted(
        ["$pageview", "$identify", "$create_alias", "purchase", "$set", "$set_once",
         "$groupidentify"]
    )  # fmt: skip
    sg_events = sorted(r["event"] for r in by_prefix["sg"])
    assert sg_events == sorted(
        ["Viewed Product", "$identify", "$create_alias", "Order Completed", "$pageview",
         "$screen", "$groupidentify"]
    )  # fmt: skip
    # every event of one SDK user resolves to a single person after the merges
    assert len({r["pid"] for r in by_prefix["ph"]}) == 1
    assert len({r["pid"] for r in by_prefix["sg"]}) == 1
    assert by_prefix["ph"][0]["pid"] != by_prefix["sg"][0]["pid"]

    purchase = next(r for r in by_prefix["ph"] if r["event"] == "purchase")
    assert purchase["revenue"] == 30
    pageview = next(r for r in by_prefix["sg"] if r["event"] == "$pageview")
    assert pageview["current_url"] == "https://s/pricing"
    assert orjson.loads(pageview["properties"])["$lib"] == "analytics-python"

    assert _person_properties(server, "ph-anon") == {
        "email": "p@x.test",
        "plan": "pro",
        "first": "web",
    }
    assert _person_properties(server, "sg-device-2") == {"email": "s@x.test"}
