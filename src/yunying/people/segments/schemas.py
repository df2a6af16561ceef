"""The public shapes of segments (API bodies and answers, CLI JSON output)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from yunying.db.segment_models import Segment, SegmentChange, SegmentRun


class SegmentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    kind: Literal["dynamic", "static"] = "dynamic"
    definition: dict[str, Any] | None = Field(
        default=None, description="The DSL (docs/segments.md); required for dynamic segments."
    )


class SegmentUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    definition: dict[str, Any] | None = None


class PreviewRequest(BaseModel):
    definition: dict[str, Any] = Field(description="A draft definition (DSL).")
    sample: int = Field(default=20, ge=1, le=100, description="How many person ids to return.")


class PreviewPublic(BaseModel):
    count: int = Field(description="Persons matching the draft now.")
    sample: list[str] = Field(description="The first person ids, sorted.")


class SegmentPublic(BaseModel):
    id: int
    project_id: int
    name: str
    description: str
    kind: str = Field(description="dynamic, static or system.")
    system_key: str | None
    definition: dict[str, Any] | None = Field(description="The DSL; null for static lists.")
    created_at: datetime
    updated_at: datetime
    last_refreshed_at: datetime | None
    last_count: int | None = Field(description="Members at the last refresh or upload.")

    @classmethod
    def of(cls, s: Segment) -> SegmentPublic:
        return cls(
            id=s.id,
            project_id=s.project_id,
            name=s.name,
            description=s.description or "",
            kind=s.kind,
            system_key=s.system_key,
            definition=None if s.kind == "static" else json.loads(s.definition),
            created_at=s.created_at,
            updated_at=s.updated_at,
            last_refreshed_at=s.last_refreshed_at,
            last_count=s.last_count,
        )


class RefreshPublic(BaseModel):
    segment_id: int
    run_id: int
    members: int
    entered: int
    left: int
    at: datetime


class MembersPublic(BaseModel):
    person_ids: list[str]
    total: int
    limit: int
    offset: int
    refreshed_at: datetime | None


class ImportPublic(BaseModel):
    column: str = Field(description="The id column the file used: person_id or distinct_id.")
    rows: int
    matched: int
    unknown: list[str] = Field(description="Ids the project does not know (first 1000).")
    unknown_count: int
    refresh: RefreshPublic


class RunPublic(BaseModel):
    run_id: int
    at: datetime
    members: int
    entered: int
    left: int

    @classmethod
    def of(cls, r: SegmentRun) -> RunPublic:
        return cls(run_id=r.run_id, at=r.at, members=r.members, entered=r.entered, left=r.left)


class ChangePublic(BaseModel):
    person_id: str
    change: str = Field(description="entered or left")
    at: datetime
    run_id: int

    @classmethod
    def of(cls, c: SegmentChange) -> ChangePublic:
        return cls(person_id=c.person_id, change=c.change, at=c.at, run_id=c.run_id)


class HistoryPublic(BaseModel):
    runs: list[RunPublic] = Field(description="Completed refreshes, oldest first.")
    changes: list[ChangePublic] = Field(description="Entered/left rows, newest first.")
