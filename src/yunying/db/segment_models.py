"""Segments (用户分群) in the operational store: definitions, refresh runs, history.

Current members are NOT stored here: every refresh publishes them to the event store as
derived values named ``segment:<id>`` (``store/derived.py``), static lists included, so
queries join them there (``in_segment``, profiles, campaigns) without shipping id lists
between the stores. This store keeps what must be transactional: the definition, one row
per completed refresh, and the entered/left history, unique per (segment, run, person) so
a retried refresh never writes a change twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yunying.db.models import Base, UTCDateTime, _now

SEGMENT_KINDS = ("dynamic", "static", "system")


class Segment(Base):
    """A named set of persons of one project.

    ``kind``: dynamic (recomputed from ``definition`` by a job), static (an uploaded or
    saved list; ``definition`` is ``{}``), system (dynamic, owned by a feature such as
    churn warning through ``system_key``; users cannot delete it).
    """

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("project_id", "system_key", name="uq_segments_system_key"),
        Index("ix_segments_project_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="dynamic")
    system_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    definition: Mapped[str] = mapped_column(Text, default="{}")  # the DSL as JSON
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SegmentRun(Base):
    """One completed refresh (or static upload): the published derived run it diffed."""

    __tablename__ = "segment_runs"
    __table_args__ = (UniqueConstraint("segment_id", "run_id", name="uq_segment_runs_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(BigInteger)  # derived run id of segment:<id>
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    members: Mapped[int] = mapped_column(Integer, default=0)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    left: Mapped[int] = mapped_column(Integer, default=0)


class SegmentChange(Base):
    """A person entering or leaving a segment in one run (membership history)."""

    __tablename__ = "segment_history"
    __table_args__ = (
        UniqueConstraint("segment_id", "run_id", "person_id", name="uq_segment_history_change"),
        Index("ix_segment_history_segment_at", "segment_id", "at"),
        Index("ix_segment_history_person", "segment_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(String(200))
    change: Mapped[str] = mapped_column(String(8))  # "entered" | "left"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    run_id: Mapped[int] = mapped_column(BigInteger)
