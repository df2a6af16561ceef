"""Churn warning services: what the API, CLI, console and jobs call (one function each).

Each function takes the operational-store session, the event store and the project's
``ProjectContext`` as keywords, does one piece of work, publishes its per-person values
through ``store.derived`` and records what it did (counts, reports) in the operational
store.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.people import churn_model
from yunying.people.bgnbd_service import EXPECTED_30D, P_ALIVE, BgNbdReport, fit_and_publish
from yunying.people.churn_config import latest_report, load_config, record_counts, record_report
from yunying.people.churn_model import ScoreReport, TrainReport
from yunying.people.churn_rules import evaluate_rules
from yunying.store import derived
from yunying.store.base import EventStore

WARNING = "churn:warning"
CHURN_RISK = "score:churn_risk"
SEGMENT_KEY = "churn_risk"
SEGMENT_NAME = "流失风险 Churn risk"  # operators read either language


class WarningResult(BaseModel):
    as_of: date
    total: int  # persons over any line (each once, labelled by the first matching rule)
    counts: dict[str, int]  # persons over each rule's line
    run_id: int


class WarnedPerson(BaseModel):
    person_id: str
    rule: str
    churn_risk: float | None = None


class WarnedPage(BaseModel):
    total: int
    limit: int
    offset: int
    persons: list[WarnedPerson]


class RiskyPerson(BaseModel):
    person_id: str
    churn_risk: float
    warning_rule: str | None = None


class PersonScores(BaseModel):
    person_id: str
    churn_risk: float | None = None
    p_alive: float | None = None
    expected_purchases_30d: float | None = None
    warning_rule: str | None = None


def evaluate_warning(
    *, session: Session, store: EventStore, ctx: ProjectContext, as_of: date | None = None
) -> WarningResult:
    """Publish ``churn:warning`` as of ``as_of`` (default today) and keep the counts."""
    day = as_of or ctx.today()
    config = load_config(session, ctx.project_id)
    table, counts = evaluate_rules(store, ctx, config.rules, day)
    run = derived.write_values(store, ctx.project_id, WARNING, table)
    derived.prune(store, ctx.project_id, WARNING)
    record_counts(session, ctx.project_id, day, counts)
    return WarningResult(as_of=day, total=table.num_rows, counts=counts, run_id=run.run_id)


def _value_join(store: EventStore, project_id: int, name: str, alias: str) -> str:
    return f"LEFT JOIN ({derived.values_sql(store.dialect, project_id, name)}) {alias}"


def warned_persons(
    *, store: EventStore, project_id: int, limit: int = 50, offset: int = 0, rule: str | None = None
) -> WarnedPage:
    """Persons over the line in the newest evaluation, highest churn risk first."""
    derived.ensure_tables(store)
    d = store.dialect
    where = f"WHERE w.value_str = {d.str_lit(rule)}" if rule else ""
    warned = f"({derived.values_sql(d, project_id, WARNING)}) w"
    total = store.query(f"SELECT count(*) AS n FROM {warned} {where}").column("n")[0].as_py()
    rows = store.query(
        f"SELECT w.person_id AS person_id, w.value_str AS rule, s.value_num AS risk "
        f"FROM {warned} {_value_join(store, project_id, CHURN_RISK, 's')} "
        f"ON s.person_id = w.person_id {where} "
        f"ORDER BY coalesce(s.value_num, -1) DESC, w.person_id "
        f"LIMIT {int(limit)} OFFSET {int(offset)}{d.settings_suffix()}"
    ).to_pylist()
    persons = [
        WarnedPerson(person_id=r["person_id"], rule=r["rule"] or "", churn_risk=r["risk"])
        for r in rows
    ]
    return WarnedPage(total=int(total or 0), limit=limit, offset=offset, persons=persons)


def at_risk_persons(
    *, store: EventStore, project_id: int, limit: int = 50, offset: int = 0
) -> list[RiskyPerson]:
    """Scored persons, highest churn risk first."""
    derived.ensure_tables(store)
    d = store.dialect
    rows = store.query(
        f"SELECT s.person_id AS person_id, s.value_num AS risk, w.value_str AS rule "
        f"FROM ({derived.values_sql(d, project_id, CHURN_RISK)}) s "
        f"{_value_join(store, project_id, WARNING, 'w')} ON w.person_id = s.person_id "
        f"ORDER BY s.value_num DESC, s.person_id LIMIT {int(limit)} OFFSET {int(offset)}"
        f"{d.settings_suffix()}"
    ).to_pylist()
    return [
        RiskyPerson(person_id=r["person_id"], churn_risk=float(r["risk"]), warning_rule=r["rule"])
        for r in rows
    ]


def person_scores(*, store: EventStore, project_id: int, person_id: str) -> PersonScores:
    derived.ensure_tables(store)
    d = store.dialect
    out: dict[str, Any] = {"person_id": person_id}
    for field, name, column in (
        ("churn_risk", CHURN_RISK, "value_num"),
        ("p_alive", P_ALIVE, "value_num"),
        ("expected_purchases_30d", EXPECTED_30D, "value_num"),
        ("warning_rule", WARNING, "value_str"),
    ):
        rows = store.query(
            f"SELECT v.{column} AS v FROM ({derived.values_sql(d, project_id, name)}) v "
            f"WHERE v.person_id = {d.str_lit(person_id)} LIMIT 1"
        ).to_pylist()
        out[field] = rows[0]["v"] if rows else None
    return PersonScores(**out)


def train_model(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    data_dir: Path,
    today: date | None = None,
) -> TrainReport:
    """Train and keep the classifier; the report is stored as the newest model card."""
    settings = load_config(session, ctx.project_id).settings
    bundle, report = churn_model.train(
        store,
        ctx,
        today=today or ctx.today(),
        horizon_days=settings.horizon_days,
        population_days=settings.population_days,
    )
    churn_model.save_model(data_dir, ctx.project_id, bundle)
    record_report(session, ctx.project_id, "classifier", report)
    return report


def score_persons(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    data_dir: Path,
    as_of: date | None = None,
) -> ScoreReport:
    """Score the population with the kept model, publish ``score:churn_risk`` and refresh
    the "churn risk" segment."""
    started = time.perf_counter()
    day = as_of or ctx.today()
    settings = load_config(session, ctx.project_id).settings
    bundle = churn_model.load_model(data_dir, ctx.project_id)
    scores = churn_model.score(store, ctx, bundle, as_of=day)
    run = derived.write_values(store, ctx.project_id, CHURN_RISK, scores)
    derived.prune(store, ctx.project_id, CHURN_RISK)
    report = churn_model.summarise_scores(scores, as_of=day, threshold=settings.risk_threshold)
    report.run_id = run.run_id
    report.seconds = round(time.perf_counter() - started, 3)
    record_report(session, ctx.project_id, "scoring", report)
    refresh_risk_segment(session=session, store=store, ctx=ctx, threshold=settings.risk_threshold)
    return report


def fit_bgnbd(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    as_of: date | None = None,
    publish: bool = True,
) -> BgNbdReport:
    settings = load_config(session, ctx.project_id).settings
    report = fit_and_publish(store, ctx, settings, as_of=as_of or ctx.today(), publish=publish)
    if publish:
        record_report(session, ctx.project_id, "bgnbd", report)
    return report


def model_card(*, session: Session, project_id: int) -> dict[str, Any]:
    """The newest classifier, scoring and BG/NBD reports (None where there is none yet)."""
    return {
        "classifier": latest_report(session, project_id, "classifier"),
        "scoring": latest_report(session, project_id, "scoring"),
        "bgnbd": latest_report(session, project_id, "bgnbd"),
    }


def segment_definition(threshold: float) -> dict[str, Any]:
    """The DSL of the "churn risk" segment: ``score:churn_risk`` >= threshold."""
    return {"type": "score", "name": "churn_risk", "operator": "gte", "value": float(threshold)}


def refresh_risk_segment(
    *, session: Session, store: EventStore, ctx: ProjectContext, threshold: float
) -> int:
    """Keep the system segment "churn risk" at the configured threshold and recompute it
    from the newest ``score:churn_risk`` run; returns the segment id."""
    from yunying.people.segments.service import ensure_system_segment, refresh_segment

    segment = ensure_system_segment(
        session=session,
        project_id=ctx.project_id,
        key=SEGMENT_KEY,
        name=SEGMENT_NAME,
        definition=segment_definition(threshold),
    )
    refresh_segment(session=session, store=store, ctx=ctx, segment_id=segment.id)
    return segment.id
