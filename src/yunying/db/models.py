"""Operational-state tables. Schema changes go through Alembic migrations only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite returns naive values, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    week_start: Mapped[int] = mapped_column(Integer, default=1)  # ISO weekday: 1 Mon, 7 Sun
    activation_event: Mapped[str | None] = mapped_column(String(400), nullable=True)
    revenue_property: Mapped[str] = mapped_column(String(400), default="$revenue")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="project")


class ApiKey(Base):
    """A project key. Public keys (ingest only) are kept readable: they ship inside apps.

    Secret keys are stored as a SHA-256 digest and shown once at creation.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("lookup", name="uq_api_keys_lookup"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "public" | "secret"
    name: Mapped[str] = mapped_column(String(200), default="")
    lookup: Mapped[str] = mapped_column(String(64))  # sha256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, for display
    public_token: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    project: Mapped[Project] = relationship(back_populates="api_keys")
