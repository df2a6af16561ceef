"""The ordered funnel over sorted (person, time) keys: the fast path of ``funnels``.

Same definition as ``funnel_sql``'s ordered mode (docs/metrics.md, "Funnels"), computed
with one merge-like pass instead of joins. Each (person, time) pair is packed into one
64-bit key ``(person << bits) | (time - start)``; one event name's occurrences come as a
few sorted runs of keys (one per month of the table, see ``store/event_timelines.py``).
Walking the attempts (step-1 events) in key order, "the person's first step-k event
strictly after the previous match" only ever moves forward in each of step k's runs (the
match is a non-decreasing function of the entry), so each run keeps one cursor and the
whole funnel is linear in the number of occurrences. "Inside the window" is
``key <= entry key + window``: a key past the person's last event belongs to a later
person and is larger than any window end of this person, because ``bits`` covers the
range plus the window.

The walk is compiled with numba (a Python loop over ~5M occurrences takes seconds; numpy's
vectorised binary searches took ~0.1 s for the benchmark's funnel, the compiled walk
~0.02 s) and releases the GIL, so the persons are split between the cores. Pure: arrays
in, arrays out (``timeline_source`` reads them, in blocks of persons whose numbers fit
beside the times; ``funnel_timelines`` shapes the result).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True, slots=True)
class Exclusion:
    keys: np.ndarray  # the exclusion event's sorted keys
    from_step: int  # 1-based
    to_step: int


@dataclass(frozen=True, slots=True)
class BestAttempts:
    """One row per counted person: its number, the furthest step its best attempt reached,
    and the matched time of each step (``times[:, k - 1]``; meaningful where
    ``reached >= k``), as keys or as absolute numbers and µs (``funnel_timelines``)."""

    pk: np.ndarray
    reached: np.ndarray
    times: np.ndarray  # (persons, steps)


_NONE = np.iinfo(np.int64).max


@numba.njit(cache=True, nogil=True, inline="always")
def _next_after(  # pragma: no cover - compiled
    keys: np.ndarray, cursor: np.ndarray, ends: np.ndarray, first: int, last: int, after: int
) -> int:
    """The smallest key > ``after`` over runs ``first``…``last - 1`` (each sorted, read
    from its cursor on, cursors moved forward); ``_NONE`` when there is none."""
    found = _NONE
    for r in range(first, last):
        p = cursor[r]
        end = ends[r]
        while p < end and keys[p] <= after:
            p += 1
        cursor[r] = p
        if p < end and keys[p] < found:
            found = keys[p]
    return found


@numba.njit(cache=True, nogil=True, inline="always")
def _past_person(  # pragma: no cover - compiled
    keys: np.ndarray, p: int, end: int, who: int, bits: int
) -> int:
    """The first position from ``p`` whose key belongs to a person after ``who``."""
    while p < end and (keys[p] >> bits) == who:
        p += 1
    return p


@numba.njit(cache=True, nogil=True)
def _walk(  # pragma: no cover - compiled
    entries: np.ndarray,
    e_starts: np.ndarray,
    e_ends: np.ndarray,
    steps: np.ndarray,
    s_starts: np.ndarray,
    s_ends: np.ndarray,
    s_runs: np.ndarray,
    xs: np.ndarray,
    x_starts: np.ndarray,
    x_ends: np.ndarray,
    x_runs: np.ndarray,
    x_from: np.ndarray,
    x_to: np.ndarray,
    window: int,
    bits: int,
    out_person: np.ndarray,
    out_reached: np.ndarray,
    out_times: np.ndarray,
) -> int:
    """Best attempt per person; returns how many rows of ``out_*`` it filled.

    Keys come as sorted runs: run r of ``entries`` is ``e_starts[r]:e_ends[r]``; the
    later steps' runs are back to back in ``steps``, step k + 2 owning runs
    ``s_runs[k]:s_runs[k + 1]``; the exclusions' likewise. Entries are taken in key order
    across their runs. Exclusion j applies strictly between the matched steps
    ``x_from[j]`` and ``x_to[j]`` (1-based).
    """
    n_later = len(s_runs) - 1
    n_x = len(x_runs) - 1
    e_cursor = e_starts.copy()
    s_cursor = s_starts.copy()
    x_cursor = x_starts.copy()
    matched = np.empty(n_later + 1, dtype=np.int64)
    best = np.zeros(n_later + 1, dtype=np.int64)
    filled = 0
    person = -1
    best_reach = 0
    excluded = False
    while True:
        run = -1  # the next entry: the smallest head of the entry runs
        entry = _NONE
        for r in range(len(e_starts)):
            if e_cursor[r] < e_ends[r] and entries[e_cursor[r]] < entry:
                entry = entries[e_cursor[r]]
                run = r
        if run < 0:
            break
        e_cursor[run] += 1
        who = entry >> bits
        if who != person:
            if person >= 0 and not excluded:
                out_person[filled] = person
                out_reached[filled] = best_reach
                out_times[filled, :] = best
                filled += 1
            person = who
            best_reach = 0
            excluded = False
        limit = entry + window
        matched[0] = entry
        prev = entry
        reach = 1
        spent = False  # no later attempt of this person can reach further (see below)
        for k in range(n_later):  # the earliest step-(k + 2) event after the previous match
            nxt = _next_after(steps, s_cursor, s_ends, s_runs[k], s_runs[k + 1], prev)
            if nxt > limit:  # none, or past the window (or a later person's)
                spent = nxt == _NONE or (nxt >> bits) != who
                break
            prev = nxt
            matched[k + 1] = prev
            reach += 1
        for j in range(n_x):  # any attempt with one strictly between its steps a and b
            if reach >= x_to[j]:
                after = matched[x_from[j] - 1]
                nxt = _next_after(xs, x_cursor, x_ends, x_runs[j], x_runs[j + 1], after)
                if nxt < matched[x_to[j] - 1]:
                    excluded = True
        if reach > best_reach:  # entries come in time order: the earliest wins ties
            best_reach = reach
            best[:] = 0
            best[:reach] = matched[:reach]
        # Skip the person's other attempts when none can change the answer: a later
        # attempt matches each step no earlier than this one did, so once a step has no
        # event of the person left ("spent") or every step matched, it cannot go further,
        # and ties go to the earliest. With exclusions a later attempt could still
        # exclude the person, unless they are excluded already.
        if excluded or (n_x == 0 and (spent or reach == n_later + 1)):
            for r in range(len(e_starts)):
                e_cursor[r] = _past_person(entries, e_cursor[r], e_ends[r], who, bits)
    if person >= 0 and not excluded:
        out_person[filled] = person
        out_reached[filled] = best_reach
        out_times[filled, :] = best
        filled += 1
    return filled


@numba.njit(cache=True, nogil=True)
def _descents(keys: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Positions where a new sorted run starts (one pass, no temporary per key: numpy's
    ``keys[1:] < keys[:-1]`` took ~5 ms on the benchmark's 4.7M keys)."""
    found = []
    for i in range(1, len(keys)):
        if keys[i] < keys[i - 1]:
            found.append(i)
    return np.array(found, dtype=np.int64)


