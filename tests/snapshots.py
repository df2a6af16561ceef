"""Golden SQL snapshots: generated SQL per dialect kept as files under tests/snapshots/.

Run with ``YUNYING_UPDATE_SNAPSHOTS=1`` to rewrite them after an intended change.
"""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def assert_matches_snapshot(name: str, sql: str) -> None:
    """``sql`` equals the file ``tests/snapshots/<name>`` (written when updating)."""
    text = sql + "\n"
    path = SNAPSHOTS / name
    if os.environ.get("YUNYING_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing snapshot {path.name}: run with YUNYING_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(), "SQL changed: review it, then YUNYING_UPDATE_SNAPSHOTS=1"
