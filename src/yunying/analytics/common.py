"""Pieces every metric query shares: date ranges, event selectors, breakdowns."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter

Interval = Literal["day", "week", "month"]


class DateRange(BaseModel):
    """Local calendar dates in the project's time zone, both ends inclusive.

    Missing ends default to the last 30 days up to today (project time zone).
    """

    date_from: date | None = Field(default=None, description="First local day (inclusive).")
    date_to: date | None = Field(default=None, description="Last local day (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def resolve(self, ctx: ProjectContext, default_days: int = 30) -> tuple[date, date]:
        end = self.date_to or ctx.today()
        start = self.date_from or end - timedelta(days=default_days - 1)
        return start, end


class EventSelector(BaseModel):
    """An event name plus property filters (a series in trends, a step in a funnel)."""

    event: str = Field(min_length=1, max_length=400)
    filters: list[PropertyFilter] = Field(default_factory=list)
    name: str | None = Field(default=None, description="Label shown for this series/step.")

    @property
    def label(self) -> str:
        return self.name or self.event


class Breakdown(BaseModel):
    """Split results by one property of the event (``type='event'``) or person."""

    property: str = Field(min_length=1, max_length=400)
    type: Literal["event", "person"] = "event"
    limit: int = Field(default=25, ge=1, le=1000, description="Top values kept; rest → '$other'.")


OTHER = "$other"
NONE = "$none"
