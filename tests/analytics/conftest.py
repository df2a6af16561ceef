"""Analytics tests run on three stores: DuckDB reading events, DuckDB reading
``person_days`` and ``event_timelines`` (refreshed when a metric asks, with every other
UTC day marked stale so the tables and the events answer together), and ClickHouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pyarrow as pa
import pytest

from tests.conftest import make_store
from yunying.store.base import EventStore
from yunying.store.duckdb import DuckDBStore
from yunying.store.event_timelines import refresh_timelines
from yunying.store.person_days import RollupView, refresh_person_days

T = TypeVar("T")


class DailyDuckDB(DuckDBStore):
    """Refreshes ``person_days`` for the zone a metric asks about, then marks every other
    UTC day that has events stale again (a mark is all a stale day is)."""

    def person_days_view(self, project_id: int, tz: str) -> RollupView | None:
        refresh_person_days(self, project_id, tz)
        self._mark_every_other_day(project_id)
        view = super().person_days_view(project_id, tz)
        assert view is not None
        return view

    def read_timelines(self, project_id: int, work: Callable[..., T]) -> T | None:
        """Rebuilds the marked days (all, the first time) and keeps the marks, which
        ``person_days`` still needs; then marks every other day stale."""
        p = int(project_id)

        def refresh(execute: Callable[[str], pa.Table]) -> None:
            marks = execute(f"SELECT utc_day FROM person_days_dirty WHERE project_id = {p}")
            refresh_timelines(execute, self.dialect, p, set(marks.column("utc_day").to_pylist()))

        self.run_transaction(refresh)
        self._mark_every_other_day(p)
        got = super().read_timelines(p, work)
        assert got is not None
        return got

    def _mark_every_other_day(self, project_id: int) -> None:
        self.query(
            f"INSERT INTO person_days_dirty SELECT DISTINCT project_id, d FROM ("
            f"SELECT project_id, CAST(timestamp AS DATE) AS d FROM events "
            f"WHERE project_id = {int(project_id)}) x WHERE (d - DATE '2000-01-01') % 2 = 0"
        )


def make_analytics_store(engine: str) -> EventStore:
    if engine != "duckdb-days":
        return make_store(engine)
    s = DailyDuckDB()
    s.ensure_schema()
    return s


@pytest.fixture(params=["duckdb", "duckdb-days", "clickhouse"])
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    """A fresh, empty event store; the test runs once per engine (and DuckDB twice)."""
    s = make_analytics_store(request.param)
    yield s
    s.close()
