"""Identity resolution and person properties for a batch of events (pure logic).

PostHog and Segment both express "these ids are one person" as events: ``$identify``
(with ``$anon_distinct_id``), ``$create_alias`` (with ``alias``), Segment ``identify``
(anonymousId + userId) and ``alias`` (previousId → userId). This module turns a batch of
events plus the current id map into the new mapping rows and person property updates.
Nothing here does I/O: the caller loads the current state and writes the result, so the
rules are tested without a database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yunying.events.model import Event, person_uuid
from yunying.store.base import DistinctIdRow, PersonRow

IDENTIFY = "$identify"
CREATE_ALIAS = "$create_alias"
MERGE_DANGEROUSLY = "$merge_dangerously"


def merge_ids(event: Event) -> list[str]:
    """Other distinct ids this event says belong to the event's own person."""
    props = event.properties
    if event.event == IDENTIFY:
        other = props.get("$anon_distinct_id")
    elif event.event == CREATE_ALIAS or event.event == MERGE_DANGEROUSLY:
        other = props.get("alias")
    else:
        return []
    if isinstance(other, str | int) and str(other) and str(other) != event.distinct_id:
        return [str(other)]
    return []


def referenced_ids(events: Iterable[Event]) -> set[str]:
    """Every distinct id a batch touches (to load their current mapping in one query)."""
    out: set[str] = set()
    for e in events:
        out.add(e.distinct_id)
        out.update(merge_ids(e))
    return out


def _version() -> int:
    """Versions grow with wall-clock time so the newest mapping wins across processes."""
    return time.time_ns() // 1000


@dataclass
class IdentityState:
    """The mapping and persons as seen while processing one batch."""

    project_id: int
    id_map: dict[str, str]
    persons: dict[str, PersonRow]
    members_of: Callable[[str], list[str]]
    changed_ids: dict[str, str] = field(default_factory=dict)
    changed_persons: set[str] = field(default_factory=set)

    def person_of(self, distinct_id: str, seen_at: datetime) -> str:
        pid = self.id_map.get(distinct_id)
        if pid is None:
            pid = person_uuid(self.project_id, distinct_id)
            self._map(distinct_id, pid)
            self._ensure_person(pid, seen_at)
        return pid

    def _map(self, distinct_id: str, pid: str) -> None:
        self.id_map[distinct_id] = pid
        self.changed_ids[distinct_id] = pid

    def _ensure_person(self, pid: str, seen_at: datetime) -> PersonRow:
        row = self.persons.get(pid)
        if row is None:
            row = PersonRow(self.project_id, pid, {}, seen_at, 0)
            self.persons[pid] = row
            self.changed_persons.add(pid)
        elif seen_at < _aware(row.created_at, seen_at):
            row.created_at = seen_at
            self.changed_persons.add(pid)
        return row

    def merge(self, other_id: str, target_id: str, seen_at: datetime) -> None:
        """Make ``other_id`` (and its person's ids) part of ``target_id``'s person."""
        target = self.id_map.get(target_id)
        current = self.id_map.get(other_id)
        if target is None and current is not None:
            # A new user id joins the anonymous person that already has history.
            self._map(target_id, current)
            return
        target = self.person_of(target_id, seen_at)
        if current is None:
            self._map(other_id, target)
            return
        if current == target:
            return
        # Two persons become one: re-point every id of the absorbed person.
        members = set(self.members_of(current))
        members |= {d for d, p in self.id_map.items() if p == current}
        for d in members:
            self._map(d, target)
        absorbed = self.persons.get(current)
        kept = self._ensure_person(target, seen_at)
        if absorbed is not None:
            kept.properties = {**absorbed.properties, **kept.properties}
            kept.created_at = min(
                _aware(absorbed.created_at, seen_at), _aware(kept.created_at, seen_at)
            )
        self.changed_persons.add(target)

    def apply_properties(self, pid: str, props: Mapping[str, Any], seen_at: datetime) -> None:
        set_ = props.get("$set")
        set_once = props.get("$set_once")
        unset = props.get("$unset")
        if not (isinstance(set_, dict) or isinstance(set_once, dict) or isinstance(unset, list)):
            return
        row = self._ensure_person(pid, seen_at)
        changed = False
        if isinstance(set_once, dict):
            for k, v in set_once.items():
                if k not in row.properties:
                    row.properties[k] = v
                    changed = True
        if isinstance(set_, dict):
            for k, v in set_.items():
                if row.properties.get(k, _MISSING) != v:
                    row.properties[k] = v
                    changed = True
        if isinstance(unset, list):
            for k in unset:
                if isinstance(k, str) and k in row.properties:
                    del row.properties[k]
                    changed = True
        if changed:
            self.changed_persons.add(pid)

    def rows(self) -> tuple[list[DistinctIdRow], list[PersonRow]]:
        version = _version()
        ids = [DistinctIdRow(self.project_id, d, p, version) for d, p in self.changed_ids.items()]
        persons = []
        for pid in self.changed_persons:
            row = self.persons[pid]
            row.version = max(row.version + 1, version)
            persons.append(row)
        return ids, persons


_MISSING = object()


def _aware(value: datetime, like: datetime) -> datetime:
    """Stores may return naive UTC; compare like with like."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def resolve(state: IdentityState, events: list[Event]) -> None:
    """Assign ``person_id`` to every event (in time order) and update ``state``."""
    for e in sorted(events, key=lambda x: x.timestamp):
        for other in merge_ids(e):
            state.merge(other, e.distinct_id, e.timestamp)
        pid = state.person_of(e.distinct_id, e.timestamp)
        e.person_id = pid
        state.apply_properties(pid, e.properties, e.timestamp)
