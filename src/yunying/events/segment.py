"""Segment's tracking API wire format → ``Event``s (in PostHog's event vocabulary).

One vocabulary downstream means identity and metrics are written once:
track → the event name; page → ``$pageview``; screen → ``$screen``; identify →
``$identify`` with traits as ``$set`` (and ``anonymousId`` → ``$anon_distinct_id`` so the
anonymous history joins the user); alias (previousId → userId) → ``$create_alias``;
group → ``$groupidentify``. ``distinct_id`` is ``userId``, else ``anonymousId``. The
``context`` object is flattened into PostHog-style properties (``$ip``, ``utm_source``,
``$lib`` …); context keys without a mapping are kept under ``$segment_context``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from yunying.events.model import Event
from yunying.events.validation import (
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
    optional_id,
    parse_timestamp,
)

TYPES = ("track", "page", "screen", "identify", "alias", "group")
KEY_PLACES = "the HTTP Basic auth user name (Segment's write key) or 'writeKey' in the body"
DEFAULT_GROUP_TYPE = "company"

# context.<object>.<key> → property
_NESTED_CONTEXT: dict[str, dict[str, str]] = {
    "campaign": {
        "name": "utm_campaign",
        "source": "utm_source",
        "medium": "utm_medium",
        "term": "utm_term",
        "content": "utm_content",
    },
    "library": {"name": "$lib", "version": "$lib_version"},
    "page": {
        "url": "$current_url",
        "referrer": "$referrer",
        "path": "$pathname",
        "title": "$title",
        "search": "$search",
    },
    "os": {"name": "$os", "version": "$os_version"},
    "device": {
        "id": "$device_id",
        "type": "$device_type",
        "manufacturer": "$device_manufacturer",
        "model": "$device_model",
        "name": "$device_name",
    },
    "app": {"name": "$app_name", "version": "$app_version", "build": "$app_build"},
    "screen": {"width": "$screen_width", "height": "$screen_height", "density": "$screen_density"},
    "network": {"wifi": "$network_wifi", "carrier": "$network_carrier"},
    "location": {"country": "$geoip_country_name", "city": "$geoip_city_name"},
}
# context.<key> → property
_FLAT_CONTEXT = {
    "ip": "$ip",
    "userAgent": "$raw_user_agent",
    "locale": "$locale",
    "timezone": "$timezone",
}


def find_write_key(payload: Any) -> str | None:
    """``writeKey`` from the body (the HTTP layer checks Basic auth first)."""
    if isinstance(payload, dict):
        value = payload.get("writeKey")
        if isinstance(value, str) and value:
            return value
    return None


def basic_auth_user(header: str | None) -> str | None:
    """The user part of an ``Authorization: Basic`` header (Segment's write key)."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user = decoded.split(":", 1)[0]
    return user or None


def parse(payload: Any, *, project_id: int, kind: str, received_at: datetime) -> ParseResult:
    """Events of a Segment request. ``kind`` is the path's type, or ``"batch"``.

    A bad single call raises ``FieldError``; bad messages of a batch are listed in
    ``rejected`` and the rest kept.
    """
    if not isinstance(payload, dict):
        raise FieldError(None, "body must be a JSON object")
    raw_sent = payload.get("sentAt")
    batch_sent = parse_timestamp(raw_sent, "sentAt") if raw_sent else None
    if kind != "batch":
        event = _message(payload, "", kind, project_id, received_at, batch_sent, None)
        return ParseResult(events=[event])

    items = payload.get("batch")
    if not isinstance(items, list):
        raise FieldError("batch", "must be an array of messages", "required")
    if not items:
        raise FieldError("batch", "must not be empty")
    shared_context = object_field(payload.get("context"), "context")
    result = ParseResult(is_batch=True)
    for i, raw in enumerate(items):
        where = f"batch[{i}]"
        try:
            if not isinstance(raw, dict):
                raise FieldError(where, "each message must be a JSON object")
            msg_type = raw.get("type")
            if msg_type not in TYPES:
                raise FieldError(
                    attr_path(where, "type"),
                    f"must be one of {', '.join(TYPES)}; got {str(msg_type)[:40]!r}",
                )
            result.events.append(
                _message(raw, where, msg_type, project_id, received_at, batch_sent, shared_context)
            )
        except FieldError as exc:
            result.rejected.append(Rejection.of(i, exc))
    return result


def _message(
    raw: Mapping[str, Any],
    where: str,
    kind: str,
    project_id: int,
    received_at: datetime,
    batch_sent: datetime | None,
    shared_context: dict[str, Any] | None,
) -> Event:
    get = raw.get
    user_id = optional_id(get("userId"), "userId", where)
    anon_id = optional_id(get("anonymousId"), "anonymousId", where)
    context = object_field(get("context"), "context", where)
    if shared_context:
        context = {**shared_context, **context}

    if kind == "alias":
        if user_id is None:
            raise FieldError(attr_path(where, "userId"), "is required for alias", "required")
        previous = distinct_id(get("previousId"), "previousId", where)
        did, name, props = user_id, "$create_alias", {"alias": previous}
    else:
        if user_id is not None:
            did = user_id
        elif anon_id is not None:
            did = anon_id
        else:
            raise FieldError(
                attr_path(where, "userId"), "userId or anonymousId is required", "required"
            )
        props = object_field(get("properties"), "properties", where)
        name = _typed(kind, raw, where, props, context, user_id, anon_id)

    _flatten_context(context, props)

    ts_field = "timestamp" if get("timestamp") else "originalTimestamp"
    raw_ts = get(ts_field)
    ts = parse_timestamp(raw_ts, ts_field, where) if raw_ts else None
    sent_at = batch_sent
    if get("sentAt"):
        sent_at = parse_timestamp(get("sentAt"), "sentAt", where)
    when = event_time(received_at=received_at, timestamp=ts, sent_at=sent_at, where=where)

    uid = event_uuid(get("messageId"), "messageId", where)
    if uid is None:
        uid = fallback_uuid(project_id, {"type": kind, **raw})
    return Event(uid, project_id, name, did, when, received_at, props)


def _typed(
    kind: str,
    raw: Mapping[str, Any],
    where: str,
    props: dict[str, Any],
    context: Mapping[str, Any],
    user_id: str | None,
    anon_id: str | None,
) -> str:
    """The event name for ``kind``, adding the type's own fields to ``props``."""
    get = raw.get
    if kind == "track":
        return event_name(get("event"), "event", where)
    if kind in ("page", "screen"):
        page_name = get("name")
        if page_name is not None and not isinstance(page_name, str):
            raise FieldError(attr_path(where, "name"), "must be a string")
        if page_name:
            props.setdefault("name", page_name)
        if isinstance(get("category"), str):
            props.setdefault("category", get("category"))
        if kind == "screen":
            if page_name:
                props.setdefault("$screen_name", page_name)
            return "$screen"
        for prop, key in (
            ("url", "$current_url"),
            ("referrer", "$referrer"),
            ("path", "$pathname"),
        ):
            if props.get(prop) is not None:
                props.setdefault(key, props[prop])
        return "$pageview"
    if kind == "identify":
        traits = object_field(get("traits"), "traits", where)
        if not traits:
            traits = object_field(context.get("traits"), "context.traits", where)
        if traits:
            inner = props.get("$set")
            props["$set"] = {**inner, **traits} if isinstance(inner, dict) else dict(traits)
        if user_id is not None and anon_id is not None and anon_id != user_id:
            props["$anon_distinct_id"] = anon_id
        return "$identify"
    if kind == "group":
        group_id = distinct_id(get("groupId"), "groupId", where)
        traits = dict(object_field(get("traits"), "traits", where))
        group_type = traits.pop("group_type", None)
        props["$group_type"] = group_type if isinstance(group_type, str) else DEFAULT_GROUP_TYPE
        props["$group_key"] = group_id
        props["$group_set"] = traits
        return "$groupidentify"
    raise FieldError(attr_path(where, "type"), f"unknown type {kind!r}")


def _flatten_context(context: Mapping[str, Any], props: dict[str, Any]) -> None:
    """Copy known context fields into ``props`` (the event's own properties win)."""
    if not context:
        return
    rest: dict[str, Any] = {}
    for key, value in context.items():
        if value is None:
            continue
        flat = _FLAT_CONTEXT.get(key)
        if flat is not None:
            props.setdefault(flat, value)
            continue
        nested = _NESTED_CONTEXT.get(key)
        if nested is not None and isinstance(value, dict):
            leftover = {}
            for sub, sub_value in value.items():
                prop = nested.get(sub)
                if prop is None:
                    leftover[sub] = sub_value
                elif sub_value is not None:
                    props.setdefault(prop, sub_value)
            if leftover:
                rest[key] = leftover
            continue
        rest[key] = value
    if rest:
        props.setdefault("$segment_context", rest)
