"""Grouped-array helpers: the vectorised form of "for each session, for each event"."""

from __future__ import annotations

import numpy as np


def starts(counts: np.ndarray) -> np.ndarray:
    """Index of each group's first element in the flattened array."""
    return np.cumsum(counts) - counts


def position(counts: np.ndarray) -> np.ndarray:
    """0, 1, … within each group, for every element of the flattened array."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(starts(counts), counts)


def group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` that restarts at every group."""
    cs = np.cumsum(values)
    before = np.concatenate([[0], cs])[starts(counts)]
    return cs - np.repeat(before, counts)


def runs(keys: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """1-based position in runs of consecutive ``steps`` (+1 each) within equal ``keys``.

    Both arrays must be sorted by (key, step); used for check-in streaks.
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    brk = np.ones(n, dtype=bool)
    brk[1:] = (keys[1:] != keys[:-1]) | (steps[1:] != steps[:-1] + 1)
    run_start = np.flatnonzero(brk)
    run_id = np.cumsum(brk) - 1
    return np.arange(n) - run_start[run_id] + 1
