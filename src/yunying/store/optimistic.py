"""Optional store capability: write a batch prepared without looking up stored uuids.

The pipeline must not replay a stored event's person changes (a retried ``$set`` would
overwrite a newer value), so it asks the store which uuids are stored before resolving
identities. On an engine whose look-up scans the whole events table (DuckDB cannot use
its primary key for it) that look-up is the largest cost of a commit that grows with
the table. A store whose ``optimistic_writes`` is true accepts an ``OptimisticBatch``
instead: it writes it as usual if none of its events is stored, and otherwise writes
nothing and raises ``StoredDuplicate``, so the pipeline prepares the batch again with
the look-up. Duplicates are rare (SDK retries), so almost every commit skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from yunying.store.base import EventStore, WriteBatch


@dataclass(slots=True)
class OptimisticBatch(WriteBatch):
    """A batch resolved on the assumption that none of its events is stored yet."""


class StoredDuplicate(Exception):
    """An ``OptimisticBatch`` held an event that is already stored; nothing was written."""


def writes_optimistically(store: EventStore) -> bool:
    return bool(getattr(store, "optimistic_writes", False))
