"""Ordered funnels from ``event_timelines`` when the question allows it.

The fast path answers ordered funnels whose steps and exclusions are plain event names
(no property filters, no global filters, no breakdown) on a store that keeps the table
(``store/event_timelines.py``); anything else, and ClickHouse, runs ``funnel_sql``. Both
follow docs/metrics.md; a property test compares them on random events, merges and
refreshes (``tests/analytics/test_funnel_timelines.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from yunying.analytics.context import ProjectContext
from yunying.analytics.funnel_arrays import BestAttempts, Exclusion, best_of_block
from yunying.analytics.funnel_sql import entry_dates
from yunying.analytics.timeline_source import KeyBlock, read_blocks
from yunying.store.event_timelines import SnapshotReader, TimelinesView, micros

if TYPE_CHECKING:
    from yunying.analytics.funnels import FunnelQuery


def answerable(q: FunnelQuery) -> bool:
    """Whether the question's shape fits the fast path (the store decides the rest)."""
    return (
        q.mode == "ordered"
        and q.breakdown is None
        and not q.filters
        and not any(s.filters for s in q.steps)
        and not any(x.filters for x in q.exclusions)
    )


def best_from_timelines(store: object, ctx: ProjectContext, q: FunnelQuery) -> BestAttempts | None:
    """Each counted person's best attempt (person numbers, µs), or None when the fast
    path does not apply."""
    read = getattr(store, "read_timelines", None)
    if not answerable(q) or not callable(read):
        return None
    start, end = ctx.day_range_utc(*entry_dates(ctx, q))
    lo, entry_end = micros(start), micros(end)
    window = q.window_seconds * 1_000_000
    hi = entry_end + window
    bits = int(hi - lo).bit_length()
    if bits > 48:  # a range of ~9 years or more: leave it to the SQL (keys need room)
        return None
    mask = (1 << bits) - 1
    # Entries need step 1's events of the entry range only, unless a later step or an
    # exclusion is the same event.
    ranges = {n: (lo, hi) for n in {s.event for s in q.steps[1:]} | {x.event for x in q.exclusions}}
    ranges.setdefault(q.steps[0].event, (lo, entry_end))

    def snapshot(reader: SnapshotReader, view: TimelinesView) -> list[KeyBlock]:
        return list(read_blocks(reader, ctx, view, ranges, bits))

    blocks = read(ctx.project_id, snapshot)
    if blocks is None:  # the store keeps no timelines for the project (yet)
        return None
    parts = []
    for block in blocks:
        first = block.keys[q.steps[0].event]
        if ranges[q.steps[0].event][1] > entry_end:
            first = first[(first & mask) < entry_end - lo]
        best = best_of_block(
            first,
            [block.keys[s.event] for s in q.steps[1:]],
            [Exclusion(block.keys[x.event], x.from_step, x.to_step) for x in q.exclusions],
            window,
            bits,
        )
        best.pk[:] += block.base  # in place: the walk's own arrays
        np.bitwise_and(best.times, mask, out=best.times)
        best.times[:] += lo
        parts.append(best)
    if len(parts) == 1:
        return parts[0]
    return BestAttempts(
        np.concatenate([b.pk for b in parts]),
        np.concatenate([b.reached for b in parts]),
        np.concatenate([b.times for b in parts]),
    )


def summary_row(best: BestAttempts, n_steps: int) -> dict[str, Any]:
    """The row ``build_funnel_sql`` returns for all persons (n1…, avg2…, med2…)."""
    row: dict[str, Any] = {"lvl": 0}
    for k in range(1, n_steps + 1):
        at = best.reached >= k
        row[f"n{k}"] = int(at.sum())
        if k > 1:
            secs = (best.times[at, k - 1] - best.times[at, k - 2]) / 1e6
            row[f"avg{k}"] = float(secs.mean()) if len(secs) else None
            row[f"med{k}"] = float(np.median(secs)) if len(secs) else None
    return row
