"""Small builders for hand-computed test cases: events at local times, identity merges."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yunying.events.model import Event, person_uuid
from yunying.store.base import (
    DistinctIdRow,
    EventStore,
    PersonOverrideRow,
    PersonRow,
    WriteBatch,
)

_seq = itertools.count(1)


def at(local: str, tz: str = "Asia/Shanghai") -> datetime:
    """'2024-01-01 09:30' in ``tz`` as an aware UTC datetime."""
    fmt = "%Y-%m-%d %H:%M:%S" if local.count(":") == 2 else "%Y-%m-%d %H:%M"
    if len(local) == 10:
        fmt = "%Y-%m-%d"
    return datetime.strptime(local, fmt).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def ev(
    distinct_id: str,
    event: str,
    when: str | datetime,
    project_id: int = 1,
    tz: str = "Asia/Shanghai",
    **properties: Any,
) -> Event:
    ts = at(when, tz) if isinstance(when, str) else when
    n = next(_seq)
    return Event(
        uuid=f"00000000-0000-4000-8000-{n:012d}",
        project_id=project_id,
        event=event,
        distinct_id=distinct_id,
        person_id=person_uuid(project_id, distinct_id),
        timestamp=ts,
        received_at=ts,
        properties=properties,
    )


def load(
    store: EventStore,
    events: list[Event],
    *,
    merges: dict[str, str] | None = None,
    person_props: dict[str, dict[str, Any]] | None = None,
    project_id: int = 1,
) -> None:
    """Write events; ``merges`` maps a distinct id to the distinct id whose person it joins.

    Person ids are ``person_uuid(project, root distinct id)``; ``person_props`` is keyed by
    root distinct id. Events keep the person of their own id (as if each id had its own
    person before the merge), so merges go through ``person_overrides`` as the write path
    records them when two persons with history merge.
    """
    merges = merges or {}
    ids = {e.distinct_id for e in events if e.project_id == project_id} | set(merges)
    ids |= set(merges.values())
    rows = [DistinctIdRow(project_id, d, person_uuid(project_id, merges.get(d, d)), 1) for d in ids]
    persons = [
        PersonRow(
            project_id, person_uuid(project_id, d), props, datetime(2020, 1, 1, tzinfo=UTC), 1
        )
        for d, props in (person_props or {}).items()
    ]
    overrides = [
        PersonOverrideRow(project_id, person_uuid(project_id, d), d)
        for d, root in merges.items()
        if root != d
    ]
    store.write(WriteBatch(events=events, persons=persons, distinct_ids=rows, overrides=overrides))


def pid(distinct_id: str, project_id: int = 1) -> str:
    return person_uuid(project_id, distinct_id)


def random_events(
    rnd: random.Random,
    n: int,
    *,
    start: date,
    days: int,
    persons: int,
    names: tuple[str, ...] = ("pv", "buy"),
    **choices: list[Any],
) -> list[Event]:
    """``n`` seeded events at random local minutes over ``days`` days from ``start``.

    Each keyword names a property whose value is drawn from its list.
    """
    out = []
    for _ in range(n):
        day = start + timedelta(days=rnd.randrange(days))
        minute = rnd.randrange(24 * 60)
        out.append(
            ev(
                f"u{rnd.randrange(persons)}",
                rnd.choice(names),
                f"{day} {minute // 60:02d}:{minute % 60:02d}",
                **{k: rnd.choice(v) for k, v in choices.items()},
            )
        )
    return out
