"""Keys of one event name's occurrences from decoded ``event_timelines`` months.

The rows of a month (``store/timeline_cache.MonthRows``) are the table's as stored;
a query wants those in its time range, outside the days being rebuilt (marked dirty), of
one block of persons, each as the key ``((pk - base) << bits) | (ts - start)`` the walk
compares (``analytics/funnel_arrays.py``). One compiled pass per month does the filter
and the packing; rows keep their order, so the table's sorted runs stay sorted runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from yunying.store.timeline_cache import MonthRows


@numba.njit(cache=True, nogil=True)
def _fill(
    pk: np.ndarray,
    ts: np.ndarray,
    lo: int,
    hi: int,
    first: int,
    last: int,
    start: int,
    bits: int,
    skip_lo: np.ndarray,
    skip_hi: np.ndarray,
    every: bool,
    out: np.ndarray,
    at: int,
) -> int:
    if every:  # the whole month, every person: no test per row
        for i in range(len(pk)):
            out[at + i] = ((np.int64(pk[i]) - first) << bits) | (ts[i] - start)
        return at + len(pk)
    for i in range(len(pk)):
        t = ts[i]
        p = np.int64(pk[i])
        if t < lo or t >= hi or p < first or p >= last:
            continue
        clean = True
        for j in range(len(skip_lo)):
            if skip_lo[j] <= t < skip_hi[j]:
                clean = False
                break
        if clean:
            out[at] = ((p - first) << bits) | (t - start)
            at += 1
    return at


def month_keys(
    months: Sequence[tuple[MonthRows, int, int]],
    lo: int,
    hi: int,
    persons: tuple[int, int] | None,
    start: int,
    bits: int,
    skip: Sequence[tuple[int, int]],
) -> np.ndarray:
    """Keys of the rows with ``lo <= ts < hi``, outside every ``skip`` [a, b) µs, of
    persons numbered in ``persons`` [first, last) (None: all, numbered from 0), from
    ``months`` given as (rows, month start µs, month end µs)."""
    first, last = persons if persons is not None else (0, 1 << 62)
    out = np.empty(sum(len(m.pk) for m, _, _ in months), dtype=np.int64)
    at = 0
    for rows, m_lo, m_hi in months:
        inside = [(a, b) for a, b in skip if a < m_hi and b > m_lo]
        every = persons is None and not inside and lo <= m_lo and m_hi <= hi
        at = _fill(
            rows.pk, rows.ts, lo, hi, first, last, start, bits,
            np.array([a for a, _ in inside], dtype=np.int64),
            np.array([b for _, b in inside], dtype=np.int64),
            every, out, at,
        )  # fmt: skip
    return out[:at] if at * 2 >= len(out) else out[:at].copy()  # let a mostly unused buffer go
