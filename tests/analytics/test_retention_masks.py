"""Retention's person-mask arithmetic on its own (the queries are in test_retention.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yunying.analytics import retention_masks


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, (1 << retention_masks.MASK_BITS) - 1), st.integers(1, 5)),
        max_size=12,
        unique_by=lambda p: p[0],
    ),
    cohorts=st.integers(1, 31),
    periods=st.integers(1, 31),
    mode=st.sampled_from(["on", "within"]),
)
def test_person_mask_counts_match_a_loop(pairs, cohorts, periods, mode):
    """The compiled count against a plain loop over persons and bits (up to bit 62)."""
    expect = [[0] * (periods + 1) for _ in range(cohorts)]
    for mask, n in pairs:
        for i in range(cohorts):
            if not mask >> i & 1:
                continue
            expect[i][0] += n
            later = [k for k in range(1, periods + 1) if mask >> (i + k) & 1]
            for k in later if mode == "on" else later[:1]:
                expect[i][k] += n
    got = retention_masks.person_mask_counts(
        np.array([m for m, _ in pairs], dtype=np.uint64),
        np.array([n for _, n in pairs], dtype=np.int64),
        cohorts,
        periods,
        mode,
    )
    assert got.tolist() == expect
