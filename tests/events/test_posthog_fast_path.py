"""The PostHog fast path (``common_event``) agrees with the general parser on every input."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from yunying.events import posthog
from yunying.events.posthog import _event, common_event
from yunying.events.validation import FieldError

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TOKEN = "phc_k"
U1 = "0190f3a0-1111-7000-8000-000000000001"

_text = st.text(min_size=0, max_size=12)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), _text)
_names = st.one_of(
    _text, st.just(" "), st.just("$pageview"), st.text(min_size=199, max_size=202), st.integers()
)
_ids = st.one_of(_text, st.just(""), st.integers(), st.floats(), st.booleans(), st.none())
_uuids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.just(""),
    _text,
    st.integers(),
)
_aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)
_timestamps = st.one_of(
    _aware.map(lambda d: d.isoformat()),
    _aware.map(lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z")),
    st.datetimes().map(lambda d: d.isoformat()),  # naive: UTC by convention
    _aware.map(lambda d: f" {d.isoformat()} "),
    st.integers(-(10**15), 10**15),
    st.integers(0, 10**13).map(str),
    st.booleans(),
    _text,
)
_offsets = st.one_of(st.integers(-(10**6), 10**6), st.floats(), st.integers(), st.booleans(), _text)
_props = st.dictionaries(
    st.sampled_from(
        ["a", "$current_url", "distinct_id", "token", "$set", "$ignore_sent_at", "channel"]
    ),
    st.one_of(_json_scalar, st.dictionaries(_text, _json_scalar, max_size=2)),
    max_size=5,
)


@st.composite
def raw_events(draw: st.DrawFn) -> dict:
    """A typical SDK event with a few fields replaced, removed or added at random."""
    raw: dict = {
        "event": draw(st.sampled_from(["$pageview", "signed_up", "x" * 200])),
        "distinct_id": draw(st.sampled_from(["u1", "anon-9", "d" * 200])),
        "uuid": str(draw(st.uuids())),
        "timestamp": draw(_aware).astimezone(UTC).isoformat(),
        "properties": draw(_props),
    }
    odd = {
        "event": _names,
        "distinct_id": _ids,
        "uuid": _uuids,
        "timestamp": _timestamps,
        "properties": st.one_of(st.none(), st.lists(_text, max_size=1)),
        "offset": _offsets,
        "sent_at": _timestamps,
        "api_key": st.sampled_from([TOKEN, "other"]),
        "token": st.sampled_from([TOKEN, "other"]),
        "$set": st.one_of(_props, _text),
        "$set_once": _props,
    }
    for name, strategy in odd.items():
        roll = draw(st.integers(0, 19))
        if roll == 0:
            raw[name] = draw(strategy)
        elif roll == 1:
            raw.pop(name, None)
    if draw(st.booleans()) and isinstance(raw.get("properties"), dict):
        raw["properties"]["token"] = draw(st.sampled_from([TOKEN, "other", ""]))
    return raw


def _general(raw: dict, token: str | None, sent: datetime | None) -> object:
    try:
        return _event(raw, "batch[0]", 7, token, NOW, sent)
    except FieldError as exc:
        return exc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=raw_events(),
    token=st.sampled_from([TOKEN, None]),
    sent=st.one_of(st.none(), _aware.map(lambda d: d.astimezone(UTC))),
)
@example(
    raw={"event": "x", "distinct_id": "u", "uuid": U1, "timestamp": "2024-05-01T10:00:00Z"},
    token=TOKEN,
    sent=None,
)
def test_fast_path_gives_the_general_paths_event(raw, token, sent):
    before = copy.deepcopy(raw)
    fast = common_event(copy.deepcopy(raw), 7, token, NOW, sent)
    general = _general(copy.deepcopy(raw), token, sent)
    if fast is None:
        return  # the general path decides alone
    assert fast == general
    assert raw == before  # the input was not touched on the way


def test_sdk_shapes_take_the_fast_path():
    """The shapes posthog-python, posthog-js and our bench send are the ones it serves."""
    python_sdk = {
        "event": "signed_up",
        "distinct_id": "u1",
        "uuid": U1,
        "timestamp": "2024-05-01T11:00:00+00:00",
        "properties": {"plan": "pro", "$lib": "posthog-python"},
    }
    js_sdk = {
        "event": "$pageview",
        "uuid": str(uuid.uuid4()),
        "timestamp": "2024-05-01T11:00:00.123Z",
        "offset": 1500,
        "properties": {"distinct_id": "anon-1", "token": TOKEN, "$current_url": "/a"},
    }
    sent = datetime(2024, 5, 1, 11, 0, 5, tzinfo=UTC)
    for raw, batch_sent in ((python_sdk, sent), (js_sdk, None)):
        fast = common_event(copy.deepcopy(raw), 7, TOKEN, NOW, batch_sent)
        assert fast is not None
        assert fast == _event(copy.deepcopy(raw), "batch[0]", 7, TOKEN, NOW, batch_sent)
    js = common_event(copy.deepcopy(js_sdk), 7, TOKEN, NOW, None)
    assert js is not None
    assert "token" not in js.properties
    assert js.timestamp == NOW - timedelta(milliseconds=1500)


def test_batch_mixes_fast_and_general_events_in_order():
    batch = [
        {"event": "a", "distinct_id": "u", "uuid": U1, "timestamp": "2024-05-01T10:00:00Z"},
        {"event": "b", "distinct_id": 5, "timestamp": "2024-05-01T18:00:00+08:00"},
        {"event": "", "distinct_id": "u"},
        {"event": "c", "distinct_id": "u", "uuid": U1.upper(), "timestamp": 1714550400000},
    ]
    result = posthog.parse({"batch": batch}, project_id=7, token=TOKEN, received_at=NOW)
    assert [e.event for e in result.events] == ["a", "b", "c"]
    assert [(r.index, r.attr) for r in result.rejected] == [(2, "batch[2].event")]
    assert result.events[1].timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert result.events[2].uuid == U1
