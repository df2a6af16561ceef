"""Rules every wire format shares: field errors that name the field, timestamps, ids.

PostHog and Segment payloads differ in shape but not in what can go wrong with a field,
so the checks live here once. Everything works on plain dicts from ``orjson.loads``: the
ingest hot path builds no per-event models.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from yunying.events.model import Event, content_uuid, normalize_uuid

# PostHog's rule: an event more than 23 hours in the future is an instrumentation bug;
# keep it, but at the receive time, so it does not sit in tomorrow's charts.
MAX_FUTURE = timedelta(hours=23)
# SDKs truncate at 200 characters; longer names and ids are almost always a bug upstream.
MAX_NAME_LENGTH = 200
MAX_DISTINCT_ID_LENGTH = 200

CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class FieldError(ValueError):
    """One bad field; ``attr`` is its path in the request (``batch[3].timestamp``)."""

    def __init__(self, attr: str | None, detail: str, code: str = "invalid_payload") -> None:
        super().__init__(f"{attr}: {detail}" if attr else detail)
        self.attr = attr
        self.detail = detail
        self.code = code


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event of a batch that was not stored, and why (the rest of the batch was)."""

    index: int
    attr: str | None
    detail: str
    code: str = "invalid_payload"

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "attr": self.attr, "code": self.code, "detail": self.detail}

    @classmethod
    def of(cls, index: int, error: FieldError) -> Rejection:
        return cls(index, error.attr, error.detail, error.code)


@dataclass(slots=True)
class ParseResult:
    """Events ready to write plus the rejected items of a batch."""

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    is_batch: bool = False


def attr_path(prefix: str, name: str) -> str:
    """``batch[3]`` + ``timestamp`` → ``batch[3].timestamp``; no prefix for single events.

    Validators take the prefix as ``where`` and build the path only on error, so the
    hot path formats no strings.
    """
    if not prefix:
        return name
    return f"{prefix}.{name}"


# ---- timestamps ----------------------------------------------------------------------------


def parse_timestamp(value: Any, attr: str, where: str = "") -> datetime:
    """An aware UTC datetime from ISO 8601 (no zone means UTC) or epoch milliseconds."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _from_millis(int(text), attr_path(where, attr))
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                attr_path(where, attr),
                f"not an ISO 8601 timestamp or epoch milliseconds: {value[:80]!r}",
            ) from None
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        if dt.utcoffset() == timedelta(0):
            return dt if dt.tzinfo is UTC else dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_millis(value, attr_path(where, attr))
    raise FieldError(
        attr, f"must be an ISO 8601 string or epoch milliseconds, not {_type_name(value)}"
    )


def _from_millis(value: float, attr: str) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(attr, "must be a finite number of epoch milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldError(attr, f"epoch milliseconds out of range: {value!r}") from None


def parse_offset(value: Any, attr: str, where: str = "") -> float:
    """PostHog's ``offset``: milliseconds between the event and the send."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if math.isfinite(value):
                return float(value)
        except OverflowError:  # an int beyond any float
            pass
    raise FieldError(
        attr_path(where, attr), f"must be a number of milliseconds, not {_type_name(value)}"
    )


def event_time(
    *,
    received_at: datetime,
    timestamp: datetime | None = None,
    sent_at: datetime | None = None,
    offset_ms: float | None = None,
    where: str = "",
) -> datetime:
    """When the event happened, on the server's clock.

    A device clock can be off by hours; the gap between the event and the send is
    trustworthy, the absolute time is not. So with ``sent_at``:
    ``timestamp := received_at - (sent_at - timestamp)``; with PostHog's ``offset``:
    ``received_at - offset``. Events claiming to be more than 23 h ahead are pinned to
    ``received_at``. A correction past year 1 or 9999 is the offending field's error.
    """
    try:
        if offset_ms is not None:
            ts = received_at - timedelta(milliseconds=offset_ms)
        elif timestamp is not None and sent_at is not None:
            ts = received_at - (sent_at - timestamp)
        elif timestamp is not None:
            ts = timestamp
        else:
            ts = received_at
    except OverflowError:
        attr = "offset" if offset_ms is not None else "timestamp"
        raise FieldError(
            attr_path(where, attr), "puts the event outside the representable time range"
        ) from None
    if ts - received_at > MAX_FUTURE:
        return received_at
    return ts


# ---- fields --------------------------------------------------------------------------------


def event_name(value: Any, attr: str, where: str = "") -> str:
    if not isinstance(value, str):
        if value is None:
            raise FieldError(attr_path(where, attr), "is required", "required")
        raise FieldError(attr_path(where, attr), f"must be a string, not {_type_name(value)}")
    if not value.strip():
        raise FieldError(attr_path(where, attr), "must not be empty")
    return value[:MAX_NAME_LENGTH]


def distinct_id(value: Any, attr: str, where: str = "") -> str:
    """SDKs send ids as strings or numbers; both are stored as text."""
    if isinstance(value, str):
        if not value.strip():
            raise FieldError(attr_path(where, attr), "must not be empty")
        return value[:MAX_DISTINCT_ID_LENGTH]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if value is None:
        raise FieldError(attr_path(where, attr), "is required", "required")
    raise FieldError(
        attr_path(where, attr), f"must be a string or a number, not {_type_name(value)}"
    )


def optional_id(value: Any, attr: str, where: str = "") -> str | None:
    """Like ``distinct_id`` but absent (None or "") is allowed."""
    if value is None or value == "":
        return None
    return distinct_id(value, attr, where)


def object_field(value: Any, attr: str, where: str = "") -> dict[str, Any]:
    """A JSON object field; absent or null means empty."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise FieldError(attr_path(where, attr), f"must be an object, not {_type_name(value)}")


def event_uuid(value: Any, attr: str, where: str = "") -> str | None:
    """The dedupe id the SDK sent, as a canonical UUID (non-UUID ids map deterministically)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) == 36 and CANONICAL_UUID.fullmatch(value):
            return value
        return normalize_uuid(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return normalize_uuid(str(value))
    raise FieldError(attr_path(where, attr), f"must be a string, not {_type_name(value)}")


_VOLATILE_KEYS = frozenset({"sent_at", "sentAt", "offset", "api_key", "token", "writeKey", "now"})


def fallback_uuid(project_id: int, raw: dict[str, Any]) -> str:
    """A deterministic id for an event sent without one, so a retry is not stored twice.

    Derived from the event as sent, minus what changes between retries (send time,
    offset, key).
    """
    stable = {k: v for k, v in raw.items() if k not in _VOLATILE_KEYS}
    try:
        text = orjson.dumps(stable, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # not JSON-shaped (cannot come from a request body)
        text = repr(sorted(stable.items(), key=lambda kv: kv[0]))
    return content_uuid(project_id, text)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
