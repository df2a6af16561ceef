"""A project's churn configuration (rules and model settings), kept in the operational
store as JSON of ``ChurnConfig``, plus the history of fits and warning counts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yunying.db.churn_models import ChurnModelRun, ChurnSettings, ChurnWarningCount
from yunying.people.churn_rules import DEFAULT_RULES, WarningRules

ReportKind = Literal["classifier", "scoring", "bgnbd", "warning"]


class ModelSettings(BaseModel):
    """How the classifier and BG/NBD run for a project."""

    horizon_days: int = Field(
        default=14, ge=1, le=90, description="Churned = no activity in the next H days."
    )
    population_days: int = Field(
        default=30, ge=1, le=365, description="Persons active in these last days are scored."
    )
    risk_threshold: float = Field(
        default=0.7, ge=0.0, le=1.0, description="churn_risk >= this: the 'churn risk' segment."
    )
    purchase_event: str = Field(
        default="purchase", min_length=1, max_length=400, description="BG/NBD purchase event."
    )
    time_unit: Literal["day", "week"] = Field(default="week", description="BG/NBD time unit.")


class ChurnConfig(BaseModel):
    rules: WarningRules = Field(default_factory=lambda: DEFAULT_RULES.model_copy(deep=True))
    settings: ModelSettings = Field(default_factory=ModelSettings)


def load_config(session: Session, project_id: int) -> ChurnConfig:
    row = session.get(ChurnSettings, project_id)
    if row is None:
        return ChurnConfig()
    return ChurnConfig.model_validate_json(row.config)


def save_config(
    session: Session, project_id: int, config: ChurnConfig, *, user_id: int | None = None
) -> ChurnConfig:
    row = session.get(ChurnSettings, project_id)
    if row is None:
        row = ChurnSettings(project_id=project_id, config="")
        session.add(row)
    row.config = config.model_dump_json()
    row.updated_at = datetime.now(UTC)
    row.updated_by = user_id
    session.flush()
    return config


def save_rules(
    session: Session, project_id: int, rules: WarningRules, *, user_id: int | None = None
) -> WarningRules:
    config = load_config(session, project_id)
    save_config(session, project_id, config.model_copy(update={"rules": rules}), user_id=user_id)
    return rules


def save_settings(
    session: Session, project_id: int, settings: ModelSettings, *, user_id: int | None = None
) -> ModelSettings:
    config = load_config(session, project_id)
    update = {"settings": settings}
    save_config(session, project_id, config.model_copy(update=update), user_id=user_id)
    return settings


# ---- history ---------------------------------------------------------------------------


def record_counts(session: Session, project_id: int, as_of: date, counts: dict[str, int]) -> None:
    """Store the persons per rule as of ``as_of``, replacing an earlier evaluation of it."""
    session.execute(
        delete(ChurnWarningCount).where(
            ChurnWarningCount.project_id == project_id, ChurnWarningCount.as_of == as_of
        )
    )
    for key, n in counts.items():
        session.add(ChurnWarningCount(project_id=project_id, as_of=as_of, rule_key=key, persons=n))
    session.flush()


def count_history(
    session: Session, project_id: int, *, limit_days: int = 90
) -> list[dict[str, Any]]:
    """[{as_of, rule_key, persons}] for the newest ``limit_days`` evaluated days, oldest first."""
    days = (
        session.execute(
            select(ChurnWarningCount.as_of)
            .where(ChurnWarningCount.project_id == project_id)
            .distinct()
            .order_by(ChurnWarningCount.as_of.desc())
            .limit(limit_days)
        )
        .scalars()
        .all()
    )
    if not days:
        return []
    rows = session.execute(
        select(ChurnWarningCount)
        .where(ChurnWarningCount.project_id == project_id, ChurnWarningCount.as_of.in_(days))
        .order_by(ChurnWarningCount.as_of, ChurnWarningCount.rule_key)
    ).scalars()
    return [{"as_of": r.as_of, "rule_key": r.rule_key, "persons": r.persons} for r in rows]


def record_report(session: Session, project_id: int, kind: ReportKind, report: BaseModel) -> int:
    row = ChurnModelRun(project_id=project_id, kind=kind, report=report.model_dump_json())
    session.add(row)
    session.flush()
    return row.id


def latest_report(session: Session, project_id: int, kind: ReportKind) -> dict[str, Any] | None:
    """The newest report of ``kind`` as a dict with ``created_at`` added, or None."""
    row = session.execute(
        select(ChurnModelRun)
        .where(ChurnModelRun.project_id == project_id, ChurnModelRun.kind == kind)
        .order_by(ChurnModelRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    data: dict[str, Any] = json.loads(row.report)
    data["created_at"] = row.created_at
    return data
