"""Golden SQL for funnels: a change to query generation shows up as a snapshot diff.

Run with ``YUNYING_UPDATE_SNAPSHOTS=1`` to rewrite the snapshots after an intended change.
"""

from __future__ import annotations

import pytest

from tests.conftest import make_store
from tests.factories import ev, load
from tests.snapshots import SNAPSHOTS, assert_matches_snapshot
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnels import FunnelQuery, build_funnel_sql
from yunying.store.dialect import ClickHouseDialect, Dialect, DuckDBDialect

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")
QUERY = FunnelQuery(
    steps=[
        {
            "event": "$pageview",
            "filters": [{"key": "$current_url", "operator": "contains", "value": "/pricing"}],
        },
        {"event": "signup"},
        {"event": "purchase", "filters": [{"key": "amount", "operator": "gt", "value": 0}]},
    ],
    mode="ordered",
    date_range={"date_from": "2024-01-01", "date_to": "2024-01-31"},
    window=7,
    window_unit="days",
    filters=[{"key": "country", "value": "CN"}],
    exclusions=[{"event": "cancel", "from_step": 1, "to_step": 2}],
    breakdown={"property": "utm_source", "limit": 10},
)


@pytest.mark.parametrize("dialect", [DuckDBDialect(), ClickHouseDialect()], ids=lambda d: d.name)
def test_ordered_funnel_sql_matches_snapshot(dialect: Dialect):
    assert_matches_snapshot(
        f"funnel_ordered.{dialect.name}.sql", build_funnel_sql(dialect, CTX, QUERY)
    )


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_snapshot_sql_runs(engine: str):
    """The snapshot is not just text: it runs on its engine and counts the one convert."""
    store = make_store(engine)
    try:
        load(
            store,
            [
                ev(
                    "u1",
                    "$pageview",
                    "2024-01-05 10:00",
                    country="CN",
                    **{"$current_url": "/pricing"},
                ),
                ev("u1", "signup", "2024-01-05 10:05", country="CN"),
                ev("u1", "purchase", "2024-01-06 10:00", country="CN", amount=9),
            ],
        )
        sql = (SNAPSHOTS / f"funnel_ordered.{engine}.sql").read_text()
        result = store.query(sql).to_pylist()
        total = next(r for r in result if int(r["lvl"]) == 0)
        assert [int(total[f"n{k}"]) for k in (1, 2, 3)] == [1, 1, 1]
    finally:
        store.close()


def test_sql_is_deterministic():
    a = build_funnel_sql(DuckDBDialect(), CTX, QUERY)
    assert a == build_funnel_sql(DuckDBDialect(), CTX, QUERY.model_copy(deep=True))