def _runs(keys: np.ndarray) -> list[np.ndarray]:
    """``keys`` as a few sorted runs (views where possible).

    The table gives one run per month (a few per query) plus one per refresh since it
    was last rewritten, and the rows it could not give add one. Small runs (under an
    eighth of the keys) are sorted together into one, so the walk, which checks every
    run at each step, sees at most the big ones and one more.
    """
    bounds = [0, *_descents(keys).tolist(), len(keys)]
    runs = [keys[a:b] for a, b in itertools.pairwise(bounds)]
    small = [r for r in runs if len(r) * 8 < len(keys)]
    if len(small) < 2:
        return runs
    # Stable (timsort for int64) finds the sorted runs and merges them: ~20× quicker
    # here than the default quicksort, which sorts from scratch.
    merged = np.sort(np.concatenate(small), kind="stable")
    return [*(r for r in runs if len(r) * 8 >= len(keys)), merged]


def _packed(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The arrays' runs back to back: (keys, run starts, run ends, runs per array).

    One array whose runs needed no merging is used as it is (its runs are already back
    to back): no copy of a step's millions of keys."""
    arrays = [np.asarray(a, dtype=np.int64) for a in arrays]
    runs = [_runs(a) for a in arrays]
    pieces = [r for rs in runs for r in rs]
    sizes = np.array([len(r) for r in pieces], dtype=np.int64)
    ends = np.cumsum(sizes)
    owners = np.concatenate([[0], np.cumsum([len(rs) for rs in runs])]).astype(np.int64)
    if len(arrays) == 1 and all(np.may_share_memory(r, arrays[0]) for r in pieces):
        return arrays[0], ends - sizes, ends, owners  # views in order: the runs _runs cut
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return flat, ends - sizes, ends, owners


def best_of_block(
    entries: np.ndarray,
    steps: Sequence[np.ndarray],
    exclusions: Sequence[Exclusion],
    window: int,
    bits: int,
) -> BestAttempts:
    """Each entering person's best attempt (furthest step, then earliest entry), from
    sorted keys of one block of persons.

    ``entries`` are step 1's events in the entry range, ``steps`` the later steps'
    events; ``bits`` must cover the entry range plus the window (see the module doc). A
    person with an exclusion event strictly between the matched steps a and b of any
    attempt that reached b is left out. Persons and times come back as keys: the person
    number within the block and the matched keys.
    """
    entries, e_starts, e_ends, _ = _packed([entries])
    flat, s_starts, s_ends, s_runs = _packed(steps)
    xs, x_starts, x_ends, x_runs = _packed([x.keys for x in exclusions])
    x_from = np.array([x.from_step for x in exclusions], dtype=np.int64)
    x_to = np.array([x.to_step for x in exclusions], dtype=np.int64)

    cuts = _person_cuts(entries, e_starts, e_ends, bits, _THREADS)
    parts = [_within(entries, e_starts, e_ends, lo, hi) for lo, hi in itertools.pairwise(cuts)]
    # One output for all parts (at most a row per entry), each part writing its own rows.
    offsets = np.cumsum([0, *(int((ee - es).sum()) for es, ee in parts)])
    person = np.empty(offsets[-1], dtype=np.int64)
    reached = np.empty(offsets[-1], dtype=np.int8)
    times = np.empty((offsets[-1], 1 + len(steps)), dtype=np.int64)

    def walk(i: int) -> int:
        """The persons whose keys lie in [cuts[i], cuts[i + 1]): rows filled."""
        lo, hi = cuts[i], cuts[i + 1]
        (es, ee), (a, b) = parts[i], (offsets[i], offsets[i + 1])
        ss, se = _within(flat, s_starts, s_ends, lo, hi)
        xst, xe = _within(xs, x_starts, x_ends, lo, hi)
        rows = _walk(
            entries, es, ee, flat, ss, se, s_runs, xs, xst, xe, x_runs, x_from, x_to,
            int(window), int(bits), person[a:b], reached[a:b], times[a:b],
        )  # fmt: skip
        return int(rows)

    filled = list(_POOL.map(walk, range(len(parts)))) if len(parts) > 1 else [walk(0)]
    at = filled[0]
    for i in range(1, len(parts)):  # close the gaps between the parts' rows
        src = slice(offsets[i], offsets[i] + filled[i])
        dst = slice(at, at + filled[i])
        person[dst], reached[dst], times[dst] = person[src], reached[src], times[src]
        at += filled[i]
    return BestAttempts(person[:at], reached[:at], times[:at])


# The walk releases the GIL: persons are split between the cores (2 on the reference box).
_THREADS = max(1, min(os.cpu_count() or 1, 8))
_POOL = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="yy-funnel")
# Below this many entries one thread does it all (the split costs more than it saves).
_SPLIT_FROM = 200_000


