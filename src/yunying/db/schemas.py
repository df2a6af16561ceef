"""Pydantic views of projects and keys: what callers send and what they get back.

Validation lives here (and in ``projects``) rather than in the HTTP or CLI shells, so a
bad time zone gets the same message wherever it comes from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yunying.db.projects import validate_timezone, validate_week_start


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    timezone: str = Field(description="IANA zone that decides day/week/month boundaries.")
    week_start: int = Field(description="ISO weekday weeks start on: 1 Monday, 7 Sunday.")
    activation_event: str | None = Field(description="Event that counts as activation (AARRR).")
    revenue_property: str = Field(description="Event property holding revenue.")
    created_at: datetime


class ProjectUpdate(BaseModel):
    """Settings that may change after creation; fields left out are kept."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, examples=["Asia/Shanghai"])
    week_start: int | None = Field(default=None, description="1 (Monday) or 7 (Sunday).")
    activation_event: str | None = Field(
        default=None, max_length=400, description="Empty string clears it."
    )
    revenue_property: str | None = Field(default=None, min_length=1, max_length=400)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _strip_field(validate_timezone, v)

    @field_validator("week_start")
    @classmethod
    def _week(cls, v: int | None) -> int | None:
        return None if v is None else _strip_field(validate_week_start, v)

    @field_validator("name", "revenue_property")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v.strip() if v is not None else None


def _strip_field(check, value):  # type: ignore[no-untyped-def]
    """Run a ``projects`` validator; pydantic already names the field, so drop the prefix."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


class ApiKeyPublic(BaseModel):
    """A key as listed: public keys in full (they ship in apps), secret keys by prefix."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Literal["public", "secret"]
    name: str
    prefix: str
    token: str | None = Field(default=None, description="Full key (public keys only).")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["public", "secret"] = "secret"
    name: str = Field(default="", max_length=200)


class ApiKeyCreated(BaseModel):
    """Returned once, at creation: the only time a secret key's text is shown."""

    id: int
    kind: Literal["public", "secret"]
    name: str
    token: str
