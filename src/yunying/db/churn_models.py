"""Churn warning (流失预警) state: per-project settings and rules, warning-line counts over
time, and the history of model fits (classifier metrics, scoring summaries, BG/NBD fits).

Settings and fit results are stored as JSON of their pydantic models: the schema of a rule
or a metrics report evolves with the code, and nothing queries inside them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yunying.db.models import Base, UTCDateTime, _now


class ChurnSettings(Base):
    """One row per project: warning-line rules and model settings (``ChurnConfig`` JSON)."""

    __tablename__ = "churn_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class ChurnWarningCount(Base):
    """Persons over one rule's warning line as of one day (re-evaluation overwrites)."""

    __tablename__ = "churn_warning_counts"
    __table_args__ = (
        UniqueConstraint("project_id", "as_of", "rule_key", name="uq_churn_warning_counts_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date)
    rule_key: Mapped[str] = mapped_column(String(64))
    persons: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class ChurnModelRun(Base):
    """One fit or scoring pass: ``kind`` is classifier, scoring or bgnbd; ``report`` JSON."""

    __tablename__ = "churn_model_runs"
    __table_args__ = (Index("ix_churn_model_runs_project_kind", "project_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    report: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
