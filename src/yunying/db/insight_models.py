"""Saved insights and dashboards (operational store).

Kept apart from ``models.py`` so the console's analysis objects can grow without touching
the core tables. An insight stores its query as the metric's own JSON (``kind`` + query
model), so what is saved is exactly what the analytics layer runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yunying.db.models import Base, UTCDateTime, _now


class SavedInsight(Base):
    """A named query of one metric kind, shared within its project."""

    __tablename__ = "saved_insights"
    __table_args__ = (Index("ix_saved_insights_project_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # analytics registry kind ("funnel", …)
    query: Mapped[str] = mapped_column(Text)  # the query model as JSON
    options: Mapped[str] = mapped_column(Text, default="{}")  # display: chart type, rolling range
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class Dashboard(Base):
    """An ordered board of saved insights, shared within its project."""

    __tablename__ = "dashboards"
    __table_args__ = (Index("ix_dashboards_project_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    tiles: Mapped[list[DashboardTile]] = relationship(
        back_populates="dashboard",
        order_by="DashboardTile.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class DashboardTile(Base):
    """One insight pinned to one dashboard at a position (0 = first)."""

    __tablename__ = "dashboard_tiles"
    __table_args__ = (
        UniqueConstraint("dashboard_id", "insight_id", name="uq_dashboard_tiles_insight"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"))
    insight_id: Mapped[int] = mapped_column(ForeignKey("saved_insights.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    dashboard: Mapped[Dashboard] = relationship(back_populates="tiles")
    insight: Mapped[SavedInsight] = relationship()
