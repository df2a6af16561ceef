"""Months of ``event_timelines`` kept decoded in memory between funnels.

Why: reading a month's rows out of DuckDB is most of an ordered funnel's time, and it is
decoding, not disk: 3.4M ``content_view`` rows take ~30 ms to decompress however often
they are read (``bench/bench_queries.py``). The walk over them takes about as long
again. The same months are read by every funnel over a recent range, so the decoded
arrays are kept here (as DuckDB keeps its compressed blocks in its buffer pool), bounded
by bytes and dropped least recently used first.

Exact, never stale: an entry is the rows of one (project, event, month), or of a stretch
of it, as the table held them at one ``generation`` of the project, the value of
``event_timelines_state`` that every change to the project's rows also changes
(``refresh_timelines`` writes a strictly later ``refreshed_at`` in the same transaction).
A query reads the generation in its snapshot and takes only entries of that generation,
so a reader of an older snapshot and a reader of a newer one never share rows. Entries of
older generations stop being used at once and are dropped when a newer one is stored; an
older one is never stored over a newer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

# Default budget: the demo's 10M events need ~100 MB for the months a 30-day funnel reads.
DEFAULT_MB = 512


@dataclass(frozen=True, slots=True)
class MonthRows:
    """One (event, month) of the table in its stored order: person numbers and µs."""

    pk: np.ndarray  # int32
    ts: np.ndarray  # int64

    @property
    def nbytes(self) -> int:
        return int(self.pk.nbytes + self.ts.nbytes)


# (project, event, month, start µs, end µs): a whole month, or the part of one a query
# needed (``analytics/timeline_source._month``).
CacheKey = tuple[int, str, int, int, int]


class TimelineCache:
    """A bounded, thread-safe map ``CacheKey`` → ``MonthRows`` of one generation each."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, tuple[int, MonthRows]] = OrderedDict()
        self._newest: dict[int, int] = {}  # project → newest generation stored
        self._bytes = 0
        self.hits = self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: CacheKey, generation: int) -> MonthRows | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != generation:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: CacheKey, generation: int, rows: MonthRows) -> None:
        """Keep ``rows`` unless they alone would fill more than half the budget (a month
        that big would push everything else out and still be read cold next time) or the
        project's rows of a newer generation are kept already."""
        if rows.nbytes * 2 > self.max_bytes:
            return
        rows.pk.flags.writeable = False
        rows.ts.flags.writeable = False
        project = key[0]
        with self._lock:
            newest = self._newest.get(project)
            if newest is not None and newest > generation:
                return
            if newest is not None and newest < generation:
                for k in [k for k in self._entries if k[0] == project]:
                    self._drop(k)
            self._newest[project] = generation
            self._drop(key)
            self._entries[key] = (generation, rows)
            self._bytes += rows.nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._newest.clear()
            self._bytes = 0

    def _drop(self, key: CacheKey) -> None:
        gone = self._entries.pop(key, None)
        if gone is not None:
            self._bytes -= gone[1].nbytes
