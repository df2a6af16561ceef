"""In-memory copies of the identity tables for the DuckDB store's look-ups during ingest.

Why: every commit looks up the person of each distinct id it contains, and the persons
that its ``$set``/merge events change. DuckDB answers both with a join that scans the
whole table (it does not use the primary key for such look-ups): ~5 ms per commit at
100,000 ids and growing with the table, plus a few ms of fixed cost per query, which
was a sixth of the ingest writer's time. The mirror answers from dicts instead:
``distinct_id → person_id`` completely per project (loaded on first use), and the most
recently written persons (a bounded cache; a miss is read from DuckDB).

It is exact because the store applies every row it commits, exactly as its SQL does,
and it is used only while the store is the one writer of its database: never for
read-only stores (another process writes), and not once a second read-write store has
opened the same file in this process (DuckDB shares one database between them). A
write whose outcome is unknown drops the copies; an id map over ``id_limit`` entries
is given up (memory). Writes through ``query()`` bypass it: tables are written only
through ``write``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

import orjson

from yunying.store.base import DistinctIdRow, PersonRow

ID_LIMIT = 1_000_000  # ~0.2 GB at ~200 bytes per id
PERSON_LIMIT = 100_000  # recently written persons kept

_registry_lock = threading.Lock()
_open: dict[str, int] = {}  # path → read-write stores open on it now
_opened: dict[str, int] = {}  # path → read-write stores ever opened on it

# A person as stored: properties JSON text, created_at (naive UTC), version.
_Stored = tuple[str, datetime, int]
_Key = tuple[int, str]  # (project_id, distinct id or person id)
V = TypeVar("V")


def _close(path: str) -> None:
    with _registry_lock:
        _open[path] -= 1


class IdentityMirror:
    """The store's identity tables as far as ingest needs them; see the module docstring.

    Not thread-safe on its own: the store calls it under its write lock.
    """

    def __init__(
        self,
        owner: object,
        path: str | None,
        *,
        id_limit: int = ID_LIMIT,
        person_limit: int = PERSON_LIMIT,
    ) -> None:
        self._path = path
        self._id_limit = id_limit
        self._person_limit = person_limit
        self._ids: dict[int, dict[str, str]] = {}
        self._id_count = 0
        self._persons: dict[_Key, _Stored] = {}
        self._enabled = True
        self.release: Callable[[], object] = lambda: None
        if path is not None:
            with _registry_lock:
                _open[path] = _open.get(path, 0) + 1
                _opened[path] = _opened.get(path, 0) + 1
                self._sole = _open[path] == 1
                self._generation = _opened[path]
            # Counts the store as closed when it is closed or collected, whichever is first.
            self.release = weakref.finalize(owner, _close, path)

    def usable(self) -> bool:
        """Whether the copies may be used; once not, never again for this store."""
        if self._enabled and self._path is not None:
            with _registry_lock:
                exclusive = self._sole and _opened[self._path] == self._generation
            if not exclusive:
                self._give_up()
        return self._enabled

    # ---- distinct ids ------------------------------------------------------------------

    def distinct_ids(
        self,
        project_id: int,
        ids: Iterable[str],
        load: Callable[[int], list[tuple[str, str]]],
    ) -> dict[str, str] | None:
        """The person of each known id in ``ids``, or None: ask the database instead.

        ``load(n)`` reads at most ``n`` rows of the project's id map, the first time.
        """
        if not self.usable():
            return None
        known = self._ids.get(project_id)
        if known is None:
            room = self._id_limit - self._id_count
            rows = load(room + 1)
            if len(rows) > room:
                self._give_up()
                return None
            known = self._ids[project_id] = dict(rows)
            self._id_count += len(known)
        get = known.get
        return {d: p for d in ids if (p := get(d)) is not None}

    # ---- persons -----------------------------------------------------------------------

    def persons(
        self, project_id: int, ids: Iterable[str]
    ) -> tuple[dict[str, PersonRow], list[str]]:
        """Fresh rows of the mirrored persons among ``ids``, and the ids to read instead."""
        found: dict[str, PersonRow] = {}
        missing: list[str] = []
        if not self.usable():
            return found, list(ids)
        for pid in ids:
            stored = self._persons.get((project_id, pid))
            if stored is None:
                missing.append(pid)
            else:
                props, created_at, version = stored
                found[pid] = PersonRow(project_id, pid, orjson.loads(props), created_at, version)
        return found, missing

    def remember_persons(self, project_id: int, rows: Iterable[tuple[str, _Stored]]) -> None:
        """Persons just read from the database (id, (properties JSON, created_at, version))."""
        if self._enabled:
            for pid, stored in rows:
                self._keep_person((project_id, pid), stored)

    def _keep_person(self, key: _Key, stored: _Stored) -> None:
        persons = self._persons
        persons.pop(key, None)  # re-insert: the dict's order is the order of last use
        persons[key] = stored
        if len(persons) > self._person_limit:
            del persons[next(iter(persons))]

    # ---- writes ------------------------------------------------------------------------

    def apply(
        self, distinct_ids: Iterable[DistinctIdRow], persons: Iterable[tuple[PersonRow, _Stored]]
    ) -> None:
        """Mirror rows just committed: per key the newest version wins, as in the SQL.

        ``persons`` pairs each row with its stored form (as the store wrote it).
        """
        if not self._enabled:
            return
        newest_ids = _newest(
            ((r.project_id, r.distinct_id), r.version, r.person_id) for r in distinct_ids
        )
        newest_persons = _newest(((p.project_id, p.id), p.version, stored) for p, stored in persons)
        if newest_ids is None or newest_persons is None:
            self.forget()  # two rows, one version: the database picks one, we cannot know
            return
        for (project_id, distinct_id), person_id in newest_ids.items():
            known = self._ids.get(project_id)
            if known is None:
                continue  # not loaded yet: it will be read from the database
            if distinct_id not in known:
                self._id_count += 1
            known[distinct_id] = person_id
        for key, stored in newest_persons.items():
            self._keep_person(key, stored)
        if self._id_count > self._id_limit:
            self._give_up()

    def forget(self) -> None:
        """Drop the copies (after a write that may or may not have committed)."""
        self._ids.clear()
        self._id_count = 0
        self._persons.clear()

    def _give_up(self) -> None:
        self.forget()
        self._enabled = False


def _newest(rows: Iterable[tuple[_Key, int, V]]) -> dict[_Key, V] | None:
    """Per key the value with the highest version, or None if a key has two such values."""
    best: dict[_Key, tuple[int, V]] = {}
    for key, version, value in rows:
        old = best.get(key)
        if old is None or version > old[0]:
            best[key] = (version, value)
        elif version == old[0] and value != old[1]:
            return None
    return {key: value for key, (_, value) in best.items()}
