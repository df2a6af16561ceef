"""Saved insights: a name plus the query JSON of one metric kind, shared in the project.

The query is stored as the analytics query model's own JSON, so opening a saved insight
runs exactly what was saved; it is re-validated on load, so a model change that makes an
old query invalid shows up as an error on that insight, not as a wrong number.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.registry import load_metric
from yunying.db.insight_models import DashboardTile, SavedInsight
from yunying.insights.errors import InsightError, NotFound
from yunying.store.base import EventStore

# Metric kinds an insight page exists for (analytics registry names).
INSIGHT_KINDS = ("trends", "retention", "funnel", "paths", "lifecycle", "stickiness")
NAME_MAX = 200


def clean_name(name: str, field: str = "name") -> str:
    text = (name or "").strip()
    if not text:
        raise InsightError(field, "required", "must not be empty")
    if len(text) > NAME_MAX:
        raise InsightError(field, "too_long", f"at most {NAME_MAX} characters")
    return text


def query_model(kind: str) -> type[BaseModel]:
    if kind not in INSIGHT_KINDS:
        raise InsightError("kind", "unknown_kind", f"unknown insight kind {kind!r}")
    model, _ = load_metric(kind)
    return model


def parse_query(kind: str, data: str | dict[str, Any]) -> BaseModel:
    """The query model of ``kind`` from JSON text or a dict; InsightError('query') if bad."""
    model = query_model(kind)
    try:
        if isinstance(data, str):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise InsightError("query", "invalid_query", str(exc)) from exc


def run_query(store: EventStore, ctx: ProjectContext, query: BaseModel) -> BaseModel:
    """Run any insight query through the analytics registry."""
    kind = str(getattr(query, "kind", ""))
    _, run = load_metric(kind)
    return run(store, ctx, query)


def _options_json(options: dict[str, Any] | None) -> str:
    return json.dumps(options or {}, ensure_ascii=False, sort_keys=True)


def create_insight(
    session: Session,
    *,
    project_id: int,
    name: str,
    query: BaseModel,
    options: dict[str, Any] | None = None,
    created_by: int | None = None,
) -> SavedInsight:
    """Save ``query``; ``options`` are display choices (chart type, ``range_days``)."""
    kind = str(getattr(query, "kind", ""))
    query_model(kind)
    insight = SavedInsight(
        project_id=project_id,
        name=clean_name(name),
        kind=kind,
        query=query.model_dump_json(),
        options=_options_json(options),
        created_by=created_by,
    )
    session.add(insight)
    session.flush()
    return insight


def get_insight(session: Session, *, project_id: int, insight_id: int) -> SavedInsight:
    insight = session.get(SavedInsight, insight_id)
    if insight is None or insight.project_id != project_id:
        raise NotFound(f"insight {insight_id}")
    return insight


def list_insights(session: Session, *, project_id: int) -> list[SavedInsight]:
    return list(
        session.scalars(
            select(SavedInsight)
            .where(SavedInsight.project_id == project_id)
            .order_by(SavedInsight.updated_at.desc(), SavedInsight.id.desc())
        )
    )


def rename_insight(
    session: Session, *, project_id: int, insight_id: int, name: str
) -> SavedInsight:
    insight = get_insight(session, project_id=project_id, insight_id=insight_id)
    insight.name = clean_name(name)
    insight.updated_at = datetime.now(UTC)
    session.flush()
    return insight


def update_insight_query(
    session: Session,
    *,
    project_id: int,
    insight_id: int,
    query: BaseModel,
    options: dict[str, Any] | None = None,
) -> SavedInsight:
    """Replace the saved query (same kind only: a tile's chart type must not change)."""
    insight = get_insight(session, project_id=project_id, insight_id=insight_id)
    if getattr(query, "kind", None) != insight.kind:
        raise InsightError("kind", "kind_mismatch", "a saved insight keeps its kind")
    insight.query = query.model_dump_json()
    insight.options = _options_json(options)
    insight.updated_at = datetime.now(UTC)
    session.flush()
    return insight


def delete_insight(session: Session, *, project_id: int, insight_id: int) -> None:
    """Delete the insight and unpin it from every dashboard."""
    insight = get_insight(session, project_id=project_id, insight_id=insight_id)
    for tile in session.scalars(
        select(DashboardTile).where(DashboardTile.insight_id == insight.id)
    ):
        session.delete(tile)
    session.delete(insight)
    session.flush()


def insight_options(insight: SavedInsight) -> dict[str, Any]:
    try:
        value = json.loads(insight.options or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def rolling_query(query: BaseModel, range_days: int | None, today: date) -> BaseModel:
    """With ``range_days``, the query's dates become the last N days up to ``today``: a
    saved "last 30 days" insight keeps moving instead of freezing on the day it was saved."""
    if not range_days or not hasattr(query, "date_range"):
        return query
    dr = DateRange(date_from=today - timedelta(days=int(range_days) - 1), date_to=today)
    return query.model_copy(update={"date_range": dr})


def insight_query(insight: SavedInsight, *, today: date | None = None) -> BaseModel:
    """The saved query, with a rolling range moved to ``today`` when one was saved."""
    query = parse_query(insight.kind, insight.query)
    if today is None:
        return query
    return rolling_query(query, insight_options(insight).get("range_days"), today)
