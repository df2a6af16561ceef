"""The one write path for events: identity, persons, dedupe, durable write.

HTTP ingest, file import and the demo generator all call ``write_events``, so an event
means the same thing whichever way it arrived.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from yunying.events.identity import IdentityState, referenced_ids, resolve
from yunying.events.model import Event
from yunying.store.base import EventStore, WriteBatch


@dataclass(frozen=True)
class WriteSummary:
    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted


def prepare_batch(store: EventStore, events: Sequence[Event]) -> WriteBatch:
    """Resolve identities and person properties for ``events`` against the store."""
    batch = WriteBatch(events=list(events))
    by_project: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_project[e.project_id].append(e)
    for project_id, group in by_project.items():
        ids = referenced_ids(group)
        id_map = store.distinct_id_map(project_id, ids)
        persons = store.persons(project_id, set(id_map.values()))

        def members_of(pid: str, _p: int = project_id) -> list[str]:
            return store.person_ids_for(_p, [pid]).get(pid, [])

        state = IdentityState(project_id, id_map, persons, members_of)
        resolve(state, group)
        pdi_rows, person_rows = state.rows()
        batch.distinct_ids.extend(pdi_rows)
        batch.persons.extend(person_rows)
    return batch


def write_events(store: EventStore, events: Sequence[Event]) -> WriteSummary:
    """Write ``events`` durably; an event whose uuid is already stored is skipped.

    Returns only after the store has committed.
    """
    if not events:
        return WriteSummary(0, 0)
    inserted = store.write(prepare_batch(store, events))
    return WriteSummary(len(events), inserted)
