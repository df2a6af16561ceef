"""Saved insights and dashboards on the operational store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from yunying.analytics.common import DateRange, EventSelector
from yunying.analytics.funnels import FunnelQuery
from yunying.analytics.trends import TrendsQuery
from yunying.db import insight_models  # noqa: F401  (its tables are in Base.metadata)
from yunying.db.migrate import upgrade
from yunying.db.models import Base
from yunying.db.projects import create_project
from yunying.db.session import make_engine
from yunying.insights import dashboards as boards
from yunying.insights import saved
from yunying.insights.errors import InsightError, NotFound


def trends(event: str = "signup") -> TrendsQuery:
    return TrendsQuery(
        series=[EventSelector(event=event)],
        date_range=DateRange(date_from=date(2024, 1, 1), date_to=date(2024, 1, 31)),
    )


@pytest.fixture
def projects(session: Session) -> tuple[int, int]:
    a, _, _ = create_project(session, name="A")
    b, _, _ = create_project(session, name="B")
    session.commit()
    return a.id, b.id


def test_models_match_the_0003_migration(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_create_rename_update_delete_insight(session: Session, projects: tuple[int, int]) -> None:
    a, _ = projects
    insight = saved.create_insight(
        session, project_id=a, name="  Signups ", query=trends(), options={"range_days": 30}
    )
    session.commit()
    assert (insight.name, insight.kind) == ("Signups", "trends")
    assert saved.insight_query(insight) == trends()
    rolled = saved.insight_query(insight, today=date(2024, 6, 30))
    assert rolled.date_range == DateRange(date_from=date(2024, 6, 1), date_to=date(2024, 6, 30))
    saved.rename_insight(session, project_id=a, insight_id=insight.id, name="Sign-ups")
    saved.update_insight_query(session, project_id=a, insight_id=insight.id, query=trends("pay"))
    got = saved.get_insight(session, project_id=a, insight_id=insight.id)
    assert got.name == "Sign-ups" and saved.insight_query(got).series[0].event == "pay"
    assert saved.insight_options(got) == {}
    with pytest.raises(InsightError) as bad:
        saved.rename_insight(session, project_id=a, insight_id=insight.id, name="  ")
    assert bad.value.field == "name" and bad.value.code == "required"
    funnel = FunnelQuery(steps=[EventSelector(event="a"), EventSelector(event="b")])
    with pytest.raises(InsightError, match="kind"):
        saved.update_insight_query(session, project_id=a, insight_id=insight.id, query=funnel)
    assert [i.id for i in saved.list_insights(session, project_id=a)] == [insight.id]
    saved.delete_insight(session, project_id=a, insight_id=insight.id)
    assert saved.list_insights(session, project_id=a) == []


def test_a_project_never_sees_another_projects_objects(
    session: Session, projects: tuple[int, int]
) -> None:
    a, b = projects
    theirs = saved.create_insight(session, project_id=b, name="B's", query=trends())
    board = boards.create_dashboard(session, project_id=b, name="B board")
    mine = boards.create_dashboard(session, project_id=a, name="A board")
    with pytest.raises(NotFound):
        saved.get_insight(session, project_id=a, insight_id=theirs.id)
    with pytest.raises(NotFound):
        boards.get_dashboard(session, project_id=a, dashboard_id=board.id)
    with pytest.raises(NotFound):  # pinning someone else's insight onto my dashboard
        boards.pin_insight(session, project_id=a, dashboard_id=mine.id, insight_id=theirs.id)
    with pytest.raises(NotFound):
        saved.delete_insight(session, project_id=a, insight_id=theirs.id)
    assert saved.list_insights(session, project_id=a) == []
    assert [d.name for d in boards.list_dashboards(session, project_id=a)] == ["A board"]


def test_dashboard_tiles_pin_move_unpin(session: Session, projects: tuple[int, int]) -> None:
    a, _ = projects
    board = boards.create_dashboard(session, project_id=a, name="Weekly", description="kpis")
    ids = [
        saved.create_insight(session, project_id=a, name=f"i{n}", query=trends(f"e{n}")).id
        for n in range(3)
    ]
    tiles = [
        boards.pin_insight(session, project_id=a, dashboard_id=board.id, insight_id=i) for i in ids
    ]
    again = boards.pin_insight(session, project_id=a, dashboard_id=board.id, insight_id=ids[0])
    assert again.id == tiles[0].id  # pinning twice keeps one tile

    def order() -> list[int]:
        return [t.insight_id for t in boards.tiles(session, board)]

    assert order() == ids
    boards.move_tile(
        session, project_id=a, dashboard_id=board.id, tile_id=tiles[2].id, direction="up"
    )
    assert order() == [ids[0], ids[2], ids[1]]
    boards.move_tile(
        session, project_id=a, dashboard_id=board.id, tile_id=tiles[0].id, direction="up"
    )
    assert order() == [ids[0], ids[2], ids[1]]  # already first
    boards.move_tile(
        session, project_id=a, dashboard_id=board.id, tile_id=tiles[0].id, direction="down"
    )
    assert order() == [ids[2], ids[0], ids[1]]
    with pytest.raises(InsightError):
        boards.move_tile(session, project_id=a, dashboard_id=board.id, tile_id=tiles[0].id,
                         direction="left")  # type: ignore[arg-type]  # fmt: skip
    boards.unpin_tile(session, project_id=a, dashboard_id=board.id, tile_id=tiles[2].id)
    assert order() == [ids[0], ids[1]]
    assert [t.position for t in boards.tiles(session, board)] == [0, 1]
    assert [d.id for d in boards.dashboards_with(session, project_id=a, insight_id=ids[1])] == [
        board.id
    ]
    saved.delete_insight(session, project_id=a, insight_id=ids[1])  # also unpins it
    assert order() == [ids[0]]
    boards.rename_dashboard(session, project_id=a, dashboard_id=board.id, name="Daily")
    assert boards.get_dashboard(session, project_id=a, dashboard_id=board.id).name == "Daily"
    boards.delete_dashboard(session, project_id=a, dashboard_id=board.id)
    session.commit()
    assert boards.list_dashboards(session, project_id=a) == []
    assert saved.get_insight(session, project_id=a, insight_id=ids[0]).name == "i0"


def test_parse_query_names_the_field() -> None:
    with pytest.raises(InsightError) as bad:
        saved.parse_query("trends", '{"kind": "trends", "series": []}')
    assert bad.value.field == "query"
    with pytest.raises(InsightError) as unknown:
        saved.parse_query("aarrr", "{}")
    assert unknown.value.field == "kind"
