"""Dashboards: ordered tiles of saved insights, shared within the project.

Tile positions are kept dense (0 … n-1) after every change, so "move up" is a swap with
the neighbour and the order shown is the order stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.db.insight_models import Dashboard, DashboardTile
from yunying.insights.errors import InsightError, NotFound
from yunying.insights.saved import clean_name, get_insight

DESCRIPTION_MAX = 2000


def _touch(dashboard: Dashboard) -> None:
    dashboard.updated_at = datetime.now(UTC)


def _description(text: str | None) -> str:
    value = (text or "").strip()
    if len(value) > DESCRIPTION_MAX:
        raise InsightError("description", "too_long", f"at most {DESCRIPTION_MAX} characters")
    return value


def create_dashboard(
    session: Session,
    *,
    project_id: int,
    name: str,
    description: str = "",
    created_by: int | None = None,
) -> Dashboard:
    dashboard = Dashboard(
        project_id=project_id,
        name=clean_name(name),
        description=_description(description),
        created_by=created_by,
    )
    session.add(dashboard)
    session.flush()
    return dashboard


def get_dashboard(session: Session, *, project_id: int, dashboard_id: int) -> Dashboard:
    dashboard = session.get(Dashboard, dashboard_id)
    if dashboard is None or dashboard.project_id != project_id:
        raise NotFound(f"dashboard {dashboard_id}")
    return dashboard


def list_dashboards(session: Session, *, project_id: int) -> list[Dashboard]:
    return list(
        session.scalars(
            select(Dashboard).where(Dashboard.project_id == project_id).order_by(Dashboard.name)
        )
    )


def rename_dashboard(
    session: Session,
    *,
    project_id: int,
    dashboard_id: int,
    name: str,
    description: str | None = None,
) -> Dashboard:
    dashboard = get_dashboard(session, project_id=project_id, dashboard_id=dashboard_id)
    dashboard.name = clean_name(name)
    if description is not None:
        dashboard.description = _description(description)
    _touch(dashboard)
    session.flush()
    return dashboard


def delete_dashboard(session: Session, *, project_id: int, dashboard_id: int) -> None:
    """Delete the board and its tiles; the pinned insights stay."""
    session.delete(get_dashboard(session, project_id=project_id, dashboard_id=dashboard_id))
    session.flush()


def tiles(session: Session, dashboard: Dashboard) -> list[DashboardTile]:
    return list(
        session.scalars(
            select(DashboardTile)
            .where(DashboardTile.dashboard_id == dashboard.id)
            .order_by(DashboardTile.position, DashboardTile.id)
        )
    )


def _renumber(items: list[DashboardTile]) -> None:
    for i, tile in enumerate(items):
        tile.position = i


def pin_insight(
    session: Session, *, project_id: int, dashboard_id: int, insight_id: int
) -> DashboardTile:
    """Add the insight as the last tile (pinning it again returns the existing tile)."""
    dashboard = get_dashboard(session, project_id=project_id, dashboard_id=dashboard_id)
    insight = get_insight(session, project_id=project_id, insight_id=insight_id)
    current = tiles(session, dashboard)
    for tile in current:
        if tile.insight_id == insight.id:
            return tile
    tile = DashboardTile(dashboard_id=dashboard.id, insight_id=insight.id, position=len(current))
    session.add(tile)
    _touch(dashboard)
    session.flush()
    return tile


def _tile(session: Session, dashboard: Dashboard, tile_id: int) -> list[DashboardTile]:
    current = tiles(session, dashboard)
    if not any(t.id == tile_id for t in current):
        raise NotFound(f"tile {tile_id}")
    return current


def unpin_tile(session: Session, *, project_id: int, dashboard_id: int, tile_id: int) -> None:
    dashboard = get_dashboard(session, project_id=project_id, dashboard_id=dashboard_id)
    current = _tile(session, dashboard, tile_id)
    gone = next(t for t in current if t.id == tile_id)
    session.delete(gone)
    _renumber([t for t in current if t.id != tile_id])
    _touch(dashboard)
    session.flush()


def move_tile(
    session: Session,
    *,
    project_id: int,
    dashboard_id: int,
    tile_id: int,
    direction: Literal["up", "down"],
) -> list[DashboardTile]:
    """Swap the tile with its neighbour; at either end nothing changes."""
    if direction not in ("up", "down"):
        raise InsightError("direction", "invalid_direction", "must be 'up' or 'down'")
    dashboard = get_dashboard(session, project_id=project_id, dashboard_id=dashboard_id)
    current = _tile(session, dashboard, tile_id)
    i = next(k for k, t in enumerate(current) if t.id == tile_id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(current):
        current[i], current[j] = current[j], current[i]
    _renumber(current)
    _touch(dashboard)
    session.flush()
    return current


def dashboards_with(session: Session, *, project_id: int, insight_id: int) -> list[Dashboard]:
    """Dashboards of the project on which the insight is pinned."""
    return list(
        session.scalars(
            select(Dashboard)
            .join(DashboardTile, DashboardTile.dashboard_id == Dashboard.id)
            .where(Dashboard.project_id == project_id, DashboardTile.insight_id == insight_id)
            .order_by(Dashboard.name)
        )
    )
