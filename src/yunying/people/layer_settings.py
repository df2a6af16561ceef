"""What the user layers (用户分层) are, as data: activity layer rules and RFM scoring.

Pure pydantic models with the defaults documented in docs/layers.md; each project keeps
its own copy in the operational store (``db/people_models.py``, ``layer_store.py``).
Validation names the offending field, so the API, CLI and console can point at it.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The activity layers in precedence order: a person gets the first layer whose rule holds.
LAYERS = ("recalled", "core", "active", "churn_risk", "silent", "churned")

# The eight RFM groups: key → (R high, F high, M high), Chinese name.
RFM_GROUPS: dict[str, tuple[tuple[bool, bool, bool], str]] = {
    "important_value": ((True, True, True), "重要价值"),
    "important_develop": ((True, False, True), "重要发展"),
    "important_keep": ((False, True, True), "重要保持"),
    "important_retain": ((False, False, True), "重要挽留"),
    "general_value": ((True, True, False), "一般价值"),
    "general_develop": ((True, False, False), "一般发展"),
    "general_keep": ((False, True, False), "一般保持"),
    "general_retain": ((False, False, False), "一般挽留"),
}
GROUP_KEYS = tuple(RFM_GROUPS)

_DAYS = {"ge": 1, "le": 3650}


class ActivitySettings(BaseModel):
    """Rules of the activity layers; "the last N days" = the as-of day and N-1 days before.

    Precedence (first match wins): recalled, core, active, churn_risk, silent, churned.
    """

    model_config = ConfigDict(extra="forbid")

    events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Events that make a person active; empty = any event.",
    )
    core_window_days: int = Field(default=30, **_DAYS, description="Window for core (精英).")
    core_min_days: int = Field(
        default=15, ge=1, le=3650, description="Core: active on at least this many days of it."
    )
    active_days: int = Field(default=7, **_DAYS, description="Active: active in the last N days.")
    churned_days: int = Field(
        default=30, **_DAYS, description="Churned: no activity in the last N days."
    )
    risk_inactive_days: int = Field(
        default=14, **_DAYS, description="Churn risk: no activity in the last N days …"
    )
    risk_prior_days: int = Field(
        default=30, **_DAYS, description="… after activity on enough days of the N days …"
    )
    risk_min_days: int = Field(
        default=5, ge=1, le=3650, description="… namely at least this many (up to last active)."
    )
    recall_lookback_days: int = Field(
        default=7,
        **_DAYS,
        description="Recalled: churned at the snapshot N days before, active again now.",
    )

    @field_validator("events")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or len(name) > 400:
                raise ValueError("event names must have 1 to 400 characters")
        return sorted(set(value))

    @model_validator(mode="after")
    def _consistent(self) -> ActivitySettings:
        if self.core_min_days > self.core_window_days:
            raise ValueError("core_min_days must not exceed core_window_days")
        if self.active_days >= self.churned_days:
            raise ValueError("active_days must be less than churned_days")
        if not self.active_days <= self.risk_inactive_days < self.churned_days:
            raise ValueError(
                "risk_inactive_days must be at least active_days and less than churned_days"
            )
        if self.risk_min_days > self.risk_prior_days:
            raise ValueError("risk_min_days must not exceed risk_prior_days")
        return self

    def lookback_days(self) -> int:
        """How many days before an as-of date need day-level activity (see layers.py)."""
        return max(
            self.core_window_days - 1,
            self.churned_days + self.risk_prior_days - 2,
            self.recall_lookback_days - 1,
        )


def _ascending(name: str, value: list[float]) -> list[float]:
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ValueError(f"{name} must be strictly ascending")
    return value


class RfmSettings(BaseModel):
    """RFM from purchase events: window, scoring (quantiles or thresholds), high/low split."""

    model_config = ConfigDict(extra="forbid")

    purchase_event: str = Field(default="purchase", min_length=1, max_length=400)
    revenue_property: str | None = Field(
        default=None,
        min_length=1,
        max_length=400,
        description="Event property holding the amount; default: the project's.",
    )
    window_days: int = Field(default=365, **_DAYS, description="Purchases in the last N days.")
    scoring: Literal["quantile", "threshold"] = "quantile"
    recency_thresholds: list[int] = Field(
        default_factory=lambda: [7, 30, 90, 180],
        min_length=4,
        max_length=4,
        description="Days: R=5 up to the first, … R=1 beyond the last.",
    )
    frequency_thresholds: list[float] = Field(
        default_factory=lambda: [2, 3, 5, 10],
        min_length=4,
        max_length=4,
        description="Purchases: F = 1 + how many thresholds are reached.",
    )
    monetary_thresholds: list[float] = Field(
        default_factory=lambda: [100, 300, 1000, 3000],
        min_length=4,
        max_length=4,
        description="Revenue: M = 1 + how many thresholds are reached.",
    )
    split: Literal["mean", "median"] = Field(
        default="mean", description="A score is high when above the mean (or median) score."
    )

    @field_validator("recency_thresholds")
    @classmethod
    def _r(cls, value: list[int]) -> list[int]:
        if any(v < 0 for v in value):
            raise ValueError("recency thresholds must not be negative")
        _ascending("recency_thresholds", [float(v) for v in value])
        return value

    @field_validator("frequency_thresholds", "monetary_thresholds")
    @classmethod
    def _fm(cls, value: list[float]) -> list[float]:
        if any(v != v or v in (float("inf"), float("-inf")) for v in value):
            raise ValueError("thresholds must be finite numbers")
        return _ascending("thresholds", value)


class LayerSettings(BaseModel):
    """Everything a project configures about its layers (stored as one JSON document)."""

    model_config = ConfigDict(extra="forbid")

    activity: ActivitySettings = Field(default_factory=ActivitySettings)
    rfm: RfmSettings = Field(default_factory=RfmSettings)


def group_of(r_high: bool, f_high: bool, m_high: bool) -> str:
    """The RFM group key for a high/low pattern (pure; used by tests and docs)."""
    for key, (pattern, _) in RFM_GROUPS.items():
        if pattern == (r_high, f_high, m_high):
            return key
    raise AssertionError("unreachable: the eight patterns are complete")
