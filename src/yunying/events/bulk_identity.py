"""Identity for a bulk batch: ``person_id`` per row, and the mapping and person changes.

``events.identity.resolve`` walks every event in time order, but an event that does not
touch persons (no merge, no ``$set``…) can change the state only the first time its
distinct id is seen: then the id gets its own person. So the rules run here over a
short sequence, in the same order, of each id's first row and every row that touches
persons; that is the whole state change. Each row's ``person_id`` is then the mapping of
its distinct id at its place in that order: one look-up per distinct id, except for the
few ids a merge re-points within the batch, whose rows are looked up by position.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yunying.events.columnar import Columns
from yunying.events.identity import IdentityState, referenced_ids, resolve
from yunying.events.import_sources import EPOCH
from yunying.events.model import Event
from yunying.store.base import DistinctIdRow, EventStore, PersonOverrideRow, PersonRow


@dataclass
class _RecordingState(IdentityState):
    """``IdentityState`` that notes where in the batch each id's mapping changed."""

    position: int = 0
    history: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def _map(self, distinct_id: str, pid: str) -> None:
        super()._map(distinct_id, pid)
        self.history.setdefault(distinct_id, []).append((self.position, pid))


@dataclass
class Resolved:
    """A batch after identity: its rows (stored person changers dropped) and ``person_id``."""

    columns: Columns
    person_id: pa.Array
    distinct_ids: list[DistinctIdRow]
    persons: list[PersonRow]
    overrides: list[PersonOverrideRow] = field(default_factory=list)


def resolve_batch(store: EventStore, project_id: int, batch: Columns) -> Resolved:
    """The per-event path's ``prepare_batch`` for a batch without uuids twice.

    As there, rows that touch persons and are stored already are left out first (a
    replayed ``$set`` must not overwrite a newer value); other stored rows still count
    as sightings of their ids, and the store skips them on write.
    """
    if len(batch) == 0:
        return Resolved(batch, pa.array([], pa.string()), [], [], [])
    batch = _without_stored_changes(store, project_id, batch)
    table = batch.table
    touching = pc.indices_nonzero(batch.touches).to_pylist()
    micros = table.column("timestamp").combine_chunks().cast(pa.int64())
    order = pc.sort_indices(micros)  # stable: ties keep file order, as ``sorted`` does
    position = np.empty(len(batch), dtype=np.int64)
    position[order.to_numpy()] = np.arange(len(batch))
    dids_sorted = table.column("distinct_id").combine_chunks().take(order)
    unique = pc.unique(dids_sorted)  # in order of first appearance
    unique_ids = unique.to_pylist()
    first_positions = pc.index_in(unique, value_set=dids_sorted).to_pylist()

    changes = _event(table, touching, project_id, micros, batch.touch_props)
    id_map = store.distinct_id_map(project_id, set(unique_ids) | referenced_ids(changes))
    initial = dict(id_map)
    wanted = {id_map[d] for d in referenced_ids(changes) if d in id_map}
    persons = store.persons(project_id, wanted) if wanted else {}

    def members_of(pid: str) -> list[str]:
        return store.person_ids_for(project_id, [pid]).get(pid, [])

    def load_person(pid: str) -> PersonRow | None:
        return store.persons(project_id, [pid]).get(pid)

    state = _RecordingState(project_id, id_map, persons, members_of, load_person)
    # The short sequence, in time order: every row touching persons, and the first row
    # of each id the store does not know (a known id's rows change nothing).
    steps: dict[int, Event | tuple[str, int]] = {
        int(position[i]): e for i, e in zip(touching, changes, strict=True)
    }
    new = [(q, d) for d, q in zip(unique_ids, first_positions, strict=True) if d not in initial]
    seen_at = micros.take(order.take(pa.array([q for q, _ in new], pa.int64()))).to_pylist()
    for (q, did), us in zip(new, seen_at, strict=True):
        steps.setdefault(q, (did, us))
    for q in sorted(steps):
        state.position = q
        step = steps[q]
        if isinstance(step, Event):
            resolve(state, [step])
        else:  # what ``resolve`` does with a plain event: map its id if new
            state.person_of(step[0], EPOCH + timedelta(microseconds=step[1]))
    person = _person_ids(dids_sorted, unique_ids, first_positions, initial, state.history)
    pdi_rows, person_rows = state.rows()
    return Resolved(
        batch, person.take(pa.array(position)), pdi_rows, person_rows, state.override_rows()
    )


def _without_stored_changes(store: EventStore, project_id: int, batch: Columns) -> Columns:
    """``batch`` without its rows that touch persons and are stored already."""
    touching = pc.indices_nonzero(batch.touches).to_pylist()
    if not touching:
        return batch
    uuids = batch.table.column("uuid").take(touching).to_pylist()
    stored = store.existing_uuids(project_id, uuids)
    if not stored:
        return batch
    return _drop(batch, [i for i, u in zip(touching, uuids, strict=True) if u in stored])


def _person_ids(
    dids_sorted: pa.Array,
    unique_ids: list[str],
    first_positions: list[int],
    initial: dict[str, str],
    history: dict[str, list[tuple[int, str]]],
) -> pa.Array:
    """Each row's person (rows in time order): the mapping of its id at its position."""
    keys: list[str] = []
    values: list[str] = []
    moving: dict[str, list[tuple[int, str]]] = {}
    for did, first in zip(unique_ids, first_positions, strict=True):
        h = history.get(did)
        if not h:
            keys.append(did)
            values.append(initial[did])
        elif len(h) == 1 and h[0][0] <= first:
            keys.append(did)
            values.append(h[0][1])
        else:
            moving[did] = h
    codes = pc.index_in(dids_sorted, value_set=pa.array(keys, pa.string()))
    out = pa.array(values, pa.string()).take(codes)
    if not moving:
        return out
    rows = pc.indices_nonzero(pc.is_in(dids_sorted, pa.array(list(moving), pa.string())))
    fixed = []
    rows_list = rows.to_pylist()
    for q in rows_list:
        did = dids_sorted[q].as_py()
        h = moving[did]
        k = bisect.bisect_right(h, q, key=lambda step: step[0]) - 1
        fixed.append(h[k][1] if k >= 0 else initial[did])
    mask = np.zeros(len(dids_sorted), dtype=bool)
    mask[rows_list] = True
    return pc.replace_with_mask(out, pa.array(mask), pa.array(fixed, pa.string()))


def _event(
    table: pa.Table,
    rows: list[int],
    project_id: int,
    micros: pa.Array,
    props: list[dict[str, Any]],
) -> list[Event]:
    """Rows as the ``Event``s the identity rules read (time, ids, name, properties)."""
    if not rows:
        return []
    index = pa.array(rows, pa.int64())
    cols = [table.column(c).take(index).to_pylist() for c in ("uuid", "event", "distinct_id")]
    out = []
    for uid, name, did, us, p in zip(*cols, micros.take(index).to_pylist(), props, strict=True):
        ts = EPOCH + timedelta(microseconds=us)
        out.append(Event(uid, project_id, name, did, ts, ts, p))
    return out


def _drop(batch: Columns, rows: list[int]) -> Columns:
    """``batch`` without ``rows`` (all of them rows that touch persons)."""
    mask = np.ones(len(batch), dtype=bool)
    mask[rows] = False
    keep = pa.array(mask)
    touching = pc.indices_nonzero(batch.touches).to_pylist()
    gone = set(rows)
    props = [p for i, p in zip(touching, batch.touch_props, strict=True) if i not in gone]
    return Columns(batch.table.filter(keep), batch.touches.filter(keep), props)
