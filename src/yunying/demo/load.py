"""Generate the demo and import it through the same path as ``yunying import``.

Going through ``import_file`` (and so ``write_events``) means the demo exercises identity
merges, person properties and dedupe exactly as real data does; the deterministic event
UUIDs make a second run with the same arguments add nothing.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from yunying.config import Settings
from yunying.demo.generate import DemoSummary, generate_demo
from yunying.store.base import EventStore

# (stage, done, total): stage "generate" (persons), "import" (rows), then "summarise" (0/1:
# person_days, see store/person_days.py).
DemoProgress = Callable[[str, int, int], None]


def demo_file(settings: Settings, *, persons: int, days: int, seed: int, end: date | None) -> Path:
    """Where the generated Parquet file is kept (overwritten by the next run)."""
    tag = end.isoformat() if end else "today"
    return settings.data_dir / "demo" / f"demo-{persons}p-{days}d-seed{seed}-{tag}.parquet"


def _printer() -> DemoProgress:
    """Plain-text progress for callers without a terminal UI: a line per tenth done."""
    last: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        tenth = 10 * done // total if total > 0 else 10
        if last.get(stage) != tenth:
            last[stage] = tenth
            print(f"demo {stage}: {done:,}/{total:,}", file=sys.stderr)

    return report


def load_demo(
    settings: Settings,
    store: EventStore,
    *,
    project_id: int,
    persons: int = 50_000,
    days: int = 90,
    seed: int = 7,
    end: date | None = None,
    progress: bool | DemoProgress = True,
    timezone: str | None = None,
) -> DemoSummary:
    """Generate the demo product for ``project_id`` and import it into ``store``.

    ``progress``: True prints plain lines to stderr, False is silent, a callable gets
    ``(stage, done, total)``. ``timezone`` is the project's (default: the settings').
    """
    from yunying.events.importer import ImportProgress, import_file
    from yunying.store.person_days import refresh_if_kept

    report: DemoProgress | None
    if progress is True:
        report = _printer()
    elif progress is False:
        report = None
    else:
        report = progress
    path = demo_file(settings, persons=persons, days=days, seed=seed, end=end)
    if report:
        report("generate", 0, persons)
    summary = generate_demo(
        path,
        persons=persons,
        days=days,
        seed=seed,
        end=end,
        project_timezone=timezone or settings.default_timezone,
    )
    if report:
        report("generate", persons, persons)

    def on_import(p: ImportProgress) -> None:
        if report:
            report("import", p.done, p.total or summary.events)

    started = time.perf_counter()
    result = import_file(store, project_id=project_id, path=path, fmt="parquet", progress=on_import)
    if report:
        report("summarise", 0, 1)
    refresh_if_kept(store, project_id, timezone or settings.default_timezone)
    if report:
        report("summarise", 1, 1)
    return dataclasses.replace(
        summary, inserted=result.imported, load_seconds=time.perf_counter() - started
    )
