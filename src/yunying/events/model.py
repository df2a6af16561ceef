"""The stored event, independent of the wire format it arrived in.

Every ingest path (PostHog, Segment, file import, demo) produces ``Event`` objects, so
dedupe, identity and storage are written once.
"""

from __future__ import annotations

import hashlib
import uuid as uuid_mod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Hot properties copied into their own columns so filters and group-bys on them do not
# parse JSON. Key: property name as SDKs send it; value: column name in the event store.
PROMOTED_PROPERTIES: dict[str, str] = {
    "$current_url": "current_url",
    "$referrer": "referrer",
    "utm_source": "utm_source",
    "channel": "channel",
    "$revenue": "revenue",
    "$content_id": "content_id",
}
NUMERIC_PROMOTED = {"revenue"}

# Namespace for deterministic ids (ids derived from messageIds or from content).
YUNYING_NS = uuid_mod.UUID("5f0d2c3e-8a7b-4b8e-9a51-6d1f0f1e7a01")


@dataclass(slots=True)
class Event:
    """One event after parsing. ``timestamp`` and ``received_at`` are aware UTC datetimes."""

    uuid: str
    project_id: int
    event: str
    distinct_id: str
    timestamp: datetime
    received_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    person_id: str = ""  # resolved at write time (informational; queries use the mapping)

    def promoted(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop, column in PROMOTED_PROPERTIES.items():
            value = self.properties.get(prop)
            if column in NUMERIC_PROMOTED:
                try:
                    out[column] = float(value) if value is not None else None
                except (TypeError, ValueError):
                    out[column] = None
            else:
                out[column] = None if value is None else str(value)
        return out


def normalize_uuid(raw: str | None) -> str | None:
    """A UUID string in canonical form, or a deterministic UUID derived from any other id.

    Segment's messageId and other SDK ids need not be UUIDs; deriving a UUID keeps the
    dedupe key one type across every path.
    """
    if raw is None or raw == "":
        return None
    try:
        return str(uuid_mod.UUID(str(raw)))
    except ValueError:
        return str(uuid_mod.uuid5(YUNYING_NS, str(raw)))


def content_uuid(*parts: object) -> str:
    """A deterministic UUID from content: re-importing the same row yields the same id."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return str(uuid_mod.uuid5(YUNYING_NS, digest))


def person_uuid(project_id: int, distinct_id: str) -> str:
    """The person id a brand-new distinct_id starts with: stable and engine-independent."""
    return str(uuid_mod.uuid5(YUNYING_NS, f"{project_id}\x1f{distinct_id}"))


def utcnow() -> datetime:
    return datetime.now(UTC)
