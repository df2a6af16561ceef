"""The one write path for events: dedupe, identity, persons, durable write.

HTTP ingest, file import and the demo generator all call ``write_events``, so an event
means the same thing whichever way it arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yunying.events.identity import IdentityState, referenced_ids, resolve, touches_persons
from yunying.events.model import Event
from yunying.store.base import EventStore, PersonRow, WriteBatch
from yunying.store.optimistic import OptimisticBatch, StoredDuplicate, writes_optimistically


@dataclass(frozen=True)
class WriteSummary:
    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted


def _unique(events: Sequence[Event]) -> list[Event]:
    """First occurrence of each (project, uuid): an SDK retry inside one commit counts once."""
    keys = [(e.project_id, e.uuid) for e in events]
    if len(set(keys)) == len(keys):
        return list(events)
    seen: set[tuple[int, str]] = set()
    out = []
    for key, e in zip(keys, events, strict=True):
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _by_project(events: list[Event]) -> dict[int, list[Event]]:
    first = events[0].project_id
    if all(e.project_id == first for e in events):
        return {first: events}
    out: dict[int, list[Event]] = {}
    for e in events:
        out.setdefault(e.project_id, []).append(e)
    return out


def prepare_batch(
    store: EventStore, events: Sequence[Event], *, optimistic: bool = False
) -> WriteBatch:
    """Resolve identities and person properties for ``events`` against the store.

    Events already stored are dropped first when they would change persons: a retried
    ``$set`` must not overwrite a newer value, and a replayed batch must change nothing.
    Plain events need no such look-up (the store skips known uuids on write).
    ``optimistic=True`` skips the look-up and returns an ``OptimisticBatch``, which a
    store with ``optimistic_writes`` refuses if an event turns out to be stored.
    """
    batch = OptimisticBatch() if optimistic else WriteBatch()
    unique = _unique(events)
    if not unique:
        return batch
    for project_id, group in _by_project(unique).items():
        relevant = [e for e in group if touches_persons(e)]
        if relevant and not optimistic:
            stored = store.existing_uuids(project_id, [e.uuid for e in relevant])
            if stored:
                group = [e for e in group if e.uuid not in stored]
                relevant = [e for e in relevant if e.uuid not in stored]
        id_map = store.distinct_id_map(project_id, referenced_ids(group))
        # Only persons a rule may change are loaded up front (their JSON is not free).
        wanted = {id_map[d] for d in referenced_ids(relevant) if d in id_map}
        persons = store.persons(project_id, wanted) if wanted else {}

        def members_of(pid: str, _p: int = project_id) -> list[str]:
            return store.person_ids_for(_p, [pid]).get(pid, [])

        def load_person(pid: str, _p: int = project_id) -> PersonRow | None:
            return store.persons(_p, [pid]).get(pid)

        state = IdentityState(project_id, id_map, persons, members_of, load_person)
        resolve(state, group)
        pdi_rows, person_rows = state.rows()
        batch.events.extend(group)
        batch.distinct_ids.extend(pdi_rows)
        batch.persons.extend(person_rows)
        batch.overrides.extend(state.override_rows())
        new_persons, new_ids = state.new_rows()
        batch.new_persons |= new_persons
        batch.new_ids |= new_ids
    return batch


def write_events(store: EventStore, events: Sequence[Event]) -> WriteSummary:
    """Write ``events`` durably; an event whose uuid is already stored is skipped.

    Returns only after the store has committed. A store with ``optimistic_writes`` is
    first given the batch resolved without looking up stored uuids; only if it refuses
    (a duplicate, e.g. an SDK retry) is the batch resolved again with the look-up.
    """
    if not events:
        return WriteSummary(0, 0)
    if writes_optimistically(store):
        try:
            return WriteSummary(
                len(events), store.write(prepare_batch(store, events, optimistic=True))
            )
        except StoredDuplicate:
            pass
    inserted = store.write(prepare_batch(store, events))
    return WriteSummary(len(events), inserted)
