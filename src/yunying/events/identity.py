"""Identity resolution and person properties for a batch of events (pure logic).

PostHog and Segment both express "these ids are one person" as events: ``$identify``
(with ``$anon_distinct_id``), ``$create_alias`` (with ``alias``), Segment ``identify``
(anonymousId + userId) and ``alias`` (previousId → userId). This module turns a batch of
events plus the current id map into the new mapping rows and person property updates.
Nothing here does I/O: the caller loads the current state and writes the result, so the
rules are tested without a database.

Rules:
- a merge puts both ids on one person; when both already had (different) persons, every
  id of the other person moves to the event's person, properties are combined (the
  kept person's values win) and ``created_at`` is the earlier one;
- ids that SDKs send when the app has no real id ("null", "undefined", "0", …) never
  take part in a merge, otherwise every such user would become one person (PostHog
  refuses these too);
- events are applied in timestamp order, so ``$set`` of the latest event wins;
- applying a batch whose effects are already in the state changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yunying.events.model import Event, person_uuid
from yunying.store.base import DistinctIdRow, PersonOverrideRow, PersonRow

IDENTIFY = "$identify"
CREATE_ALIAS = "$create_alias"
MERGE_DANGEROUSLY = "$merge_dangerously"
MERGE_EVENTS = frozenset({IDENTIFY, CREATE_ALIAS, MERGE_DANGEROUSLY})
PERSON_PROPERTY_KEYS = ("$set", "$set_once", "$unset")

# Placeholder ids that must never merge (compared lower-cased and stripped).
ILLEGAL_MERGE_IDS = frozenset(
    {
        "anonymous",
        "guest",
        "distinctid",
        "distinct_id",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "false",
        "null",
        "none",
        "nan",
        "0",
        "-1",
        "[object object]",
        '""',
        "''",
    }
)


def mergeable(distinct_id: str) -> bool:
    return bool(distinct_id) and distinct_id.strip().lower() not in ILLEGAL_MERGE_IDS


def merge_ids(event: Event) -> list[str]:
    """Other distinct ids this event says belong to the event's own person."""
    if event.event not in MERGE_EVENTS:
        return []
    props = event.properties
    other = props.get("$anon_distinct_id") if event.event == IDENTIFY else props.get("alias")
    if isinstance(other, bool) or not isinstance(other, str | int | float):
        return []
    other = str(other)
    if other == event.distinct_id or not mergeable(other) or not mergeable(event.distinct_id):
        return []
    return [other]


def touches_persons(event: Event) -> bool:
    """Whether the event changes the id map or person properties (beyond a first sighting).

    Only these events must be deduplicated before identity runs: replaying a stale
    ``$set`` would overwrite a newer value.
    """
    if event.event in MERGE_EVENTS:
        return True
    props = event.properties
    return "$set" in props or "$set_once" in props or "$unset" in props


def referenced_ids(events: Sequence[Event]) -> set[str]:
    """Every distinct id a batch touches (to load their current mapping in one query)."""
    out = {e.distinct_id for e in events}
    for e in events:
        if e.event in MERGE_EVENTS:
            out.update(merge_ids(e))
    return out


def _version() -> int:
    """Versions grow with wall-clock time so the newest mapping wins across processes."""
    return time.time_ns() // 1000


@dataclass
class IdentityState:
    """The mapping and persons as seen while processing one batch.

    ``id_map`` starts as the stored mapping of every id the batch references; ``persons``
    holds the stored persons the batch may change (others are fetched with
    ``load_person`` if a rule needs them); ``members_of`` lists the stored ids of a
    person, for merges of two existing persons.
    """

    project_id: int
    id_map: dict[str, str]
    persons: dict[str, PersonRow]
    members_of: Callable[[str], list[str]]
    load_person: Callable[[str], PersonRow | None] | None = None
    changed_ids: dict[str, str] = field(default_factory=dict)
    changed_persons: set[str] = field(default_factory=set)
    # absorbed person → one of its ids: where its already stamped events now belong
    absorbed: dict[str, str] = field(default_factory=dict)
    # Persons and ids that no stored row had when this batch began (see ``new_rows``).
    created_persons: set[str] = field(default_factory=set)
    _batch_members: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _stored_persons: set[str] = field(default_factory=set, init=False, repr=False)
    _stored_ids: frozenset[str] = field(default_factory=frozenset, init=False, repr=False)

    def __post_init__(self) -> None:
        self._stored_persons = set(self.id_map.values()) | set(self.persons)
        self._stored_ids = frozenset(self.id_map)

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
        self._batch_members.setdefault(pid, set()).add(distinct_id)

    def _person(self, pid: str) -> PersonRow | None:
        row = self.persons.get(pid)
        if row is None and pid in self._stored_persons and self.load_person is not None:
            row = self.load_person(pid)
            if row is not None:
                self.persons[pid] = row
        return row

    def _ensure_person(self, pid: str, seen_at: datetime) -> PersonRow:
        row = self._person(pid)
        if row is None:
            row = PersonRow(self.project_id, pid, {}, seen_at, 0)
            self.persons[pid] = row
            self.changed_persons.add(pid)
            self.created_persons.add(pid)
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
        stored = self.members_of(current) if current in self._stored_persons else []
        members = {d for d in stored if self.id_map.get(d, current) == current}
        members |= self._batch_members.pop(current, set())
        members.add(other_id)
        for d in members:
            self._map(d, target)
        self.absorbed.setdefault(current, other_id)
        absorbed = self._person(current)
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

    def new_rows(self) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
        """(persons, distinct ids) among the changed rows that nothing stored had, as
        (project, id): the store may insert them without replacing (``WriteBatch``)."""
        p = self.project_id
        ids = {(p, d) for d in self.changed_ids if d not in self._stored_ids}
        return {(p, x) for x in self.created_persons}, ids

    def override_rows(self) -> list[PersonOverrideRow]:
        """Persons absorbed in this batch: their events resolve through ``person_overrides``."""
        return [PersonOverrideRow(self.project_id, p, d) for p, d in self.absorbed.items()]


_MISSING = object()


def _aware(value: datetime, like: datetime) -> datetime:
    """Stores may return naive UTC; compare like with like."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def _timestamp(e: Event) -> datetime:
    return e.timestamp


def resolve(state: IdentityState, events: list[Event]) -> None:
    """Assign ``person_id`` to every event (in time order) and update ``state``.

    Runs for every ingested event, so the common case (a known id, no merge, no person
    properties) is one dict look-up.
    """
    id_map = state.id_map
    for e in sorted(events, key=_timestamp):
        if e.event in MERGE_EVENTS:
            for other in merge_ids(e):
                state.merge(other, e.distinct_id, e.timestamp)
        pid = id_map.get(e.distinct_id)
        if pid is None:
            pid = state.person_of(e.distinct_id, e.timestamp)
        e.person_id = pid
        props = e.properties
        if "$set" in props or "$set_once" in props or "$unset" in props:
            state.apply_properties(pid, props, e.timestamp)
