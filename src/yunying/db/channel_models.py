"""Channel costs (渠道成本): what a channel cost per local day, imported from CSV or JSON.

One row per (project, day, channel): a re-import of the same day and channel replaces the
cost, so importing the same file twice changes nothing. Amounts are in the project's one
currency (``currency`` records the code the file gave, if any).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yunying.db.models import Base, UTCDateTime, _now


class ChannelCost(Base):
    __tablename__ = "channel_costs"
    __table_args__ = (
        UniqueConstraint("project_id", "day", "channel", name="uq_channel_costs_day_channel"),
        Index("ix_channel_costs_project_day", "project_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # local day in the project's time zone
    channel: Mapped[str] = mapped_column(String(200))
    cost: Mapped[float] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
