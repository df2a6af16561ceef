"""Profiles (用户画像): everything known about one person in one answer.

Built on the person page's base profile (``insights.people.person_profile``: properties,
ids, first/last seen, activity calendar, recent events) plus:

- first and last touch (``analytics.attribution``), active days and event counts by type;
- the lifecycle stage now, with ``analytics.lifecycle``'s definitions over any event:
  *new* (this is the person's first active period), *returning* (active this period and
  the previous one), *resurrecting* (active now, not in the previous period, but before),
  *dormant* (not active this period; ``inactive_periods`` says for how many — lifecycle
  counts only the first of them, the profile keeps saying dormant);
- what jobs derived for the person (``store.derived``): activity layer, RFM group, churn
  risk, P(alive), churn warning and segment memberships, each only when a run exists.

Points (积分) and messages received (站内信) come with later features; they are left out
until they exist rather than shown as empty.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yunying.analytics.attribution import PersonAttribution, person_attribution_from_where
from yunying.analytics.context import ProjectContext
from yunying.analytics.periods import period_of, shift_period
from yunying.insights.people import PersonProfile, person_profile, person_scope
from yunying.store.base import EventStore, rows

log = logging.getLogger(__name__)

Stage = Literal["new", "returning", "resurrecting", "dormant"]
Interval = Literal["day", "week", "month"]
SEGMENT_PREFIX = "segment:"
# Derived value names shared by the people helpers (see store/derived.py).
ACTIVITY_LAYER = "layer:activity"
RFM_GROUP = "rfm:group"
CHURN_RISK = "score:churn_risk"
P_ALIVE = "score:p_alive"
EXPECTED_PURCHASES = "score:expected_purchases_30d"
CHURN_WARNING = "churn:warning"
DERIVED_NAMES = (ACTIVITY_LAYER, RFM_GROUP, CHURN_RISK, P_ALIVE, EXPECTED_PURCHASES, CHURN_WARNING)
MAX_EVENT_TYPES = 100


class EventCount(BaseModel):
    event: str
    count: int


class LifecycleStage(BaseModel):
    interval: Interval
    period: date = Field(description="Start of the current period (the one holding today).")
    stage: Stage | None = Field(description="None only for a person without events.")
    inactive_periods: int = Field(description="Whole periods since the last active one.")


class SegmentMembership(BaseModel):
    segment_id: str
    name: str | None = Field(description="None when the segment's definition is unknown.")
    kind: str | None = None


class Profile(PersonProfile):
    """The person page and ``GET /api/projects/{id}/people/{person}``."""

    attribution: PersonAttribution
    event_counts: list[EventCount] = Field(description="Events by name, most frequent first.")
    lifecycle: LifecycleStage
    activity_layer: str | None = Field(default=None, description="Derived ``layer:activity``.")
    rfm_group: str | None = Field(default=None, description="Derived ``rfm:group``.")
    churn_risk: float | None = Field(default=None, description="``score:churn_risk`` (0..1).")
    p_alive: float | None = Field(default=None, description="BG/NBD ``score:p_alive``.")
    expected_purchases_30d: float | None = None
    churn_warning: str | None = Field(default=None, description="Warning-line rule, if over.")
    segments: list[SegmentMembership] = Field(default_factory=list)
    # Later issues add points (积分) and messages received here; absent until they exist.


def lifecycle_stage(
    active_days: set[date], today: date, interval: Interval = "week", week_start: int = 1
) -> LifecycleStage:
    """The stage of the period holding ``today``, from the local days with activity."""
    now = period_of(today, interval, week_start)
    periods = {period_of(d, interval, week_start) for d in active_days if d <= today}
    if not periods:
        return LifecycleStage(interval=interval, period=now, stage=None, inactive_periods=0)
    previous = shift_period(now, interval, -1)
    stage: Stage
    if now in periods:
        if min(periods) == now:
            stage = "new"
        elif previous in periods:
            stage = "returning"
        else:
            stage = "resurrecting"
        inactive = 0
    else:
        stage = "dormant"
        last, inactive = max(periods), 0
        p = now
        while p > last:
            inactive += 1
            p = shift_period(p, interval, -1)
    return LifecycleStage(interval=interval, period=now, stage=stage, inactive_periods=inactive)


def derived_values(
    store: EventStore, project_id: int, person_id: str
) -> dict[str, tuple[float | None, str | None]]:
    """name → (value_num, value_str) of every derived value the person has in the newest
    published run of each name; {} when no job has written any yet."""
    d = store.dialect
    names = ", ".join(d.str_lit(n) for n in DERIVED_NAMES)
    project = int(project_id)
    sql = (
        "SELECT v.name AS vname, v.value_num AS vnum, v.value_str AS vstr "
        "FROM person_values v INNER JOIN ("
        "SELECT name AS rname, max(run_id) AS rid FROM derived_runs "
        f"WHERE project_id = {project} AND (name IN ({names}) "
        f"OR name LIKE {d.str_lit(SEGMENT_PREFIX + '%')}) GROUP BY name"
        ") r ON v.name = r.rname AND v.run_id = r.rid "
        f"WHERE v.project_id = {project} AND v.person_id = {d.str_lit(person_id)}"
    )
    try:
        found = rows(store.query(sql))
    except Exception as exc:  # the derived tables exist only once a job has run
        if "person_values" in str(exc) or "derived_runs" in str(exc):
            return {}
        raise
    return {str(r["vname"]): (r["vnum"], r["vstr"]) for r in found}


def segment_memberships(
    values: dict[str, tuple[float | None, str | None]],
    project_id: int,
    session: Session | None,
) -> list[SegmentMembership]:
    """The person's segments (value_num 1), named from the operational store when given;
    a segment deleted there is left out."""
    ids = sorted(
        (name.removeprefix(SEGMENT_PREFIX) for name, (num, _) in values.items()
         if name.startswith(SEGMENT_PREFIX) and (num is None or num >= 1)),
        key=lambda s: (len(s), s),
    )  # fmt: skip
    if not ids:
        return []
    known = _segment_rows(session, project_id, ids)
    if known is None:
        return [SegmentMembership(segment_id=i, name=None) for i in ids]
    return [
        SegmentMembership(segment_id=i, name=known[i][0], kind=known[i][1])
        for i in ids
        if i in known
    ]


def _segment_rows(
    session: Session | None, project_id: int, ids: list[str]
) -> dict[str, tuple[str, str]] | None:
    """id → (name, kind) from ``segments``; None when the names cannot be looked up."""
    if session is None:
        return None
    try:
        from sqlalchemy import select

        from yunying.db.segment_models import Segment
    except ImportError:  # pragma: no cover - the segments feature is not installed
        return None
    numeric = [int(i) for i in ids if i.isdigit()]
    if not numeric:
        return {}
    found = session.execute(
        select(Segment.id, Segment.name, Segment.kind).where(
            Segment.project_id == project_id, Segment.id.in_(numeric)
        )
    ).all()
    return {str(r.id): (str(r.name), str(r.kind)) for r in found}


def _num(values: dict[str, tuple[float | None, str | None]], name: str) -> float | None:
    v = values.get(name)
    return None if v is None or v[0] is None else float(v[0])


def _str(values: dict[str, tuple[float | None, str | None]], name: str) -> str | None:
    v = values.get(name)
    return None if v is None else v[1]


def _warning(values: dict[str, tuple[float | None, str | None]]) -> str | None:
    """The warning-line rule the person is over (value_num 1), else None."""
    v = values.get(CHURN_WARNING)
    if v is None or v[0] == 0:
        return None
    return v[1] or "warning"


def full_profile(
    store: EventStore,
    ctx: ProjectContext,
    person_id: str,
    *,
    session: Session | None = None,
    today: date | None = None,
    lifecycle_interval: Interval = "week",
    conversion_event: str | None = None,
    recent: int = 50,
) -> Profile:
    """The whole profile; NotFound for an id unknown in the project."""
    d = store.dialect
    day = today or ctx.today()
    ids, where = person_scope(store, ctx, person_id)
    base = person_profile(store, ctx, person_id, today=day, scope=(ids, where), recent=recent)
    local_day = d.local_date("e.timestamp", ctx.timezone)
    days = {
        r["day"]
        for r in rows(
            store.query(f"SELECT DISTINCT {local_day} AS day FROM events e WHERE {where}")
        )
    }
    counts = rows(
        store.query(
            f"SELECT e.event AS name, count(*) AS n FROM events e WHERE {where} "
            f"GROUP BY e.event ORDER BY n DESC, name LIMIT {MAX_EVENT_TYPES}"
        )
    )
    attribution = person_attribution_from_where(
        store, ctx, person_id, where, conversion_event=conversion_event, until=day
    )
    values = derived_values(store, ctx.project_id, person_id)
    extra: dict[str, Any] = {
        "activity_layer": _str(values, ACTIVITY_LAYER),
        "rfm_group": _str(values, RFM_GROUP),
        "churn_risk": _num(values, CHURN_RISK),
        "p_alive": _num(values, P_ALIVE),
        "expected_purchases_30d": _num(values, EXPECTED_PURCHASES),
        "churn_warning": _warning(values),
    }
    return Profile(
        **base.model_dump(),
        attribution=attribution,
        event_counts=[EventCount(event=str(r["name"]), count=int(r["n"])) for r in counts],
        lifecycle=lifecycle_stage(days, day, lifecycle_interval, ctx.week_start),
        segments=segment_memberships(values, ctx.project_id, session),
        **extra,
    )
