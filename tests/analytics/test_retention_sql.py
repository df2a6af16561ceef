"""Golden SQL for retention: a change to query generation shows up as a snapshot diff.

Run with ``YUNYING_UPDATE_SNAPSHOTS=1`` to rewrite the snapshots after an intended change.
"""

from __future__ import annotations

import pytest

from tests.conftest import make_store
from tests.factories import ev, load
from tests.snapshots import SNAPSHOTS, assert_matches_snapshot
from yunying.analytics.context import ProjectContext
from yunying.analytics.retention import RetentionQuery, build_retention_sql, run_retention
from yunying.store.dialect import ClickHouseDialect, Dialect, DuckDBDialect

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai", week_start=1)
QUERY = RetentionQuery(
    start_event={"event": "signup"},
    return_event={"event": "login", "filters": [{"key": "$current_url", "operator": "is_set"}]},
    retention_type="first_time",
    period="week",
    periods=4,
    date_range={"date_from": "2024-01-01", "date_to": "2024-01-28"},
)


@pytest.mark.parametrize("dialect", [DuckDBDialect(), ClickHouseDialect()], ids=lambda d: d.name)
def test_weekly_first_time_sql_matches_snapshot(dialect: Dialect):
    assert_matches_snapshot(
        f"retention_first_time_week.{dialect.name}.sql", build_retention_sql(dialect, CTX, QUERY)
    )


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_snapshot_sql_runs(engine: str):
    """The snapshot is not just text: it runs on its engine."""
    store = make_store(engine)
    try:
        sql = (SNAPSHOTS / f"retention_first_time_week.{engine}.sql").read_text()
        assert store.query(sql).num_rows == 0
    finally:
        store.close()


def test_hostile_names_are_quoted(store):
    name = "it's \\ `x` \" ; DROP TABLE events; --"
    load(
        store,
        [
            ev("a", name, "2024-01-01 10:00", **{name: "v'1"}),
            ev("a", name, "2024-01-02 10:00", **{name: "v'1"}),
        ],
    )
    query = RetentionQuery(
        start_event={"event": name, "filters": [{"key": name, "value": "v'1"}]},
        periods=1,
        date_range={"date_from": "2024-01-01", "date_to": "2024-01-01"},
        breakdown={"property": name},
    )
    r = run_retention(store, CTX, query)
    assert [(c.breakdown_value, c.counts) for c in r.cohorts] == [("v'1", [1, 1])]
    assert store.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"] == 2
