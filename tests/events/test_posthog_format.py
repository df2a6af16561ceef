"""PostHog wire format → Event: shapes, ids, timestamps and field errors (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from yunying.events import posthog
from yunying.events.validation import FieldError

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
U1 = "0190f3a0-1111-7000-8000-000000000001"


def parse(payload, token="phc_k"):
    return posthog.parse(payload, project_id=7, token=token, received_at=NOW)


def one(payload, **kw):
    result = parse(payload, **kw)
    assert not result.rejected
    assert len(result.events) == 1
    return result.events[0]


def test_single_event_fields():
    e = one(
        {
            "api_key": "phc_k",
            "event": "signed_up",
            "distinct_id": "u1",
            "uuid": U1,
            "timestamp": "2024-05-01T11:00:00Z",
            "properties": {"plan": "pro", "$current_url": "https://x.test/a"},
        }
    )
    assert (e.project_id, e.event, e.distinct_id, e.uuid) == (7, "signed_up", "u1", U1)
    assert e.timestamp == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert e.received_at == NOW
    assert e.properties == {"plan": "pro", "$current_url": "https://x.test/a"}
    assert e.promoted()["current_url"] == "https://x.test/a"


def test_distinct_id_from_properties_and_numbers():
    assert one({"event": "x", "properties": {"distinct_id": "p1"}}).distinct_id == "p1"
    assert one({"event": "x", "distinct_id": 42}).distinct_id == "42"


def test_array_body_as_posthog_js_sends_it():
    body = [
        {"event": "$pageview", "properties": {"distinct_id": "a", "token": "phc_k"}},
        {"event": "$autocapture", "properties": {"distinct_id": "a", "token": "phc_k"}},
    ]
    result = parse(body)
    assert [e.event for e in result.events] == ["$pageview", "$autocapture"]
    assert result.is_batch
    # the key is not stored with every event
    assert all("token" not in e.properties for e in result.events)


def test_find_token_places():
    assert posthog.find_token({"api_key": "a", "event": "x"}) == "a"
    assert posthog.find_token({"token": "b", "event": "x"}) == "b"
    assert posthog.find_token({"event": "x", "properties": {"token": "c"}}) == "c"
    assert posthog.find_token({"batch": [{"event": "x", "api_key": "d"}]}) == "d"
    assert posthog.find_token([{"event": "x", "properties": {"token": "e"}}]) == "e"
    assert posthog.find_token({"event": "x"}) is None
    assert posthog.find_token([]) is None
    assert posthog.find_token("nope") is None


def test_event_with_another_projects_key_is_rejected():
    body = {
        "api_key": "phc_k",
        "batch": [
            {"event": "a", "distinct_id": "u"},
            {"event": "b", "distinct_id": "u", "properties": {"token": "phc_other"}},
        ],
    }
    result = parse(body)
    assert [e.event for e in result.events] == ["a"]
    assert result.rejected[0].index == 1
    assert result.rejected[0].attr == "batch[1].api_key"


def test_top_level_set_and_set_once_join_properties():
    e = one(
        {
            "event": "$set",
            "distinct_id": "u",
            "$set": {"email": "a@b.c"},
            "$set_once": {"first": 1},
            "properties": {"$set": {"name": "A", "email": "old"}},
        }
    )
    assert e.properties["$set"] == {"name": "A", "email": "a@b.c"}
    assert e.properties["$set_once"] == {"first": 1}


def test_identify_and_alias_properties_kept():
    e = one({"event": "$identify", "distinct_id": "user", "properties": {"$anon_distinct_id": "a"}})
    assert e.properties["$anon_distinct_id"] == "a"
    e = one({"event": "$create_alias", "distinct_id": "a", "properties": {"alias": "user"}})
    assert e.properties["alias"] == "user"
    e = one(
        {
            "event": "$groupidentify",
            "distinct_id": "u",
            "properties": {"$group_type": "company", "$group_key": "c1", "$group_set": {}},
        }
    )
    assert e.event == "$groupidentify"


# ---- time --------------------------------------------------------------------------------


def test_clock_skew_corrected_with_batch_sent_at():
    # The device clock is 2 hours behind; the event happened 5 s before sending.
    body = {
        "sent_at": "2024-05-01T10:00:05Z",
        "batch": [{"event": "x", "distinct_id": "u", "timestamp": "2024-05-01T10:00:00Z"}],
    }
    assert parse(body).events[0].timestamp == NOW - timedelta(seconds=5)


def test_event_sent_at_overrides_batch_sent_at():
    body = {
        "sent_at": "2024-05-01T10:00:05Z",
        "batch": [
            {
                "event": "x",
                "distinct_id": "u",
                "timestamp": "2024-05-01T10:00:00Z",
                "sent_at": "2024-05-01T10:01:00Z",
            }
        ],
    }
    assert parse(body).events[0].timestamp == NOW - timedelta(seconds=60)


def test_offset_means_milliseconds_before_receipt():
    e = one({"event": "x", "distinct_id": "u", "offset": 1500})
    assert e.timestamp == NOW - timedelta(milliseconds=1500)


def test_ignore_sent_at_keeps_the_timestamp():
    body = {
        "sent_at": "2024-05-01T10:00:05Z",
        "batch": [
            {
                "event": "x",
                "distinct_id": "u",
                "timestamp": "2023-01-01T00:00:00Z",
                "properties": {"$ignore_sent_at": True},
            }
        ],
    }
    assert parse(body).events[0].timestamp == datetime(2023, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T08:00:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),  # no zone = UTC
        ("2024-05-01T16:00:00+08:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01 08:00:00.123456Z", datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)),
        (1714550400000, datetime(2024, 5, 1, 8, tzinfo=UTC)),  # epoch millis
        ("1714550400000", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        (1714550400000.5, datetime(2024, 5, 1, 8, 0, 0, 500, tzinfo=UTC)),
    ],
)
def test_timestamp_forms(raw, expected):
    assert one({"event": "x", "distinct_id": "u", "timestamp": raw}).timestamp == expected


def test_no_timestamp_means_received_at():
    assert one({"event": "x", "distinct_id": "u"}).timestamp == NOW


def test_far_future_timestamp_is_pinned_to_receipt():
    e = one({"event": "x", "distinct_id": "u", "timestamp": "2024-05-03T00:00:00Z"})
    assert e.timestamp == NOW
    near = one({"event": "x", "distinct_id": "u", "timestamp": "2024-05-01T20:00:00Z"})
    assert near.timestamp == datetime(2024, 5, 1, 20, tzinfo=UTC)


# ---- ids ---------------------------------------------------------------------------------


def test_uuid_normalised():
    upper = one({"event": "x", "distinct_id": "u", "uuid": U1.upper()})
    assert upper.uuid == U1
    other = one({"event": "x", "distinct_id": "u", "uuid": "msg-123"})
    assert uuid.UUID(other.uuid)
    assert other.uuid == one({"event": "x", "distinct_id": "v", "uuid": "msg-123"}).uuid


def test_missing_uuid_is_derived_from_content_and_survives_retries():
    def event(sent_at, offset):
        body = {
            "sent_at": sent_at,
            "batch": [{"event": "x", "distinct_id": "u", "offset": offset, "properties": {"a": 1}}],
        }
        return parse(body).events[0]

    first, retry = event("2024-05-01T10:00:00Z", 10), event("2024-05-01T10:00:30Z", 30010)
    assert first.uuid == retry.uuid
    assert uuid.UUID(first.uuid)
    changed = parse({"event": "x", "distinct_id": "u", "properties": {"a": 2}}).events[0]
    assert changed.uuid != first.uuid


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "attr", "words"),
    [
        ({"distinct_id": "u"}, "event", "required"),
        ({"event": "", "distinct_id": "u"}, "event", "empty"),
        ({"event": 5, "distinct_id": "u"}, "event", "string"),
        ({"event": "x"}, "distinct_id", "required"),
        ({"event": "x", "distinct_id": True}, "distinct_id", "boolean"),
        ({"event": "x", "distinct_id": " "}, "distinct_id", "empty"),
        ({"event": "x", "properties": {"distinct_id": ["a"]}}, "properties.distinct_id", "array"),
        ({"event": "x", "distinct_id": "u", "timestamp": "yesterday"}, "timestamp", "ISO 8601"),
        ({"event": "x", "distinct_id": "u", "timestamp": True}, "timestamp", "boolean"),
        ({"event": "x", "distinct_id": "u", "timestamp": 1e30}, "timestamp", "out of range"),
        ({"event": "x", "distinct_id": "u", "properties": []}, "properties", "object"),
        ({"event": "x", "distinct_id": "u", "$set": "a"}, "$set", "object"),
        ({"event": "x", "distinct_id": "u", "offset": "3"}, "offset", "milliseconds"),
        ({"event": "x", "distinct_id": "u", "uuid": {"a": 1}}, "uuid", "string"),
    ],
)
def test_single_event_errors_name_the_field(event, attr, words):
    with pytest.raises(FieldError) as info:
        parse(event)
    assert info.value.attr == attr
    assert words in info.value.detail


def test_batch_keeps_good_events_and_lists_bad_ones():
    body = {
        "api_key": "phc_k",
        "batch": [
            {"event": "ok1", "distinct_id": "u"},
            {"event": "bad", "distinct_id": "u", "timestamp": "nope"},
            "not an object",
            {"event": "ok2", "distinct_id": "u"},
        ],
    }
    result = parse(body)
    assert [e.event for e in result.events] == ["ok1", "ok2"]
    assert [(r.index, r.attr) for r in result.rejected] == [
        (1, "batch[1].timestamp"),
        (2, "batch[2]"),
    ]
    assert result.rejected[0].as_dict()["detail"].startswith("not an ISO 8601")


def test_array_body_errors_use_index_paths():
    result = parse([{"event": "x", "distinct_id": "u"}, {"distinct_id": "u"}])
    assert result.rejected[0].attr == "[1].event"


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"batch": {"event": "x"}}, "batch"),
        ({"batch": []}, "batch"),
        ({"batch": [{"event": "x", "distinct_id": "u"}], "sent_at": "soon"}, "sent_at"),
        ("a string", None),
    ],
)
def test_request_level_errors(body, attr):
    with pytest.raises(FieldError) as info:
        parse(body)
    assert info.value.attr == attr


def test_long_names_are_truncated_like_posthog():
    e = one({"event": "e" * 500, "distinct_id": "d" * 500})
    assert len(e.event) == 200
    assert len(e.distinct_id) == 200
