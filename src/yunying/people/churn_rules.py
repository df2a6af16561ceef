"""Warning-line rules (流失预警线): "inactive for X days after being active on >= Y of the
previous N days", evaluated in SQL as of any day, on both engines.

For a rule and an as-of local day D (project time zone, inclusive):
- the *quiet window* is the X days D-X+1 … D: the person must have no activity there;
- the *lookback window* is the N days before it, D-X-N+1 … D-X: the person must have been
  active (any counting event) on at least Y distinct local days there.

Activity is every event, or only the rule's ``events`` (and event-property ``filters``).
Persons are resolved through identity merges at query time (``analytics.source``), so the
days of an anonymous id merged into a user count for that user.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pyarrow as pa
from pydantic import BaseModel, Field, field_validator, model_validator

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_RULES = 20


class WarningRule(BaseModel):
    """One warning line. ``key`` names it in published values and counts."""

    key: str = Field(min_length=1, max_length=40, description="Lower-case id: a-z, 0-9, _ or -.")
    name: str = Field(min_length=1, max_length=200)
    inactive_days: int = Field(ge=1, le=365, description="X: days without activity up to D.")
    lookback_days: int = Field(
        default=30, ge=1, le=365, description="N: days before the quiet ones."
    )
    min_active_days: int = Field(ge=1, le=365, description="Y: active days needed in those N.")
    events: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Events that count as activity (empty: every event).",
    )
    filters: list[PropertyFilter] = Field(
        default_factory=list, max_length=20, description="Event-property filters on activity."
    )
    enabled: bool = True

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '_' or '-' (max 40)")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        if any(not e or len(e) > 400 for e in v):
            raise ValueError("event names must have 1 to 400 characters")
        return v

    @field_validator("filters")
    @classmethod
    def _event_filters(cls, v: list[PropertyFilter]) -> list[PropertyFilter]:
        if any(f.type != "event" for f in v):
            raise ValueError("only event-property filters apply to activity")
        return v

    @model_validator(mode="after")
    def _fits(self) -> WarningRule:
        if self.min_active_days > self.lookback_days:
            raise ValueError("min_active_days cannot exceed lookback_days")
        return self

    def windows(self, as_of: date) -> tuple[date, date, date]:
        """(lookback start, lookback end, quiet start); the quiet window ends at ``as_of``."""
        quiet_start = as_of - timedelta(days=self.inactive_days - 1)
        lookback_end = quiet_start - timedelta(days=1)
        lookback_start = lookback_end - timedelta(days=self.lookback_days - 1)
        return lookback_start, lookback_end, quiet_start


class WarningRules(BaseModel):
    """The ordered rules of a project: a person matching several is labelled by the first."""

    rules: list[WarningRule] = Field(default_factory=list, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _unique(self) -> WarningRules:
        keys = [r.key for r in self.rules]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"rule keys must be unique; repeated: {', '.join(dupes)}")
        return self


DEFAULT_RULES = WarningRules(
    rules=[
        WarningRule(
            key="default",
            name="Quiet 7 days after 4+ active days in 30",
            inactive_days=7,
            lookback_days=30,
            min_active_days=4,
        )
    ]
)


def rule_sql(store: EventStore, ctx: ProjectContext, rule: WarningRule, as_of: date) -> str:
    """SELECT pid, prior_days for persons over ``rule``'s line as of ``as_of``."""
    d = store.dialect
    lookback_start, lookback_end, _ = rule.windows(as_of)
    start, end = ctx.day_range_utc(lookback_start, as_of)
    day = d.local_date("e.ts", ctx.timezone)
    source = events_sql(
        d,
        ctx,
        start=start,
        end=end,
        event_names=rule.events or None,
        filters=rule.filters,
        columns=[f"{day} AS day"],
    )
    boundary = d.date_lit(lookback_end)
    prior = d.count_distinct(f"CASE WHEN a.day <= {boundary} THEN a.day END")
    return (
        f"SELECT a.pid AS pid, {prior} AS prior_days, "
        f"sum(CASE WHEN a.day > {boundary} THEN 1 ELSE 0 END) AS recent_events "
        f"FROM ({source}) a GROUP BY a.pid"
    )


def evaluate_rule(
    store: EventStore, ctx: ProjectContext, rule: WarningRule, as_of: date
) -> list[str]:
    """Person ids over ``rule``'s warning line as of local day ``as_of`` (sorted)."""
    inner = rule_sql(store, ctx, rule, as_of)
    sql = (
        f"SELECT r.pid AS pid FROM ({inner}) r "
        f"WHERE r.recent_events = 0 AND r.prior_days >= {int(rule.min_active_days)} "
        f"ORDER BY r.pid{store.dialect.settings_suffix()}"
    )
    return [str(p) for p in store.query(sql).column("pid").to_pylist() if p is not None]


def evaluate_rules(
    store: EventStore, ctx: ProjectContext, rules: WarningRules, as_of: date
) -> tuple[pa.Table, dict[str, int]]:
    """(person_id, value_num=1, value_str=rule key) for every person over a line, and the
    number of persons over each enabled rule's line (a person may count for several)."""
    assigned: dict[str, str] = {}
    counts: dict[str, int] = {}
    for rule in rules.rules:
        if not rule.enabled:
            continue
        persons = evaluate_rule(store, ctx, rule, as_of)
        counts[rule.key] = len(persons)
        for p in persons:
            assigned.setdefault(p, rule.key)
    ids = sorted(assigned)
    table = pa.table(
        {
            "person_id": pa.array(ids, pa.string()),
            "value_num": pa.array([1.0] * len(ids), pa.float64()),
            "value_str": pa.array([assigned[i] for i in ids], pa.string()),
        }
    )
    return table, counts
