"""PostHog's capture wire format → ``Event``s.

Accepts what PostHog's own capture endpoint accepts from its SDKs: one event object, an
array of events (posthog-js), or ``{"batch": [...], "api_key": ..., "sent_at": ...}``
(server SDKs). The request body has already been decoded (gzip, form, base64) by the HTTP
layer; this module sees plain JSON values and does no I/O.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from yunying.events.model import Event
from yunying.events.validation import (
    CANONICAL_UUID,
    MAX_DISTINCT_ID_LENGTH,
    MAX_FUTURE,
    MAX_NAME_LENGTH,
    FieldError,
    ParseResult,
    Rejection,
    attr_path,
    distinct_id,
    event_name,
    event_time,
    event_uuid,
    fallback_uuid,
    object_field,
    parse_offset,
    parse_timestamp,
)

TOKEN_FIELDS = ("api_key", "token")
# Where ``find_token`` looks, for the 401 message.
TOKEN_PLACES = (
    "'api_key' or 'token' in the body, in each event or in its properties, "
    "or the '?token=' / '?api_key=' query parameter"
)


def _token_in(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for name in TOKEN_FIELDS:
        value = obj.get(name)
        if isinstance(value, str) and value:
            return value
    props = obj.get("properties")
    if isinstance(props, dict):
        value = props.get("token")
        if isinstance(value, str) and value:
            return value
    return None


def find_token(payload: Any) -> str | None:
    """The project key the body carries: batch level first, then the first event's."""
    if isinstance(payload, list):
        return _token_in(payload[0]) if payload else None
    if not isinstance(payload, dict):
        return None
    token = _token_in(payload)
    if token:
        return token
    batch = payload.get("batch")
    if isinstance(batch, list) and batch:
        return _token_in(batch[0])
    return None


def parse(
    payload: Any, *, project_id: int, token: str | None, received_at: datetime
) -> ParseResult:
    """Events of a PostHog request body.

    A bad single event raises ``FieldError``; bad events of a batch are listed in
    ``rejected`` with their index while the good ones are kept. A problem with the
    request as a whole (batch not a list, bad ``sent_at``) raises.
    """
    if isinstance(payload, list):
        items, prefix, batch_sent = payload, "[{}]", None
    elif isinstance(payload, dict):
        if "batch" in payload:
            items = payload["batch"]
            if not isinstance(items, list):
                raise FieldError("batch", "must be an array of events")
            prefix = "batch[{}]"
        else:
            items, prefix = [payload], ""
        raw_sent = payload.get("sent_at")
        batch_sent = parse_timestamp(raw_sent, "sent_at") if raw_sent else None
    else:
        raise FieldError(None, "body must be a JSON object or array")

    result = ParseResult(is_batch=bool(prefix))
    if prefix and not items:
        raise FieldError("batch", "must not be empty")
    events = result.events
    for i, raw in enumerate(items):
        event = common_event(raw, project_id, token, received_at, batch_sent)
        if event is None:
            try:
                event = _event(raw, prefix.format(i), project_id, token, received_at, batch_sent)
            except FieldError as exc:
                if not prefix:
                    raise
                result.rejected.append(Rejection.of(i, exc))
                continue
        events.append(event)
    return result


def common_event(
    raw: Any,
    project_id: int,
    token: str | None,
    received_at: datetime,
    batch_sent: datetime | None,
) -> Event | None:
    """The event, if ``raw`` has the shape SDKs nearly always send; else None.

    The fast path of ``parse``: string ``event`` and ``distinct_id`` (top level or in
    properties), a canonical lower-case ``uuid``, an ISO 8601 UTC ``timestamp``, maybe
    an ``offset``, and no per-event key, ``sent_at`` or top-level ``$set``. Checked
    inline, with no error paths: anything else returns None and ``_event`` (which names
    the bad field) decides. Both give the same ``Event`` for any input this accepts.
    """
    if type(raw) is not dict:
        return None
    get = raw.get
    props = get("properties")
    if type(props) is not dict or "api_key" in raw or "token" in raw or "sent_at" in raw:
        return None
    if "$set" in raw or "$set_once" in raw:
        return None
    name = get("event")
    if type(name) is not str or not name or len(name) > MAX_NAME_LENGTH or name.isspace():
        return None
    did = get("distinct_id")
    if did is None or did == "":
        did = props.get("distinct_id")
    if type(did) is not str or not did or len(did) > MAX_DISTINCT_ID_LENGTH or did.isspace():
        return None
    uid = get("uuid")
    if type(uid) is not str or len(uid) != 36 or not CANONICAL_UUID.fullmatch(uid):
        return None
    raw_ts = get("timestamp")
    if type(raw_ts) is not str:
        return None
    try:
        ts = datetime.fromisoformat(raw_ts)
    except ValueError:
        return None
    if ts.tzinfo is not UTC:
        return None
    offset = get("offset")
    try:
        if offset:
            if type(offset) not in (int, float) or not math.isfinite(offset):
                return None
            when = received_at - timedelta(milliseconds=float(offset))
        elif batch_sent is not None and not props.get("$ignore_sent_at"):
            when = received_at - (batch_sent - ts)
        else:
            when = ts
    except OverflowError:
        return None
    if when - received_at > MAX_FUTURE:
        when = received_at
    if "token" in props:
        if token is None or props["token"] != token:
            return None
        del props["token"]  # the key is not stored with every event
    return Event(uid, project_id, name, did, when, received_at, props)


def _event(
    raw: Any,
    where: str,
    project_id: int,
    token: str | None,
    received_at: datetime,
    batch_sent: datetime | None,
) -> Event:
    if not isinstance(raw, dict):
        raise FieldError(where or None, "each event must be a JSON object")
    get = raw.get
    name = event_name(get("event"), "event", where)
    props = object_field(get("properties"), "properties", where)

    own = props.pop("token", None) or get("api_key") or get("token")
    if own and token is not None and own != token:
        raise FieldError(
            attr_path(where, "api_key"),
            "differs from the request's project key (one request, one project)",
        )

    did = get("distinct_id")
    did_name = "distinct_id"
    if did is None or did == "":
        did = props.get("distinct_id")
        did_name = "properties.distinct_id"
    if did is None:
        raise FieldError(
            attr_path(where, "distinct_id"), "is required (top level or in properties)", "required"
        )
    did = distinct_id(did, did_name, where)

    # $set / $set_once may come top level (server SDKs) or in properties (posthog-js).
    for key in ("$set", "$set_once"):
        top = get(key)
        if top is not None:
            top = object_field(top, key, where)
            inner = props.get(key)
            if isinstance(inner, dict):
                props[key] = {**inner, **top}
            else:
                props[key] = top

    raw_ts = get("timestamp")
    ts = parse_timestamp(raw_ts, "timestamp", where) if raw_ts is not None else None
    raw_offset = get("offset")
    offset = parse_offset(raw_offset, "offset", where) if raw_offset else None
    sent_at = batch_sent
    raw_sent = get("sent_at")
    if raw_sent:
        sent_at = parse_timestamp(raw_sent, "sent_at", where)
    if props.get("$ignore_sent_at"):  # historical imports ask to keep timestamps as sent
        sent_at = None
    when = event_time(
        received_at=received_at, timestamp=ts, sent_at=sent_at, offset_ms=offset, where=where
    )

    uid = event_uuid(get("uuid"), "uuid", where) or fallback_uuid(project_id, raw)
    return Event(uid, project_id, name, did, when, received_at, props)
