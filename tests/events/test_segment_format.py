"""Segment wire format → Event in PostHog's vocabulary (no I/O)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from yunying.events import segment
from yunying.events.model import normalize_uuid
from yunying.events.validation import FieldError

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def parse(payload, kind="batch"):
    return segment.parse(payload, project_id=3, kind=kind, received_at=NOW)


def one(message, kind=None):
    kind = kind or message["type"]
    result = parse(message, kind)
    assert len(result.events) == 1 and not result.rejected
    return result.events[0]


def test_track():
    e = one(
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"revenue": 9.5},
            "messageId": "ajs-123",
            "timestamp": "2024-05-01T11:00:00.000Z",
        }
    )
    assert (e.event, e.distinct_id, e.project_id) == ("Order Completed", "u1", 3)
    assert e.properties["revenue"] == 9.5
    assert e.uuid == normalize_uuid("ajs-123")
    assert e.timestamp == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_anonymous_id_when_no_user_id():
    e = one({"type": "track", "anonymousId": "anon-1", "event": "x"})
    assert e.distinct_id == "anon-1"
    e = one({"type": "track", "anonymousId": "anon-1", "userId": 17, "event": "x"})
    assert e.distinct_id == "17"


def test_page_becomes_pageview_with_url():
    e = one(
        {
            "type": "page",
            "anonymousId": "a",
            "name": "Pricing",
            "category": "Docs",
            "properties": {"url": "https://x.test/pricing", "referrer": "https://r.test/"},
        }
    )
    assert e.event == "$pageview"
    assert e.properties["$current_url"] == "https://x.test/pricing"
    assert e.properties["$referrer"] == "https://r.test/"
    assert e.properties["name"] == "Pricing"
    assert e.properties["category"] == "Docs"
    assert e.promoted()["current_url"] == "https://x.test/pricing"


def test_page_url_from_context_page():
    e = one(
        {"type": "page", "userId": "u", "context": {"page": {"url": "https://x.test/c"}}}, "page"
    )
    assert e.properties["$current_url"] == "https://x.test/c"


def test_screen():
    e = one({"type": "screen", "userId": "u", "name": "Home", "properties": {"a": 1}})
    assert e.event == "$screen"
    assert e.properties["$screen_name"] == "Home"
    assert e.properties["a"] == 1


def test_identify_sets_traits_and_merges_anonymous_id():
    e = one(
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "anon-1",
            "traits": {"email": "a@b.c", "plan": "pro"},
        }
    )
    assert (e.event, e.distinct_id) == ("$identify", "u1")
    assert e.properties["$set"] == {"email": "a@b.c", "plan": "pro"}
    assert e.properties["$anon_distinct_id"] == "anon-1"


def test_identify_anonymous_only_sets_traits_without_merge():
    e = one({"type": "identify", "anonymousId": "anon-1", "traits": {"x": 1}})
    assert e.distinct_id == "anon-1"
    assert "$anon_distinct_id" not in e.properties
    assert e.properties["$set"] == {"x": 1}


def test_identify_traits_from_context():
    e = one({"type": "identify", "userId": "u", "context": {"traits": {"name": "N"}}})
    assert e.properties["$set"] == {"name": "N"}


def test_alias():
    e = one({"type": "alias", "previousId": "anon-9", "userId": "u9"})
    assert (e.event, e.distinct_id) == ("$create_alias", "u9")
    assert e.properties["alias"] == "anon-9"


def test_group():
    e = one({"type": "group", "userId": "u", "groupId": "acme", "traits": {"name": "Acme", "n": 5}})
    assert e.event == "$groupidentify"
    assert e.properties["$group_type"] == "company"
    assert e.properties["$group_key"] == "acme"
    assert e.properties["$group_set"] == {"name": "Acme", "n": 5}
    custom = one(
        {"type": "group", "userId": "u", "groupId": "t1", "traits": {"group_type": "team"}}
    )
    assert custom.properties["$group_type"] == "team"
    assert custom.properties["$group_set"] == {}


def test_context_flattened_into_properties():
    e = one(
        {
            "type": "track",
            "userId": "u",
            "event": "x",
            "properties": {"utm_source": "from-props"},
            "context": {
                "ip": "1.2.3.4",
                "userAgent": "Mozilla/5.0",
                "locale": "zh-CN",
                "campaign": {"name": "spring", "source": "ctx", "medium": "cpc", "x": 1},
                "library": {"name": "analytics-python", "version": "2.4.0"},
                "os": {"name": "iOS", "version": "17"},
                "traits": {"email": "e"},
                "custom": "kept",
            },
        }
    )
    p = e.properties
    assert p["$ip"] == "1.2.3.4"
    assert p["$raw_user_agent"] == "Mozilla/5.0"
    assert p["$locale"] == "zh-CN"
    assert p["utm_campaign"] == "spring"
    assert p["utm_medium"] == "cpc"
    assert p["utm_source"] == "from-props"  # the event's own property wins
    assert p["$lib"] == "analytics-python"
    assert p["$lib_version"] == "2.4.0"
    assert p["$os"] == "iOS"
    assert p["$segment_context"] == {
        "campaign": {"x": 1},
        "traits": {"email": "e"},
        "custom": "kept",
    }


def test_batch_context_applies_to_every_message():
    body = {
        "context": {"ip": "9.9.9.9"},
        "batch": [
            {"type": "track", "userId": "u", "event": "a"},
            {"type": "track", "userId": "u", "event": "b", "context": {"ip": "1.1.1.1"}},
        ],
    }
    assert [e.properties["$ip"] for e in parse(body).events] == ["9.9.9.9", "1.1.1.1"]


def test_sent_at_corrects_clock_skew():
    body = {
        "sentAt": "2024-05-01T09:00:10Z",
        "batch": [
            {"type": "track", "userId": "u", "event": "a", "timestamp": "2024-05-01T09:00:00Z"},
            {
                "type": "track",
                "userId": "u",
                "event": "b",
                "timestamp": "2024-05-01T09:00:00Z",
                "sentAt": "2024-05-01T09:01:00Z",
            },
        ],
    }
    a, b = parse(body).events
    assert a.timestamp == NOW - timedelta(seconds=10)
    assert b.timestamp == NOW - timedelta(seconds=60)


def test_original_timestamp_accepted():
    e = one({"type": "track", "userId": "u", "event": "x", "originalTimestamp": 1714550400000})
    assert e.timestamp == datetime(2024, 5, 1, 8, tzinfo=UTC)


def test_missing_message_id_is_deterministic_across_retries():
    msg = {"type": "track", "userId": "u", "event": "x", "timestamp": "2024-05-01T09:00:00Z"}
    first = parse({"sentAt": "2024-05-01T09:00:01Z", "batch": [dict(msg)]}).events[0]
    retry = parse({"sentAt": "2024-05-01T09:05:00Z", "batch": [dict(msg)]}).events[0]
    assert first.uuid == retry.uuid
    assert uuid.UUID(first.uuid)


def test_single_call_type_comes_from_the_path():
    e = segment.parse(
        {"userId": "u", "event": "clicked"}, project_id=1, kind="track", received_at=NOW
    ).events[0]
    assert e.event == "clicked"


@pytest.mark.parametrize(
    ("message", "attr"),
    [
        ({"type": "track", "event": "x"}, "batch[0].userId"),
        ({"type": "track", "userId": "u"}, "batch[0].event"),
        ({"type": "track", "userId": "u", "event": "x", "properties": 3}, "batch[0].properties"),
        ({"type": "track", "userId": "u", "event": "x", "timestamp": "x"}, "batch[0].timestamp"),
        ({"type": "alias", "userId": "u"}, "batch[0].previousId"),
        ({"type": "alias", "previousId": "a"}, "batch[0].userId"),
        ({"type": "group", "userId": "u"}, "batch[0].groupId"),
        ({"type": "identify", "userId": "u", "traits": [1]}, "batch[0].traits"),
        ({"type": "page", "userId": "u", "name": 5}, "batch[0].name"),
        ({"type": "launch", "userId": "u"}, "batch[0].type"),
        ({"type": "track", "userId": {"a": 1}, "event": "x"}, "batch[0].userId"),
        ("nope", "batch[0]"),
    ],
)
def test_batch_errors_name_the_field_and_index(message, attr):
    result = parse({"batch": [message, {"type": "track", "userId": "u", "event": "ok"}]})
    assert [e.event for e in result.events] == ["ok"]
    assert [(r.index, r.attr) for r in result.rejected] == [(0, attr)]


@pytest.mark.parametrize(
    ("body", "kind", "attr"),
    [
        ({"batch": "x"}, "batch", "batch"),
        ({"batch": []}, "batch", "batch"),
        ({"sentAt": "then", "batch": [{}]}, "batch", "sentAt"),
        ({"event": "x"}, "track", "userId"),
        ([1], "track", None),
    ],
)
def test_request_level_errors(body, kind, attr):
    with pytest.raises(FieldError) as info:
        segment.parse(body, project_id=1, kind=kind, received_at=NOW)
    assert info.value.attr == attr


def test_basic_auth_user_is_the_write_key():
    header = "Basic " + base64.b64encode(b"wk_123:").decode()
    assert segment.basic_auth_user(header) == "wk_123"
    assert segment.basic_auth_user("Bearer x") is None
    assert segment.basic_auth_user("Basic !!!") is None
    assert segment.basic_auth_user(None) is None
    assert segment.find_write_key({"writeKey": "w"}) == "w"
    assert segment.find_write_key({"writeKey": 3}) is None