def _person_cuts(
    entries: np.ndarray, starts: np.ndarray, ends: np.ndarray, bits: int, parts: int
) -> list[int]:
    """Key bounds splitting the persons into ``parts`` groups of about equal entries
    (always at a person boundary: the bounds are person numbers shifted by ``bits``)."""
    # Above every key: a key's time part is at most 2**bits - 2 (bits covers end - start).
    top = _NONE
    if parts < 2 or not len(entries) or len(entries) < _SPLIT_FROM:
        return [0, top]
    run = int(np.argmax(ends - starts))  # the longest run stands for all of them
    a, b = int(starts[run]), int(ends[run])
    cuts = [0]
    for i in range(1, parts):
        person = int(entries[a + (b - a) * i // parts]) >> bits
        key = person << bits
        if key > cuts[-1]:
            cuts.append(key)
    cuts.append(top)
    return cuts


def _within(
    keys: np.ndarray, starts: np.ndarray, ends: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each run narrowed to its keys in [lo, hi)."""
    s, e = starts.copy(), ends.copy()
    for r in range(len(starts)):
        run = keys[starts[r] : ends[r]]
        s[r] = starts[r] + np.searchsorted(run, lo, side="left")
        e[r] = starts[r] + np.searchsorted(run, hi, side="left")
    return s, e
